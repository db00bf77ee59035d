/**
 * Tiny instruction builders for the JIT's tests (raw `insn(...)` calls with names), so the
 * tests do not depend on the assembler.
 */
import { BPF_ALU_OP, BPF_ATOMIC, BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_SIZE, BPF_SRC, type Insn, insn } from '../insn.js';

export type AluName = keyof typeof BPF_ALU_OP;
export type JmpName = Exclude<keyof typeof BPF_JMP_OP, 'CALL' | 'EXIT' | 'JA'>;
export type SizeName = keyof typeof BPF_SIZE;

export const R = { r0: 0, r1: 1, r2: 2, r3: 3, r4: 4, r5: 5, r6: 6, r7: 7, r8: 8, r9: 9, r10: 10 } as const;

/** `dst OP= imm` (ALU64, or ALU with `w32`). */
export const aluK = (op: AluName, dst: number, imm: number, w32 = false, off = 0): Insn =>
  insn((w32 ? BPF_CLASS.ALU : BPF_CLASS.ALU64) | BPF_SRC.K | BPF_ALU_OP[op], dst, 0, off, imm);
/** `dst OP= src` (ALU64, or ALU with `w32`). */
export const aluX = (op: AluName, dst: number, src: number, w32 = false, off = 0): Insn =>
  insn((w32 ? BPF_CLASS.ALU : BPF_CLASS.ALU64) | BPF_SRC.X | BPF_ALU_OP[op], dst, src, off, 0);
export const mov = (dst: number, imm: number): Insn => aluK('MOV', dst, imm);
export const movX = (dst: number, src: number): Insn => aluX('MOV', dst, src);
export const neg = (dst: number, w32 = false): Insn => aluK('NEG', dst, 0, w32);
/** le/be (class ALU; `be` sets the X bit) or bswap (class ALU64). */
export const endian = (kind: 'le' | 'be' | 'bswap', dst: number, bits: 16 | 32 | 64): Insn =>
  insn((kind === 'bswap' ? BPF_CLASS.ALU64 : BPF_CLASS.ALU) | (kind === 'be' ? BPF_SRC.X : 0) | BPF_ALU_OP.END, dst, 0, 0, bits);
export const lddw = (dst: number, value: bigint): Insn[] => {
  const v = BigInt.asUintN(64, value);
  return [
    insn(BPF_CLASS.LD | BPF_SIZE.DW | BPF_MODE.IMM, dst, 0, 0, Number(BigInt.asIntN(32, v))),
    insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))),
  ];
};
export const exit = (): Insn => insn(BPF_CLASS.JMP | BPF_JMP_OP.EXIT, 0, 0, 0, 0);
export const ja = (off: number): Insn => insn(BPF_CLASS.JMP | BPF_JMP_OP.JA, 0, 0, off, 0);
export const gotol = (imm: number): Insn => insn(BPF_CLASS.JMP32 | BPF_JMP_OP.JA, 0, 0, 0, imm);
export const jmpK = (op: JmpName, dst: number, imm: number, off: number, w32 = false): Insn =>
  insn((w32 ? BPF_CLASS.JMP32 : BPF_CLASS.JMP) | BPF_SRC.K | BPF_JMP_OP[op], dst, 0, off, imm);
export const jmpX = (op: JmpName, dst: number, src: number, off: number, w32 = false): Insn =>
  insn((w32 ? BPF_CLASS.JMP32 : BPF_CLASS.JMP) | BPF_SRC.X | BPF_JMP_OP[op], dst, src, off, 0);
export const callHelper = (id: number): Insn => insn(BPF_CLASS.JMP | BPF_JMP_OP.CALL, 0, 0, 0, id);
/** A BPF-to-BPF call to slot `pc + 1 + rel`. */
export const callLocal = (rel: number): Insn => insn(BPF_CLASS.JMP | BPF_JMP_OP.CALL, 0, 1, 0, rel);
export const ldx = (size: SizeName, dst: number, src: number, off: number, sign = false): Insn =>
  insn(BPF_CLASS.LDX | BPF_SIZE[size] | (sign ? BPF_MODE.MEMSX : BPF_MODE.MEM), dst, src, off, 0);
export const st = (size: SizeName, dst: number, off: number, imm: number): Insn =>
  insn(BPF_CLASS.ST | BPF_SIZE[size] | BPF_MODE.MEM, dst, 0, off, imm);
export const stx = (size: SizeName, dst: number, src: number, off: number): Insn =>
  insn(BPF_CLASS.STX | BPF_SIZE[size] | BPF_MODE.MEM, dst, src, off, 0);
export const atomic = (size: 'W' | 'DW', op: keyof typeof BPF_ATOMIC, dst: number, src: number, off: number, fetch = false): Insn =>
  insn(BPF_CLASS.STX | BPF_SIZE[size] | BPF_MODE.ATOMIC, dst, src, off, BPF_ATOMIC[op] | (fetch ? BPF_ATOMIC.FETCH : 0));

/** Distinct 64-bit values the register-dump harness loads into r0..r9 before the body. */
export const SEED = Object.freeze(
  Array.from({ length: 10 }, (_, k) => BigInt.asUintN(64, 0x0123_4567_89ab_cdefn * BigInt(k + 3) + BigInt(k))),
);

/**
 * Wrap `body` so a run reports every register: r1 (the data pointer) is saved on the stack,
 * r0..r9 get `init` (default {@link SEED}), the body runs, then r0..r9 are written to the
 * first 80 bytes of the data buffer. The body must not use the stack below r10-8 beyond
 * -96 .. -8 (they are the dump slots) and must fall through at its end.
 */
export function dumpRegs(body: readonly Insn[], init: readonly bigint[] = SEED): Insn[] {
  const out: Insn[] = [stx('DW', 10, 1, -8)];
  init.forEach((value, k) => {
    out.push(...lddw(k, value));
  });
  out.push(...body);
  for (let k = 0; k < 10; k++) out.push(stx('DW', 10, k, -16 - 8 * k));
  out.push(ldx('DW', 1, 10, -8));
  for (let k = 0; k < 10; k++) out.push(ldx('DW', 2, 10, -16 - 8 * k), stx('DW', 1, 2, 8 * k));
  out.push(mov(0, 0), exit());
  return out;
}

/** The ten registers of a {@link dumpRegs} run's data. */
export function readDump(data: Uint8Array): bigint[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Array.from({ length: 10 }, (_, k) => view.getBigUint64(8 * k, true));
}
