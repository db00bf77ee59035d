import { emitText, type Region, type TextArena } from '@bpf-dispatcher/text-poke';
import { type Label, mov, ret } from '@bpf-dispatcher/x86';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARENAS } from '../test-support/arenas.js';
import { emitCopy, emitHashKey, emitKeyCompare, emitZero, hashKey } from './key-emit.js';

/** Bytes in a region of exactly their size (a simulated CPU faults on any access past it). */
function exact(arena: TextArena, bytes: Uint8Array): Region {
  const region = arena.allocData(Math.max(1, bytes.length), 1);
  arena.write(region.address, bytes);
  return region;
}

const SIZES = [...Array.from({ length: 80 }, (_, i) => i + 1), 127, 128, 129, 512];

describe.each(ARENAS)('key routines on the $name arena', ({ create }) => {
  let arena: TextArena;
  const hashFns = new Map<number, bigint>();
  const compareFns = new Map<number, bigint>();
  const copyFns = new Map<number, bigint>();
  beforeAll(() => {
    arena = create();
    for (const size of SIZES) {
      hashFns.set(size, emitText(arena, (buf) => [emitHashKey(buf, size, 0x1234_5678, 'rdi'), ret(buf)]).address);
      // compare(key rdi, elem rsi) -> 1 if equal (elem's key at +16), else 0
      compareFns.set(
        size,
        emitText(arena, (buf) => {
          const differ: Label = buf.newLabel();
          emitKeyCompare(buf, size, 'rdi', 'rsi', 16, differ);
          mov(buf, 'eax', 1);
          ret(buf);
          buf.bind(differ);
          mov(buf, 'eax', 0);
          ret(buf);
        }).address,
      );
      // copy(src rdi, dst rsi): size bytes to dst + 8, then zero 8 bytes at dst
      copyFns.set(
        size,
        emitText(arena, (buf) => {
          emitCopy(buf, size, 'rdi', 0, 'rsi', 8);
          emitZero(buf, 8, 'rsi', 0);
          ret(buf);
        }).address,
      );
    }
  });
  afterAll(() => arena.dispose());

  it('hashes exactly the key bytes, as the TypeScript reference does', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SIZES), fc.uint8Array({ minLength: 512, maxLength: 512 }), (size, bytes) => {
        const key = bytes.subarray(0, size);
        const region = exact(arena, key);
        try {
          expect(Number(arena.call(hashFns.get(size) as bigint, region.address))).toBe(hashKey(key, 0x1234_5678));
        } finally {
          arena.free(region);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('spreads small keys over the buckets', () => {
    const buckets = new Array<number>(64).fill(0);
    for (let i = 0; i < 64 * 64; i++) {
      const b = hashKey(Uint8Array.of(i & 0xff, i >> 8, 0, 0), 0) & 63;
      buckets[b] = (buckets[b] ?? 0) + 1;
    }
    expect(Math.max(...buckets)).toBeLessThan(2 * 64);
    expect(Math.min(...buckets)).toBeGreaterThan(64 / 2);
  });

  it('compares keys against zero-padded element keys, detecting a difference in any byte', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SIZES), fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.nat(), (size, bytes, which) => {
        const key = bytes.slice(0, size);
        const elem = new Uint8Array(16 + Math.ceil(size / 8) * 8);
        elem.set(key, 16);
        const k = exact(arena, key);
        const e = exact(arena, elem);
        try {
          const compare = compareFns.get(size) as bigint;
          expect(arena.call(compare, k.address, e.address)).toBe(1n);
          const at = which % size;
          arena.write(k.address + BigInt(at), Uint8Array.of((key[at] as number) ^ 0x40));
          expect(arena.call(compare, k.address, e.address)).toBe(0n);
        } finally {
          arena.free(k);
          arena.free(e);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('copies exactly the source bytes and zero-pads the last word', () => {
    for (const size of SIZES) {
      const src = Uint8Array.from({ length: size }, (_, i) => (i * 11 + 5) & 0xff);
      const s = exact(arena, src);
      const padded = Math.ceil(size / 8) * 8;
      const d = exact(arena, new Uint8Array(8 + padded).fill(0xee));
      try {
        arena.call(copyFns.get(size) as bigint, s.address, d.address);
        const expected = new Uint8Array(8 + padded);
        expected.set(src, 8);
        expect(arena.read(d.address, 8 + padded)).toEqual(expected);
      } finally {
        arena.free(s);
        arena.free(d);
      }
    }
  });
});
