import { assertCodeBuffer, type CodeBuffer } from '../code-buffer.js';
import { emitModRm, emitSizePrefix } from '../encoding.js';
import { isMem, memWidth } from '../memory.js';
import { isRex8, type RM, rmInfo } from '../operands.js';
import type { Width } from '../registers.js';
import { type ShiftOp, shiftDigit } from './alu.js';

/**
 * `op r/m, cl`: shift or rotate by the count in `cl` (Intel SDM: SAL/SAR/SHL/SHR, ROL/ROR
 * r/m, CL: D3 /digit; D2 /digit for bytes). The CPU masks the count to 5 bits (6 for 64-bit
 * operands), which is exactly eBPF's masking of shift counts; the kernel's JIT moves the
 * count into rcx around it when BMI2 is not used.
 * @throws OperandError for an unknown operation or a memory operand without width.
 */
export function shiftCl(buf: CodeBuffer, op: ShiftOp, dst: RM): void {
  assertCodeBuffer(buf, 'shiftCl');
  const digit = shiftDigit(op, 'shiftCl');
  const d = rmInfo(dst, op);
  const bits: Width = isMem(d) ? memWidth(d, 0, op) : d.bits;
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0xd2 : 0xd3, digit, d, isRex8(d, bits));
}
