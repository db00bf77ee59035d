/**
 * The arithmetic of RFC 9669 on unsigned 64-bit bigints: ALU operations, byte swaps,
 * sign extension and jump conditions, for both widths. Pure functions, shared by the
 * interpreter and usable as a reference by other backends' tests.
 */
import type { AluOperation, JmpCondition, Width } from '../program.js';

const MASK32 = 0xffff_ffffn;

/** An operand as the instruction sees it: a 32-bit immediate is sign-extended to 64 bits. */
export function immOperand(imm: number): bigint {
  return BigInt.asUintN(64, BigInt(imm));
}

/**
 * `dst OP src` for an ALU operation (RFC 9669 section 4.1). `a` and `b` are the full
 * 64-bit register values (unsigned); the result is unsigned 64-bit, and for width 32
 * it is the 32-bit result zero-extended. Division by zero gives 0; modulo by zero
 * leaves the dividend (its low 32 bits for width 32); shift counts are masked to the
 * width; `sdiv` of INT_MIN by -1 gives INT_MIN and `smod` gives 0.
 */
export function aluOp(operation: AluOperation, width: Width, a: bigint, b: bigint): bigint {
  if (width === 32) {
    const x = a & MASK32;
    const y = b & MASK32;
    return BigInt.asUintN(32, alu32(operation, x, y));
  }
  return BigInt.asUintN(64, alu64(operation, a, b));
}

function alu64(operation: AluOperation, a: bigint, b: bigint): bigint {
  switch (operation) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return b === 0n ? 0n : a / b;
    case 'sdiv':
      return b === 0n ? 0n : BigInt.asIntN(64, a) / BigInt.asIntN(64, b);
    case 'mod':
      return b === 0n ? a : a % b;
    case 'smod':
      return b === 0n ? a : BigInt.asIntN(64, a) % BigInt.asIntN(64, b);
    case 'or':
      return a | b;
    case 'and':
      return a & b;
    case 'xor':
      return a ^ b;
    case 'lsh':
      return a << (b & 63n);
    case 'rsh':
      return a >> (b & 63n);
    case 'arsh':
      return BigInt.asIntN(64, a) >> (b & 63n);
    case 'mov':
      return b;
  }
}

function alu32(operation: AluOperation, a: bigint, b: bigint): bigint {
  switch (operation) {
    case 'sdiv':
      return b === 0n ? 0n : BigInt.asIntN(32, a) / BigInt.asIntN(32, b);
    case 'smod':
      return b === 0n ? a : BigInt.asIntN(32, a) % BigInt.asIntN(32, b);
    case 'lsh':
      return a << (b & 31n);
    case 'rsh':
      return a >> (b & 31n);
    case 'arsh':
      return BigInt.asIntN(32, a) >> (b & 31n);
    default:
      return alu64(operation, a, b);
  }
}

/** `dst = -dst` at the given width (zero-extended for 32). */
export function negOp(width: Width, a: bigint): bigint {
  return width === 32 ? BigInt.asUintN(32, -(a & MASK32)) : BigInt.asUintN(64, -a);
}

/** `movsx`: sign-extend the low `bits` of `a` to the width (zero-extended to 64 for width 32). */
export function movsxOp(width: Width, bits: 8 | 16 | 32, a: bigint): bigint {
  return BigInt.asUintN(width, BigInt.asIntN(bits, a));
}

/** Reverse the byte order of the low `bits` of `a` (the result is zero-extended). */
export function byteSwap(bits: 16 | 32 | 64, a: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < BigInt(bits); i += 8n) out = (out << 8n) | ((a >> i) & 0xffn);
  return out;
}

/**
 * A byte swap instruction on a little-endian machine (RFC 9669 section 4.2): `le`
 * truncates to `bits` (zero-extending), `be` and `bswap` reverse the low `bits` bytes.
 */
export function endianOp(order: 'le' | 'be' | 'bswap', bits: 16 | 32 | 64, a: bigint): bigint {
  return order === 'le' ? BigInt.asUintN(bits, a) : byteSwap(bits, a);
}

/**
 * A jump condition (RFC 9669 section 4.3) on full 64-bit register values `a` (dst) and
 * `b` (src or sign-extended immediate); width 32 compares the low 32 bits.
 */
export function jmpCond(cond: JmpCondition, width: Width, a: bigint, b: bigint): boolean {
  const x = width === 32 ? a & MASK32 : a;
  const y = width === 32 ? b & MASK32 : b;
  switch (cond) {
    case 'jeq':
      return x === y;
    case 'jne':
      return x !== y;
    case 'jgt':
      return x > y;
    case 'jge':
      return x >= y;
    case 'jlt':
      return x < y;
    case 'jle':
      return x <= y;
    case 'jset':
      return (x & y) !== 0n;
    case 'jsgt':
      return BigInt.asIntN(width, x) > BigInt.asIntN(width, y);
    case 'jsge':
      return BigInt.asIntN(width, x) >= BigInt.asIntN(width, y);
    case 'jslt':
      return BigInt.asIntN(width, x) < BigInt.asIntN(width, y);
    case 'jsle':
      return BigInt.asIntN(width, x) <= BigInt.asIntN(width, y);
  }
}
