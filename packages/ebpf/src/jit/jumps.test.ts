import { describe, expect, it } from 'vitest';
import type { Insn } from '../insn.js';
import { aluK, exit, gotol, type JmpName, ja, jmpK, jmpX, lddw, mov, stx } from '../test-support/jit-builders.js';
import { NATIVE, runNative } from '../test-support/jit-native.js';

const M64 = (1n << 64n) - 1n;
const VALUES: readonly bigint[] = [
  0n,
  1n,
  2n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x1_0000_0001n,
  0x7fff_ffff_ffff_ffffn,
  1n << 63n,
  M64,
  M64 - 1n,
  0xffff_ffff_0000_0000n,
];
const IMMS: readonly number[] = [0, 1, -1, -2, 2, 0x7fff_ffff, -0x8000_0000];
const CONDS: readonly JmpName[] = ['JEQ', 'JNE', 'JGT', 'JGE', 'JLT', 'JLE', 'JSGT', 'JSGE', 'JSLT', 'JSLE', 'JSET'];

/** RFC 9669 section 4.3: the condition on unsigned 64-bit inputs at a width. */
function condRef(op: JmpName, bits: 32 | 64, a: bigint, b: bigint): boolean {
  const mask = bits === 64 ? M64 : 0xffff_ffffn;
  const x = a & mask;
  const y = b & mask;
  const sx = BigInt.asIntN(bits, x);
  const sy = BigInt.asIntN(bits, y);
  switch (op) {
    case 'JEQ':
      return x === y;
    case 'JNE':
      return x !== y;
    case 'JGT':
      return x > y;
    case 'JGE':
      return x >= y;
    case 'JLT':
      return x < y;
    case 'JLE':
      return x <= y;
    case 'JSGT':
      return sx > sy;
    case 'JSGE':
      return sx >= sy;
    case 'JSLT':
      return sx < sy;
    case 'JSLE':
      return sx <= sy;
    default:
      return (x & y) !== 0n;
  }
}

/** For each case: `r3 = cond ? 1 : 0` stored at [r1 + 8k]; one program for all. */
function runConds(cases: readonly { a: bigint; b: bigint | number }[], jump: (b: bigint | number) => Insn): boolean[] {
  const insns: Insn[] = [];
  cases.forEach(({ a, b }, k) => {
    insns.push(...lddw(2, a));
    if (typeof b === 'bigint') insns.push(...lddw(5, b));
    insns.push(jump(b), mov(3, 0), ja(1), mov(3, 1), stx('DW', 1, 3, 8 * k));
  });
  insns.push(mov(0, 0), exit());
  const { data } = runNative(insns, { data: new Uint8Array(8 * cases.length) });
  const view = new DataView(data.buffer, data.byteOffset);
  return cases.map((_, k) => view.getBigUint64(8 * k, true) === 1n);
}

describe.skipIf(!NATIVE)('jumps natively', () => {
  it.each(CONDS)('%s: register and immediate operands, JMP and JMP32, against RFC 9669', (op) => {
    for (const w32 of [false, true]) {
      const regCases = VALUES.flatMap((a) => VALUES.map((b) => ({ a, b })));
      expect(runConds(regCases, () => jmpX(op, 2, 5, 2, w32))).toEqual(regCases.map(({ a, b }) => condRef(op, w32 ? 32 : 64, a, b)));
      const immCases = VALUES.flatMap((a) => IMMS.map((b) => ({ a, b })));
      expect(runConds(immCases, (b) => jmpK(op, 2, b as number, 2, w32))).toEqual(
        immCases.map(({ a, b }) => condRef(op, w32 ? 32 : 64, a, BigInt.asUintN(64, BigInt(b)))),
      );
    }
  });

  it('backward loops with short and near jumps count exactly', () => {
    for (const pad of [0, 40, 200]) {
      // r0 = 0; r2 = 1000; loop: r0 += 3; (pad no-op movs); r2 -= 1; if r2 != 0 goto loop
      const body: Insn[] = [aluK('ADD', 0, 3), ...Array.from({ length: pad }, () => mov(4, 7)), aluK('SUB', 2, 1)];
      const prog = [mov(0, 0), mov(2, 1000), ...body, jmpK('JNE', 2, 0, -(body.length + 1)), exit()];
      expect(runNative(prog).r0).toBe(3000n);
    }
  });

  it('ja and gotol forward and backward, near and far, and a jump to the next instruction', () => {
    const far = Array.from({ length: 3000 }, () => aluK('ADD', 0, 1));
    // gotol over 3000 slots (beyond any rel8), then ja back over them into an exit; the
    // jeq (never taken) keeps the slots jumped over reachable, as the verifier requires
    const skip = jmpK('JEQ', 0, 6, 1);
    expect(runNative([mov(0, 5), skip, gotol(far.length + 1), ...far, exit(), ja(-2)]).r0).toBe(5n);
    expect(runNative([mov(0, 5), skip, ja(far.length), ...far, exit()]).r0).toBe(5n);
    expect(runNative([mov(0, 5), ja(0), gotol(0), exit()]).r0).toBe(5n);
    expect(runNative([mov(0, 0), ja(1), exit(), aluK('ADD', 0, 9), ja(-3)]).r0).toBe(9n);
  });
});
