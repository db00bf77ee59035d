import { describeValue } from './describe.js';
import { OperandError } from './errors.js';
import { type Mem, isMem } from './memory.js';
import { type Gp, type RegInfo, type Width, regInfo } from './registers.js';

/** A register or memory operand (`r/m` in the Intel SDM's notation). */
export type RM = Gp | Mem;

/**
 * The encoder's view of an r/m operand: the register info or the (well-formed) memory operand.
 * @throws OperandError for anything else.
 */
export function rmInfo(operand: RM, what: string): RegInfo | Mem {
  if (typeof operand === 'string') return regInfo(operand);
  if (isMem(operand)) return operand;
  throw new OperandError(`${what}: expected a register or memory operand, got ${describe(operand)}`);
}

/** A short description of an operand for error messages (register names bare). Never throws. */
export function describe(operand: unknown): string {
  if (typeof operand === 'string') return operand;
  return describeValue(operand);
}

/**
 * The common width of two operands (a memory operand without width takes the other's).
 * @throws OperandError if they differ or neither gives one.
 */
export function commonWidth(a: RegInfo | Mem, b: RegInfo | Mem, what: string): Width {
  const wa = a.bits;
  const wb = b.bits;
  if (wa !== 0 && wb !== 0 && wa !== wb) throw new OperandError(`${what}: operand widths differ (${wa} and ${wb} bits)`);
  const bits = wa || wb;
  if (bits === 0) throw new OperandError(`${what}: operand width unknown (use qword/dword/word/byte)`);
  return bits;
}

/** True if an operand is a register of id 4..7 used as a byte register (needs REX). */
export function isRex8(info: RegInfo | Mem, bits: Width): boolean {
  return bits === 8 && !('kind' in info) && info.id >= 4;
}
