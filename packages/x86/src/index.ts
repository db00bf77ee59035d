/**
 * `@bpf-dispatcher/x86`: a small, synchronous, dependency-free x86-64 encoder for JITs.
 *
 * Write code into a {@link CodeBuffer} with one function per instruction form
 * (`cmp(buf, 'rdx', -1)`, `jcc(buf, 'e', target)`, ...), bind labels, and `finish()`.
 * The decoder/listing lives in the `@bpf-dispatcher/x86/disasm` subpath.
 */
export { type Address, isAddress, toAddress } from './address.js';
export { describeValue } from './describe.js';
export { CodeBuffer, type Fixup, type Label, type Target } from './code-buffer.js';
export { fitsInt8, fitsInt32, type Imm } from './encoding.js';
export {
  BpfDispatcherError,
  DisplacementRangeError,
  ImmediateRangeError,
  LabelError,
  OperandError,
  X86Error,
  type X86ErrorCode,
} from './errors.js';
export { type Mem, byte, dword, isMem, ptr, qword, word } from './memory.js';
export { MAX_NOP, NOP5, P6_NOPS } from './nops.js';
export type { RM } from './operands.js';
export {
  GP8,
  GP16,
  GP32,
  GP64,
  type Gp,
  type Gp8,
  type Gp16,
  type Gp32,
  type Gp64,
  type Width,
  isGp,
} from './registers.js';
export {
  ALU_OPS,
  SHIFT_OPS,
  type AluForm,
  type AluOp,
  type ShiftOp,
  add,
  alu,
  aluImm32,
  and,
  cmp,
  dec,
  inc,
  or,
  shift,
  sub,
  test,
  xor,
} from './instructions/alu.js';
export { type BranchForm, call, jcc, jmp, ret } from './instructions/branch.js';
export { CANONICAL_CONDITIONS, CONDITIONS, type Condition, conditionCode } from './instructions/conditions.js';
export { int3, leave, lfence, mfence, nop5, pause, pop, push, rdtsc, rdtscp } from './instructions/misc.js';
export { type MovForm, cmovcc, lea, lockXadd, mov, movzx, setcc, xchg } from './instructions/mov.js';
export {
  INLINE_RETPOLINE,
  type IndirectBranch,
  indirectCall,
  indirectJump,
  retpolineThunk,
} from './instructions/retpoline.js';
export { FALLBACK_INDIRECT, type Fallback, assertFallback, emitFallbackJump, fallbackThunk, isFallback } from './instructions/fallback.js';
export { cdq, cqo, div, idiv, imul, mul, neg, not } from './instructions/muldiv.js';
export { bswap, movsx } from './instructions/extend.js';
export { shiftCl } from './instructions/shift-cl.js';
export { LOCK_ALU_OPS, type LockAluOp, lockAlu, lockCmpxchg } from './instructions/atomic.js';
