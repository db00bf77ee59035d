import { assertCodeBuffer, type CodeBuffer } from '../code-buffer.js';
import { describeValue } from '../describe.js';
import { emitModRm, emitSizePrefix } from '../encoding.js';
import { OperandError } from '../errors.js';
import { isMem, type Mem } from '../memory.js';
import { commonWidth, isRex8 } from '../operands.js';
import { type Gp, regInfo } from '../registers.js';
import { ALU_OPS } from './alu.js';

/** The read-modify-write ALU operations that take a LOCK prefix (all but `cmp`). */
export const LOCK_ALU_OPS = Object.freeze(['add', 'or', 'and', 'sub', 'xor'] as const);
/** One of {@link LOCK_ALU_OPS}. */
export type LockAluOp = (typeof LOCK_ALU_OPS)[number];

function memAndReg(dst: Mem, src: Gp, what: string): { bits: 8 | 16 | 32 | 64; id: number; rex8: boolean } {
  if (!isMem(dst)) throw new OperandError(`${what}: the first operand must be a memory operand`);
  const s = regInfo(src);
  const bits = commonWidth(dst, s, what);
  return { bits, id: s.id, rex8: isRex8(s, bits) };
}

/**
 * `lock op [mem], reg` (LOCK prefix F0, then ADD/OR/AND/SUB/XOR r/m, r: 01/09/21/29/31 /r;
 * 00/08/20/28/30 for bytes): an atomic read-modify-write of memory, the kernel JIT's
 * form of eBPF's `BPF_ATOMIC` add/or/and/xor without `BPF_FETCH`.
 * @throws OperandError for an unknown operation, a register destination or mismatched widths.
 */
export function lockAlu(buf: CodeBuffer, op: LockAluOp, dst: Mem, src: Gp): void {
  assertCodeBuffer(buf, 'lockAlu');
  if (!LOCK_ALU_OPS.includes(op)) throw new OperandError(`lock: ${describeValue(op)} is not a lockable ALU operation`);
  const what = `lock ${op}`;
  const { bits, id, rex8 } = memAndReg(dst, src, what);
  buf.u8(0xf0);
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, (ALU_OPS[op] << 3) | (bits === 8 ? 0 : 1), id, dst, rex8);
}

/**
 * `lock cmpxchg [mem], reg` (LOCK CMPXCHG r/m, r: F0 0F B1 /r; 0F B0 for bytes): compare
 * rax (eax, ...) with memory; if equal store `reg`, else load memory into rax. ZF tells
 * which. eBPF's `BPF_CMPXCHG` (R0 is the comparand) and the retry loop of the fetching
 * and/or/xor atomics. Note that the 32-bit form leaves the upper half of rax unchanged when
 * the exchange succeeds: zero-extend eax afterwards where eBPF requires it.
 * @throws OperandError for a register destination or mismatched widths.
 */
export function lockCmpxchg(buf: CodeBuffer, dst: Mem, src: Gp): void {
  assertCodeBuffer(buf, 'lockCmpxchg');
  const { bits, id, rex8 } = memAndReg(dst, src, 'lock cmpxchg');
  buf.u8(0xf0);
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0x0fb0 : 0x0fb1, id, dst, rex8);
}
