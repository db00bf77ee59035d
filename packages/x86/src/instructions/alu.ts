import { type CodeBuffer, assertCodeBuffer } from '../code-buffer.js';
import { describeValue, ownEntry, ownTable } from '../describe.js';
import { type Imm, emitImm, emitModRm, emitSizePrefix, fitsInt8, immValue } from '../encoding.js';
import { OperandError } from '../errors.js';
import { isMem, memWidth } from '../memory.js';
import { type RM, commonWidth, describe, isRex8, rmInfo } from '../operands.js';
import type { Width } from '../registers.js';

/** The eight classic ALU operations and their ModRM /digit (Intel SDM: ADD, OR, AND, SUB, XOR, CMP). */
export const ALU_OPS = Object.freeze({ add: 0, or: 1, and: 4, sub: 5, xor: 6, cmp: 7 } as const);
/** One of the ALU operations. */
export type AluOp = keyof typeof ALU_OPS;

const ALU_DIGITS = ownTable<number>(ALU_OPS);

/** The /digit of an ALU operation. @throws OperandError unless `op` is an own key of {@link ALU_OPS}. */
function aluDigit(op: unknown, what: string): number {
  const digit = ownEntry(ALU_DIGITS, op);
  if (digit === undefined) throw new OperandError(`${what}: unknown ALU operation ${describeValue(op)} (one of ${Object.keys(ALU_OPS).join(', ')})`);
  return digit;
}

function isImm(value: unknown): value is Imm {
  return typeof value === 'number' || typeof value === 'bigint';
}

/**
 * The encoding of an ALU immediate: `'auto'` (the sign-extended imm8 form, 83 /digit ib,
 * when the value fits, else imm32, 81 /digit id) or `'imm32'` (always 81 /digit id, a fixed
 * size: the dispatcher's `cmp rdx, imm32`). 8-bit operands have only 80 /digit ib.
 */
export type AluForm = 'auto' | 'imm32';

/**
 * Emit an ALU instruction `op dst, src` (ADD/OR/AND/SUB/XOR/CMP):
 * `r/m, reg` (opcode 01/09/21/29/31/39), `reg, r/m` (03/...) or `r/m, imm`, where the
 * immediate takes the short sign-extended imm8 form (83 /digit ib) whenever it fits and
 * the imm32 form (81 /digit id) otherwise; `form` `'imm32'` forces the imm32 form (see
 * {@link AluForm}). For 64-bit operands the imm32 is sign-extended.
 * Every operand is checked before a byte is written: on any error the buffer is unchanged.
 * @throws ImmediateRangeError if the immediate does not fit.
 * @throws OperandError for an unknown operation (only own keys of {@link ALU_OPS}),
 *   mismatched widths, memory-to-memory forms, a bad `form`, or `'imm32'` without an immediate.
 */
