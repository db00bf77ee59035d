/**
 * The shared core of every instruction form: immediates, REX, ModRM, SIB and
 * displacement. Instruction modules call these; users normally do not.
 */
import type { CodeBuffer } from './code-buffer.js';
import { describeValue } from './describe.js';
import { ImmediateRangeError, OperandError } from './errors.js';
import type { Mem } from './memory.js';
import type { RegInfo, Width } from './registers.js';

/** An immediate: a safe integer, or a bigint read as a 64-bit pattern. */
export type Imm = number | bigint;

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** True if a bigint is a 64-bit pattern: a signed or unsigned 64-bit value. */
export function isInt64Pattern(value: bigint): boolean {
  return value >= INT64_MIN && value <= UINT64_MAX;
}

/** True if `value` is an integer the sign-extended imm8 form can carry. False for any non-integer input. */
export function fitsInt8(value: Imm): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= -128 && value <= 127;
  if (typeof value !== 'bigint' || !isInt64Pattern(value)) return false;
  const v = BigInt.asIntN(64, value);
  return v >= -128n && v <= 127n;
}

/**
 * True if `value`, read as a 64-bit pattern, equals the sign extension of its low 32 bits.
 * False for any non-integer input and for bigints outside the 64-bit range.
 */
export function fitsInt32(value: Imm): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
  if (typeof value !== 'bigint' || !isInt64Pattern(value)) return false;
  const v = BigInt.asIntN(64, value);
  return v >= -0x8000_0000n && v <= 0x7fff_ffffn;
}

/**
 * An immediate as a signed 64-bit bigint: a safe integer, or a bigint read as a 64-bit
 * pattern (signed or unsigned).
 * @throws OperandError if it is neither a number nor a bigint.
 * @throws ImmediateRangeError for a non-integer, unsafe or non-finite number, or a bigint
 *   outside the 64-bit range.
 */
export function imm64(value: Imm, what: string): bigint {
  if (typeof value === 'bigint') {
    if (isInt64Pattern(value)) return BigInt.asIntN(64, value);
    throw new ImmediateRangeError(value, 64, what);
  }
  if (typeof value !== 'number') throw new OperandError(`${what}: expected an immediate (number or bigint), got ${describeValue(value)}`);
  if (Number.isSafeInteger(value)) return BigInt(value);
  throw new ImmediateRangeError(Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n, 64, `${what} (${value} is not a safe integer; pass a bigint)`);
}

/**
 * An immediate checked to be representable as a signed `bits`-bit value, as a number.
 * For 8/16/32-bit operands the unsigned range is accepted too (`mov eax, 0xffffffff`).
 * `what` names the instruction in the error; keep it a constant string (hot path).
 * @throws ImmediateRangeError otherwise; OperandError if `value` is not a number or bigint.
 */
export function immValue(value: Imm, bits: 8 | 16 | 32, what: string, allowUnsigned: boolean): number {
  if (typeof value !== 'number' && typeof value !== 'bigint') {
    throw new OperandError(`${what}: expected an immediate (number or bigint), got ${describeValue(value)}`);
  }
  if (typeof value === 'bigint' && !isInt64Pattern(value)) throw new ImmediateRangeError(value, bits, what);
  const v = typeof value === 'bigint' ? BigInt.asIntN(64, value) : value;
  const lo = bits === 32 ? INT32_MIN : bits === 8 ? -0x80 : -0x8000;
  const hi = bits === 32 ? (allowUnsigned ? 0xffff_ffff : INT32_MAX) : bits === 8 ? (allowUnsigned ? 0xff : 0x7f) : allowUnsigned ? 0xffff : 0x7fff;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= lo && v <= hi) return v;
    throw new ImmediateRangeError(Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n, bits, what);
  }
  if (v >= BigInt(lo) && v <= BigInt(hi)) return Number(v);
  throw new ImmediateRangeError(v, bits, what);
}

/** Emit an immediate of `bits` bits (little endian). */
export function emitImm(buf: CodeBuffer, value: number, bits: 8 | 16 | 32): void {
  if (bits === 8) buf.u8(value & 0xff);
  else if (bits === 16) buf.u16(value);
  else buf.u32(value);
}

/** REX.W bit. */
export const REX_W = 8;

/**
 * Emit the operand-size prefix (0x66) for 16-bit operations. Must precede REX.
 */
export function emitSizePrefix(buf: CodeBuffer, bits: Width): void {
  if (bits === 16) buf.u8(0x66);
}

/** Emit an opcode of one or two bytes (two-byte opcodes are written as 0x0Fxx). */
function emitOpcode(buf: CodeBuffer, opcode: number): void {
  if (opcode > 0xff) buf.u8x2(opcode >> 8, opcode & 0xff);
  else buf.u8(opcode);
}

/**
 * True if an 8-bit register operand needs a REX prefix to mean spl/bpl/sil/dil (id 4..7).
 */
export function needsRex8(reg: RegInfo): boolean {
  return reg.bits === 8 && reg.id >= 4;
}

/**
 * Emit `[REX] opcode ModRM` with a register in r/m (mod = 11).
 * @param w REX.W (64-bit operand size).
 * @param reg the ModRM.reg field: a register id or an opcode extension (/digit).
 * @param force emit a REX prefix even when no bit is set (byte registers spl..dil).
 */
export function emitRR(buf: CodeBuffer, w: boolean, opcode: number, reg: number, rm: number, force = false): void {
  const rex = (w ? REX_W : 0) | ((reg >> 3) & 1) << 2 | ((rm >> 3) & 1);
  if (rex !== 0 || force) buf.u8(0x40 | rex);
  emitOpcode(buf, opcode);
  buf.u8(0xc0 | ((reg & 7) << 3) | (rm & 7));
}

/**
 * Emit `[REX] opcode ModRM [SIB] [disp]` for a memory operand `[base + disp]`.
 * Handles the two special cases of the encoding: a base of rsp/r12 needs a SIB byte
 * (0x24), and a base of rbp/r13 has no disp-less form (mod 00 means RIP/disp32), so it
 * takes a zero disp8.
 */
export function emitRM(buf: CodeBuffer, w: boolean, opcode: number, reg: number, mem: Mem, force = false): void {
  const base = mem.baseId;
  const rex = (w ? REX_W : 0) | ((reg >> 3) & 1) << 2 | ((base >> 3) & 1);
  if (rex !== 0 || force) buf.u8(0x40 | rex);
  emitOpcode(buf, opcode);
  const disp = mem.disp;
  const low = base & 7;
  const mod = disp === 0 && low !== 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 2;
  buf.u8((mod << 6) | ((reg & 7) << 3) | low);
  if (low === 4) buf.u8(0x24);
  if (mod === 1) buf.u8(disp & 0xff);
  else if (mod === 2) buf.u32(disp);
}

/** Emit an r/m form where r/m is either a register (by info) or a memory operand. */
export function emitModRm(
  buf: CodeBuffer,
  w: boolean,
  opcode: number,
  reg: number,
  rm: RegInfo | Mem,
  force = false,
): void {
  if ('kind' in rm) emitRM(buf, w, opcode, reg, rm, force);
  else emitRR(buf, w, opcode, reg, rm.id, force);
}
