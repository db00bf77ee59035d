import { describe, expect, it } from 'vitest';
import type { Insn } from '../insn.js';
import { aluK, aluX, exit, lddw, ldx, mov, movX, type SizeName, st, stx } from '../test-support/jit-builders.js';
import { NATIVE, runNative } from '../test-support/jit-native.js';

const SIZES: readonly [SizeName, number][] = [
  ['B', 1],
  ['H', 2],
  ['W', 4],
  ['DW', 8],
];
const PATTERN = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 0x81) & 0xff);

function readLE(bytes: Uint8Array, at: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] as number);
  return v;
}

describe.skipIf(!NATIVE)('loads, stores and lddw natively', () => {
  it('ldx zero-extends and ldxs sign-extends, every size, base register and offset', () => {
    for (const [size, n] of SIZES)
      for (const sign of size === 'DW' ? [false] : [false, true])
        for (const base of [1, 0, 3, 4, 6, 9])
          for (const off of [0, 1, 7, 33, 56 - n + 8]) {
            if (off + n > 64) continue;
            // r1 points at the data; copy it into the base register, load into r0
            const prog: Insn[] = [movX(base, 1), aluK('ADD', base, 8), ldx(size, 0, base, off - 8, sign), exit()];
            const raw = readLE(PATTERN, off, n);
            const want = sign ? BigInt.asUintN(64, BigInt.asIntN(8 * n, raw)) : raw;
            expect(runNative(prog, { data: PATTERN.slice() }).r0).toBe(want);
          }
  });

  it('st stores the immediate truncated to the size (a double word sign-extends it)', () => {
    for (const [size, n] of SIZES)
      for (const imm of [0, 1, -1, 0x7f, 0x80, 0x1234_5678, -0x8000_0000, 0x7fff_ffff]) {
        const { data } = runNative([st(size, 1, 3, imm), mov(0, 0), exit()], { data: new Uint8Array(16) });
        const want = BigInt.asUintN(8 * n, BigInt(imm));
        expect(readLE(data, 3, n)).toBe(want);
        expect(readLE(data, 3 + n, 16 - 3 - n)).toBe(0n);
      }
  });

  it('stx stores the low bytes of every source register, through the stack and back', () => {
    for (const [size, n] of SIZES)
      for (const src of [0, 2, 3, 4, 5, 6, 7, 8, 9]) {
        const value = 0x8877_6655_4433_2211n;
        const prog: Insn[] = [
          ...lddw(src, value),
          st('DW', 10, -16, 0),
          stx(size, 10, src, -16), // through the frame (R10 = rbp)
          ldx('DW', 2, 10, -16),
          stx('DW', 1, 2, 0),
          mov(0, 0),
          exit(),
        ];
        const { data } = runNative(prog, { data: new Uint8Array(8) });
        expect(readLE(data, 0, 8)).toBe(value & ((1n << BigInt(8 * n)) - 1n));
      }
  });

  it('the whole 512-byte stack frame is usable', () => {
    const prog: Insn[] = [];
    for (let off = -512; off < 0; off += 8) prog.push(st('DW', 10, off, off));
    prog.push(mov(0, 0));
    for (let off = -512; off < 0; off += 8) prog.push(ldx('DW', 2, 10, off), aluX('ADD', 0, 2));
    prog.push(exit());
    let sum = 0n;
    for (let off = -512; off < 0; off += 8) sum += BigInt(off);
    expect(runNative(prog).r0).toBe(BigInt.asUintN(64, sum));
  });

  it('lddw loads every kind of 64-bit immediate into every register', () => {
    for (const value of [
      0n,
      1n,
      0xffff_ffffn,
      0x1_0000_0000n,
      0x7fff_ffffn,
      0x8000_0000n,
      (1n << 64n) - 1n,
      0xffff_ffff_8000_0000n,
      0x1234_5678_9abc_def0n,
    ])
      for (const reg of [0, 2, 5, 9]) {
        const prog = [...lddw(reg, value), movX(0, reg), exit()];
        expect(runNative(prog).r0).toBe(value);
      }
  });
});