export function alu(buf: CodeBuffer, op: AluOp, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void {
  assertCodeBuffer(buf, 'alu');
  const digit = aluDigit(op, 'alu');
  if (form !== 'auto' && form !== 'imm32') throw new OperandError(`${String(op)}: form must be 'auto' or 'imm32', got ${describeValue(form)}`);
  if (isImm(src)) {
    aluImm(buf, op, digit, dst, src, form === 'auto' && fitsInt8(src) ? 8 : 32);
    return;
  }
  if (form === 'imm32') throw new OperandError(`${op}: the imm32 form needs an immediate (number or bigint), got ${describeValue(src)}`);
  const d = rmInfo(dst, op);
  const s = rmInfo(src, op);
  const bits = commonWidth(d, s, op);
  const byteOp = bits === 8 ? 0 : 1;
  if (isMem(s) && isMem(d)) throw new OperandError(`${op}: x86 has no memory-to-memory form (${describe(dst)}, ${describe(src)})`);
  emitSizePrefix(buf, bits);
  if (!isMem(s)) {
    // op r/m, reg
    emitModRm(buf, bits === 64, (digit << 3) | byteOp, s.id, d, isRex8(s, bits) || isRex8(d, bits));
  } else {
    // op reg, r/m
    emitModRm(buf, bits === 64, (digit << 3) | 2 | byteOp, (d as { id: number }).id, s, isRex8(d, bits));
  }
}

/**
 * Emit `op r/m, imm` in the explicit imm32 form (81 /digit id; 8-bit operands 80 /digit ib),
 * even when the value would fit an imm8. The dispatcher's `cmp rdx, imm32` (48 81 FA id)
 * is this form.
 * @deprecated use `alu(buf, op, dst, imm, 'imm32')` / `cmp(buf, dst, imm, 'imm32')` (the
 *   encoding is chosen by a trailing `form` argument everywhere in this package).
 * On any error the buffer is unchanged.
 * @throws ImmediateRangeError if the immediate is not a sign-extended imm32 (imm8/imm16 for narrow operands).
 * @throws OperandError for an unknown operation, a bad operand or a non-numeric immediate.
 */
export function aluImm32(buf: CodeBuffer, op: AluOp, dst: RM, imm: Imm): void {
  assertCodeBuffer(buf, 'aluImm32');
  const digit = aluDigit(op, 'aluImm32');
  if (!isImm(imm)) throw new OperandError(`${op}: expected an immediate (number or bigint), got ${describeValue(imm)}`);
  aluImm(buf, op, digit, dst, imm, 32);
}

function aluImm(buf: CodeBuffer, op: string, digit: number, dst: RM, imm: Imm, size: 8 | 32): void {
  const d = rmInfo(dst, op);
  const bits: Width = isMem(d) ? memWidth(d, 0, op) : d.bits;
  if (bits === 8) {
    const v = immValue(imm, 8, op, true);
    emitModRm(buf, false, 0x80, digit, d, isRex8(d, 8));
    emitImm(buf, v, 8);
    return;
  }
  const immBits = size === 8 ? 8 : bits === 16 ? 16 : 32;
  const v = immValue(imm, immBits, op, bits !== 64 && immBits !== 8);
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, size === 8 ? 0x83 : 0x81, digit, d);
  emitImm(buf, v, immBits);
}

