/**
 * Hostile input: mutations of the real fixtures must either parse or throw a
 * BpfObjectError, nothing else, and every parse must finish. Runs are bounded by count
 * (deterministic seed), never by time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpfObjectError } from './errors.js';
import { parseObject } from './parse.js';
import type { ParsedObject } from './parsed.js';
import { FIXTURES, type FixtureName, fixture, headers } from './test-support/fixtures.js';

const originals = new Map(FIXTURES.map((name) => [name, fixture(name)]));

/** Offsets of the fields of Elf64_Shdr, with their widths. */
const SHDR_FIELDS: readonly [number, 2 | 4 | 8][] = [
  [0, 4],
  [4, 4],
  [8, 8],
  [24, 8],
  [32, 8],
  [40, 4],
  [44, 4],
  [56, 8],
];
/** Offsets of the fields of Elf64_Ehdr that the parser reads. */
const EHDR_FIELDS: readonly [number, 1 | 2 | 4 | 8][] = [
  [4, 1],
  [5, 1],
  [6, 1],
  [16, 2],
  [18, 2],
  [20, 4],
  [40, 8],
  [52, 2],
  [58, 2],
  [60, 2],
  [62, 2],
];

const interesting = fc.oneof(
  fc.constantFrom(0n, 1n, 7n, 8n, 0xffn, 0xffffn, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn, 1n << 53n, 1n << 63n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: 4096n }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'ehdr'; field: number; value: bigint }
  | { kind: 'shdr'; section: number; field: number; value: bigint }
  | { kind: 'inside'; section: number; at: number; width: 1 | 2 | 4 | 8; value: bigint }
  | { kind: 'copy'; from: number; to: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('ehdr' as const), field: fc.nat(), value: interesting }),
  fc.record({ kind: fc.constant('shdr' as const), section: fc.nat(), field: fc.nat(), value: interesting }),
  fc.record({
    kind: fc.constant('inside' as const),
    section: fc.nat(),
    at: fc.nat(),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    value: interesting,
  }),
  fc.record({ kind: fc.constant('copy' as const), from: fc.nat(), to: fc.nat(), length: fc.integer({ min: 1, max: 256 }) }),
);

function write(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  for (let i = 0; i < width && at + i < bytes.length; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

function mutate(name: FixtureName, mutations: readonly Mutation[]): Uint8Array {
  const original = originals.get(name) as Uint8Array;
  const h = headers(original);
  let bytes = original.slice();
  for (const m of mutations) {
    if (bytes.length === 0) break;
    switch (m.kind) {
      case 'flip':
        bytes[m.at % bytes.length] = m.value;
        break;
      case 'truncate':
        bytes = bytes.slice(0, m.at % bytes.length);
        break;
      case 'ehdr': {
        const [at, width] = EHDR_FIELDS[m.field % EHDR_FIELDS.length] as [number, number];
        write(bytes, at, width, m.value);
        break;
      }
      case 'shdr': {
        const [at, width] = SHDR_FIELDS[m.field % SHDR_FIELDS.length] as [number, number];
        write(bytes, h.sectionHeader(m.section % h.shnum) + at, width, m.value);
        break;
      }
      case 'inside': {
        // A field inside a section's contents (symbols, relocations, BTF, instructions, map definitions).
        const header = h.sectionHeader(1 + (m.section % (h.shnum - 1)));
        const offset = Number(new DataView(original.buffer).getBigUint64(header + 24, true));
        const size = Number(new DataView(original.buffer).getBigUint64(header + 32, true));
        if (size > 0) write(bytes, offset + (m.at % size), m.width, m.value);
        break;
      }
      case 'copy': {
        const from = m.from % bytes.length;
        const span = bytes.slice(from, from + m.length);
        bytes.set(span.subarray(0, Math.max(0, bytes.length - (m.to % bytes.length))), m.to % bytes.length);
        break;
      }
    }
  }
  return bytes;
}

/** What a successful parse promises: references and calls stay inside the object. */
function checkInvariants(obj: ParsedObject): void {
  for (const p of obj.programs) {
    for (const r of p.mapReferences) {
      expect(r.map).toBeLessThan(obj.maps.length);
      expect(p.insns[r.insnIndex]?.code).toBe(0x18);
      expect(p.insns[r.insnIndex + 1]?.code).toBe(0);
    }
    p.insns.forEach((x, i) => {
      if (x.code === 0x85 && x.src === 1) {
        const target = i + x.imm + 1;
        expect(target).toBeGreaterThanOrEqual(0);
        expect(target).toBeLessThan(p.insns.length);
      }
    });
  }
  for (const m of obj.maps) if (m.initialValue !== undefined) expect(m.initialValue.length).toBe(m.valueSize);
}

function parsesOrThrowsTyped(bytes: Uint8Array): 'parsed' | 'refused' {
  try {
    checkInvariants(parseObject(bytes));
    return 'parsed';
  } catch (e) {
    if (e instanceof BpfObjectError) return 'refused';
    throw e;
  }
}

describe('parseObject on hostile input', () => {
  it('every fixture parses or is refused as designed', () => {
    const outcomes = FIXTURES.map((name) => [name, parsesOrThrowsTyped(originals.get(name) as Uint8Array)]);
    expect(Object.fromEntries(outcomes)).toEqual({
      'btf-maps': 'parsed',
      'legacy-maps': 'parsed',
      'global-data': 'parsed',
      subprograms: 'parsed',
      'load-errors': 'parsed',
      kconfig: 'refused',
      core: 'refused',
      kfunc: 'refused',
      callback: 'refused',
      'map-in-map': 'refused',
    });
  });

  it('mutated fixtures parse or throw a BpfObjectError (2,000 runs, fixed seed)', () => {
    const seen = { parsed: 0, refused: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 4 }), (name, mutations) => {
        seen[parsesOrThrowsTyped(mutate(name, mutations))]++;
      }),
      { numRuns: 2000, seed: 0xeb9f },
    );
    // Both outcomes occur: the mutations reach past the first checks.
    expect(seen.parsed).toBeGreaterThan(100);
    expect(seen.refused).toBeGreaterThan(100);
  });

  it('random bytes behind a valid ELF identification parse or throw a BpfObjectError', () => {
    const ident = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (tail) => {
        parsesOrThrowsTyped(Uint8Array.from([...ident, ...tail]));
      }),
      { numRuns: 500, seed: 247 },
    );
  });
});
