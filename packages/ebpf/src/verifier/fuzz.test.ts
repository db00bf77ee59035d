import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EbpfError } from '../errors.js';
import { type Insn, insn } from '../insn.js';
import { type InterpreterHelper, interpret } from '../interpreter.js';
import { MAPS } from '../test-support/verifier.js';
import { VerifierError, type VerifyOptions } from './types.js';
import { verify } from './verify.js';

/** Opcodes that are valid somewhere (so that random programs get past the first pass often). */
const VALID = [
  0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf,
  0xc7, 0xcf, 0xd7, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0x94, 0x9c, 0xa4,
  0xac, 0xb4, 0xbc, 0xc4, 0xcc, 0xd4, 0xdc, 0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0xa5,
  0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd, 0x16, 0x1e, 0x26, 0xa6, 0x85, 0x95, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a,
  0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb,
];

const arbInsn: fc.Arbitrary<Insn> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      code: fc.integer({ min: 0, max: 255 }),
      dst: fc.integer({ min: 0, max: 15 }),
      src: fc.integer({ min: 0, max: 15 }),
      off: fc.integer({ min: -0x8000, max: 0x7fff }),
      imm: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
    }),
  },
  {
    weight: 12,
    arbitrary: fc
      .record({
        code: fc.constantFrom(...VALID),
        dst: fc.integer({ min: 0, max: 10 }),
        src: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constant(0)),
        off: fc.oneof(fc.integer({ min: -3, max: 6 }), fc.integer({ min: -520, max: 80 }), fc.constantFrom(0, 1, 8, 16, 32)),
        imm: fc.oneof(fc.integer({ min: -4, max: 70 }), fc.constantFrom(0, 1, 5, 7, 16, 32, 64, 0xe1, 0xf1, 0x41, 0x51, 0xa1, 3, 4)),
      })
      .map((r) => plausible(r)),
  },
);

const ATOMIC_IMMS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];

/** Clear the fields an opcode reserves, and aim jumps forward and accesses at likely places. */
function plausible(r: Insn): Insn {
  const { code } = r;
  const cls = code & 7;
  const x = (code & 8) !== 0;
  const op = code & 0xf0;
  const fwd = Math.abs(r.off) % 5;
  if (code === 0x85)
    return { code, dst: 0, off: 0, src: r.src % 2, imm: r.src % 2 === 1 ? fwd : ([1, 2, 3, 5, 7, 8, 44][Math.abs(r.imm) % 7] ?? 5) };
  if (code === 0x95) return { code, dst: 0, src: 0, off: 0, imm: 0 };
  if (code === 0x18)
    return {
      code,
      dst: r.dst === 10 ? 1 : r.dst,
      src: Math.abs(r.imm) % 3 === 1 ? 1 : 0,
      off: 0,
      imm: Math.abs(r.imm) % 3 === 1 ? 3 : r.imm,
    };
  if (cls === 4 || cls === 7) {
    if (op === 0x80) return { code, dst: r.dst, src: 0, off: 0, imm: 0 };
    if (op === 0xd0) return { code, dst: r.dst, src: 0, off: 0, imm: [16, 32, 64][Math.abs(r.imm) % 3] as number };
    const off =
      op === 0xb0 && x
        ? ([0, 0, 8, 16, cls === 7 ? 32 : 0][Math.abs(r.off) % 5] as number)
        : op === 0x30 || op === 0x90
          ? Math.abs(r.off) % 2
          : 0;
    return x
      ? { code, dst: r.dst, src: r.src, off, imm: 0 }
      : { code, dst: r.dst, src: 0, off, imm: (op === 0x30 || op === 0x90) && r.imm === 0 ? 3 : r.imm };
  }
  if (cls === 5 || cls === 6) {
    if (op === 0x00) return cls === 5 ? { code, dst: 0, src: 0, off: fwd, imm: 0 } : { code, dst: 0, src: 0, off: 0, imm: fwd };
    return x ? { code, dst: r.dst, src: r.src, off: fwd, imm: 0 } : { code, dst: r.dst, src: 0, off: fwd, imm: r.imm };
  }
  // Loads and stores: mostly through r1 (the buffer) or r10 (the stack), near the edges.
  const base = [1, 1, 10, cls === 1 ? r.src : r.dst][Math.abs(r.off >> 4) % 4] as number;
  const off = base === 10 ? -8 * (1 + (Math.abs(r.off) % 8)) : base === 1 ? 48 + (Math.abs(r.off) % 20) : Math.abs(r.off) % 64;
  if (cls === 1) return { code, dst: r.dst, src: base, off, imm: 0 };
  if (cls === 2) return { code, dst: base, src: 0, off, imm: r.imm };
  if (cls === 3) {
    const imm = (code & 0xe0) === 0xc0 ? (ATOMIC_IMMS[Math.abs(r.imm) % ATOMIC_IMMS.length] as number) : 0;
    return { code, dst: base, src: r.src, off, imm };
  }
  return r;
}

