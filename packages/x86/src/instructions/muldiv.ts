import { assertCodeBuffer, type CodeBuffer } from '../code-buffer.js';
import { emitImm, emitModRm, emitSizePrefix, fitsInt8, type Imm, immValue } from '../encoding.js';
import { OperandError } from '../errors.js';
import { isMem, memWidth } from '../memory.js';
import { commonWidth, describe, isRex8, type RM, rmInfo } from '../operands.js';
import { type Gp, regInfo, type Width } from '../registers.js';

/**
 * `imul dst, src` (IMUL r, r/m: 0F AF /r) or, given an immediate, the three-operand
 * `imul dst, src, imm` (IMUL r, r/m, imm: 6B /r ib when the immediate fits a signed byte,
 * else 69 /r id; the imm32 is sign-extended for 64-bit operands). The low half of the
 * product is the same for signed and unsigned operands, which is why the kernel's JIT
 * uses IMUL for eBPF's `mul`.
 * @throws OperandError for byte operands, mismatched widths or a memory destination.
 * @throws ImmediateRangeError if the immediate does not fit the operand (imm16/imm32).
 */
export function imul(buf: CodeBuffer, dst: Gp, src: RM, imm?: Imm): void {
  assertCodeBuffer(buf, 'imul');
  const d = regInfo(dst);
  const s = rmInfo(src, 'imul');
  const bits = commonWidth(d, s, 'imul');
  if (bits === 8) throw new OperandError('imul: the two- and three-operand forms have no byte operands');
  if (imm === undefined) {
    emitSizePrefix(buf, bits);
    emitModRm(buf, bits === 64, 0x0faf, d.id, s);
    return;
  }
  if (typeof imm !== 'number' && typeof imm !== 'bigint')
    throw new OperandError(`imul: the immediate must be a number or bigint, got ${describe(imm)}`);
  const short = fitsInt8(imm);
  const immBits = short ? 8 : bits === 16 ? 16 : 32;
  const v = immValue(imm, immBits, 'imul', bits !== 64 && !short);
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, short ? 0x6b : 0x69, d.id, s);
  emitImm(buf, v, immBits);
}

/** Group-3 unary operations and their ModRM /digit (F7 /digit; F6 for bytes). */
const GROUP3 = Object.freeze({ not: 2, neg: 3, mul: 4, imul1: 5, div: 6, idiv: 7 } as const);

function group3(buf: CodeBuffer, name: keyof typeof GROUP3, operand: RM): void {
  const what = name === 'imul1' ? 'imul' : name;
  assertCodeBuffer(buf, what);
  const o = rmInfo(operand, what);
  const bits: Width = isMem(o) ? memWidth(o, 0, what) : o.bits;
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0xf6 : 0xf7, GROUP3[name], o, isRex8(o, bits));
}

/** `neg r/m` (NEG: F7 /3; F6 /3 for bytes): two's complement negation. @throws OperandError for a memory operand without width. */
export const neg = (buf: CodeBuffer, operand: RM): void => group3(buf, 'neg', operand);
/** `not r/m` (NOT: F7 /2; F6 /2 for bytes): one's complement. @throws OperandError for a memory operand without width. */
export const not = (buf: CodeBuffer, operand: RM): void => group3(buf, 'not', operand);
/**
 * `mul r/m` (MUL: F7 /4; F6 /4 for bytes): unsigned rdx:rax = rax * r/m (by width).
 * @throws OperandError for a memory operand without width.
 */
export const mul = (buf: CodeBuffer, operand: RM): void => group3(buf, 'mul', operand);
/**
 * `div r/m` (DIV: F7 /6; F6 /6 for bytes): unsigned divide rdx:rax (edx:eax, ...) by r/m,
 * quotient in rax, remainder in rdx. Traps (#DE) on a zero divisor or a quotient that does
 * not fit, so a JIT must test the divisor first, as eBPF defines division by zero.
 * @throws OperandError for a memory operand without width.
 */
export const div = (buf: CodeBuffer, operand: RM): void => group3(buf, 'div', operand);
/**
 * `idiv r/m` (IDIV: F7 /7; F6 /7 for bytes): signed divide, quotient truncated toward zero
 * in rax, remainder (sign of the dividend) in rdx. Traps (#DE) on zero and on INT_MIN / -1.
 * @throws OperandError for a memory operand without width.
 */
export const idiv = (buf: CodeBuffer, operand: RM): void => group3(buf, 'idiv', operand);

/** `cqo` (REX.W 99): sign-extend rax into rdx:rax, before a 64-bit `idiv`. */
export function cqo(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'cqo');
  buf.u8x2(0x48, 0x99);
}
/** `cdq` (99): sign-extend eax into edx:eax, before a 32-bit `idiv`. */
export function cdq(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'cdq');
  buf.u8(0x99);
}