/** `add dst, src` (see {@link alu}). */
export const add = (buf: CodeBuffer, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void => alu(buf, 'add', dst, src, form);
/** `sub dst, src` (see {@link alu}). */
export const sub = (buf: CodeBuffer, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void => alu(buf, 'sub', dst, src, form);
/** `and dst, src` (see {@link alu}). */
export const and = (buf: CodeBuffer, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void => alu(buf, 'and', dst, src, form);
/** `or dst, src` (see {@link alu}). */
export const or = (buf: CodeBuffer, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void => alu(buf, 'or', dst, src, form);
/** `xor dst, src` (see {@link alu}). */
export const xor = (buf: CodeBuffer, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void => alu(buf, 'xor', dst, src, form);
/** `cmp dst, src` (see {@link alu}; imm8 form when the immediate fits, else imm32; `'imm32'` forces imm32). */
export const cmp = (buf: CodeBuffer, dst: RM, src: RM | Imm, form: AluForm = 'auto'): void => alu(buf, 'cmp', dst, src, form);

/**
 * `test dst, src`: TEST r/m, reg (85; 84 for bytes) or TEST r/m, imm (F7 /0 id; F6 /0 ib).
 * On any error the buffer is unchanged.
 * @throws ImmediateRangeError if the immediate does not fit the operand.
 * @throws OperandError for mismatched widths or a memory source.
 */
export function test(buf: CodeBuffer, dst: RM, src: RM | Imm): void {
  assertCodeBuffer(buf, 'test');
  const d = rmInfo(dst, 'test');
  if (isImm(src)) {
    const bits: Width = isMem(d) ? memWidth(d, 0, 'test') : d.bits;
    const immBits = bits === 64 ? 32 : bits;
    const v = immValue(src, immBits, 'test', bits !== 64);
    emitSizePrefix(buf, bits);
    emitModRm(buf, bits === 64, bits === 8 ? 0xf6 : 0xf7, 0, d, isRex8(d, bits));
    emitImm(buf, v, immBits);
    return;
  }
  const s = rmInfo(src, 'test');
  if (isMem(s)) throw new OperandError('test: the second operand must be a register or an immediate');
  const bits = commonWidth(d, s, 'test');
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0x84 : 0x85, s.id, d, isRex8(s, bits) || isRex8(d, bits));
}

function incDec(buf: CodeBuffer, digit: 0 | 1, dst: RM, what: string): void {
  assertCodeBuffer(buf, what);
  const d = rmInfo(dst, what);
  const bits: Width = isMem(d) ? memWidth(d, 0, what) : d.bits;
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0xfe : 0xff, digit, d, isRex8(d, bits));
}

/** `inc r/m` (FF /0; FE /0 for bytes). @throws OperandError for a bad operand or a memory operand without width. */
export const inc = (buf: CodeBuffer, dst: RM): void => incDec(buf, 0, dst, 'inc');
/** `dec r/m` (FF /1; FE /1 for bytes). @throws OperandError for a bad operand or a memory operand without width. */
export const dec = (buf: CodeBuffer, dst: RM): void => incDec(buf, 1, dst, 'dec');

/** The shift and rotate operations and their ModRM /digit (Intel SDM: ROL, ROR, SHL, SHR, SAR). */
export const SHIFT_OPS = Object.freeze({ rol: 0, ror: 1, shl: 4, shr: 5, sar: 7 } as const);
/** One of the shift/rotate operations. */
export type ShiftOp = keyof typeof SHIFT_OPS;
const SHIFT_DIGITS = ownTable<number>(SHIFT_OPS);

/**
 * The /digit of a shift or rotate.
 * @throws OperandError unless `op` is an own key of {@link SHIFT_OPS} (so `rcl`, `sal` or
 *   `toString` are refused rather than encoded as something else).
 */
export function shiftDigit(op: unknown, what: string): number {
  const digit = ownEntry(SHIFT_DIGITS, op);
  if (digit === undefined) throw new OperandError(`${what}: unknown shift operation ${describeValue(op)} (one of ${Object.keys(SHIFT_OPS).join(', ')})`);
  return digit;
}

/**
 * `op r/m, imm8` for shifts and rotates: D1 /digit when the count is 1, else C1 /digit ib
 * (D0/C0 for bytes).
 *
 * The count must lie in 0..width-1 (0..63 for 64-bit operands, 0..31 for 32-bit, 0..15,
 * 0..7): the CPU masks an immediate count to 5 bits (6 with REX.W), so `shl eax, 40`
 * would silently shift by 8; such counts are refused instead. A count of 0 is encoded:
 * it leaves the flags alone, but a 32-bit register destination is still written, which
 * zero-extends it (Intel SDM Vol. 1, 3.4.1.1).
 * On any error the buffer is unchanged.
 * @throws OperandError for an unknown operation, a bad operand or a count outside 0..width-1.
 */
export function shift(buf: CodeBuffer, op: ShiftOp, dst: RM, count: number): void {
  assertCodeBuffer(buf, 'shift');
  const digit = shiftDigit(op, 'shift');
  const d = rmInfo(dst, op);
  const bits: Width = isMem(d) ? memWidth(d, 0, op) : d.bits;
  const n = typeof count === 'bigint' && count >= 0n && count < 64n ? Number(count) : count;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= bits) {
    throw new OperandError(`${op}: shift count ${describeValue(count)} is not 0..${bits - 1} for a ${bits}-bit operand (the CPU would mask it)`);
  }
  emitSizePrefix(buf, bits);
  const byteOp = bits === 8 ? 0 : 1;
  if (n === 1) {
    emitModRm(buf, bits === 64, 0xd0 | byteOp, digit, d, isRex8(d, bits));
  } else {
    emitModRm(buf, bits === 64, 0xc0 | byteOp, digit, d, isRex8(d, bits));
    buf.u8(n);
  }
}