/** A prologue that writes every register, so that random bodies get further. */
const PROLOGUE: Insn[] = [0, 2, 3, 4, 5, 6, 7, 8, 9].map((r) => insn(0xb7, r, 0, 0, r * 3));

function arbProgram(prologue: boolean): fc.Arbitrary<Insn[]> {
  return fc.array(arbInsn, { minLength: 1, maxLength: 40 }).map((body) => {
    const out = prologue ? [...PROLOGUE, ...body] : body;
    // a second lddw slot after every lddw, and an exit at the end
    const fixed: Insn[] = [];
    for (const i of out) {
      fixed.push(i);
      if (i.code === 0x18) fixed.push(insn(0, 0, 0, 0, 0));
    }
    fixed.push(insn(0x95, 0, 0, 0, 0));
    return fixed;
  });
}

const OPTIONS: VerifyOptions[] = [
  { progType: { kind: 'memory', size: 64 }, maps: MAPS, maxStates: 20_000 },
  { progType: 'xdp', maps: MAPS, maxStates: 20_000 },
];

function tryVerify(p: readonly Insn[], o: VerifyOptions): 'ok' | 'refused' {
  try {
    verify(p, o);
    return 'ok';
  } catch (e) {
    // Only typed refusals: anything else is a bug in the verifier.
    expect(e).toBeInstanceOf(VerifierError);
    expect(EbpfError.hasCode(e, 'VERIFY')).toBe(true);
    return 'refused';
  }
}

describe('verifier: random programs', () => {
  it('never throws anything but a VerifierError, and stops within its budget', () => {
    let accepted = 0;
    fc.assert(
      fc.property(arbProgram(true), fc.constantFrom(...OPTIONS), (p, o) => {
        if (tryVerify(p, o) === 'ok') accepted++;
      }),
      { numRuns: 1500 },
    );
    fc.assert(
      fc.property(arbProgram(false), fc.constantFrom(...OPTIONS), (p, o) => {
        tryVerify(p, o);
      }),
      { numRuns: 500 },
    );
    // the generator is good enough to reach the end of the verifier sometimes
    expect(accepted).toBeGreaterThan(20);
  }, 120_000);

  it('programs it accepts for the memory type never leave their memory in the reference interpreter', () => {
    const helpers = new Map<number, InterpreterHelper>([
      [5, () => 123_456_789n],
      [7, () => 0xdead_beefn],
      [8, () => 1n],
    ]);
    const options: VerifyOptions = {
      progType: { kind: 'memory', size: 64 },
      maxStates: 20_000,
      helpers: [5, 7, 8].map((id) => ({ id, name: `h${id}`, args: [], ret: 'integer' as const })),
    };
    let ran = 0;
    fc.assert(
      fc.property(arbProgram(true), fc.uint8Array({ minLength: 64, maxLength: 64 }), (p, memory) => {
        if (tryVerify(p, options) !== 'ok') return;
        ran++;
        interpret(p, { memory, helpers, maxSteps: 100_000 });
      }),
      { numRuns: 2000 },
    );
    expect(ran).toBeGreaterThan(20);
  }, 120_000);
});
