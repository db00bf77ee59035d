import { type CodeBuffer, assertCodeBuffer } from '../code-buffer.js';
import { OperandError } from '../errors.js';
import { type Fallback, assertFallback } from './fallback.js';
import { qword } from '../memory.js';
import { type Gp64, regOfWidth } from '../registers.js';
import { call, jmp, ret } from './branch.js';
import { lfence, pause } from './misc.js';
import { mov } from './mov.js';

/**
 * Emit a retpoline for `reg` (the body of the kernel's `__x86_indirect_thunk_<reg>`):
 *
 * ```
 *   call 1f          ; push the address of the trap, go set up the real target
 * 2: pause           ; speculation of the ret lands here and spins harmlessly
 *   lfence
 *   jmp 2b
 * 1: mov [rsp], reg  ; overwrite the return address with the real target
 *   ret              ; "return" to it: predicted from the RSB, i.e. into the trap
 * ```
 *
 * Jumping to it behaves like `jmp reg` without an indirect branch the predictor could be
 * trained on. Returns the offset of its first byte in `buf`.
 * @throws OperandError unless `reg` is a 64-bit register other than rsp.
 */
export function retpolineThunk(buf: CodeBuffer, reg: Gp64): number {
  assertCodeBuffer(buf, 'retpolineThunk');
  const { id } = regOfWidth(reg, 64, 'retpolineThunk');
  if (id === 4) throw new OperandError('retpolineThunk: rsp cannot hold the target');
  const start = buf.length;
  const setup = buf.newLabel();
  const trap = buf.newLabel();
  call(buf, setup);
  buf.bind(trap);
  pause(buf);
  lfence(buf);
  jmp(buf, trap, 'short');
  buf.bind(setup);
  mov(buf, qword('rsp'), reg);
  ret(buf);
  return start;
}

/**
 * How {@link indirectJump} / {@link indirectCall} reach a target held in a register: a
 * {@link Fallback} (through the thunk at an address, or plainly), or a retpoline inlined at
 * the site (the kernel's `JMP_NOSPEC` / `CALL_NOSPEC` without a shared thunk).
 */
export type IndirectBranch = Fallback | { readonly kind: 'inline' };

/** The {@link IndirectBranch} that inlines a retpoline at the site (frozen). */
export const INLINE_RETPOLINE: IndirectBranch = Object.freeze({ kind: 'inline' });

/**
 * Check the buffer, register and branch of {@link indirectJump} / {@link indirectCall}.
 * @throws OperandError unless `branch` is a {@link Fallback} or {@link INLINE_RETPOLINE}.
 */
function checkIndirect(buf: CodeBuffer, reg: Gp64, branch: IndirectBranch, what: string): void {
  assertCodeBuffer(buf, what);
  regOfWidth(reg, 64, what);
  if (typeof branch === 'object' && branch !== null && branch.kind === 'inline') return;
  assertFallback(branch, what);
}

/**
 * Jump to the address in `reg`: `jmp reg`, `jmp thunk`, or an inline retpoline
 * (the kernel's `JMP_NOSPEC`). For the dispatcher's fallback use {@link emitFallbackJump}.
 * On any error the buffer is unchanged.
 * @throws OperandError for a bad register or branch; DisplacementRangeError if the thunk
 *   is out of reach.
 */
export function indirectJump(buf: CodeBuffer, reg: Gp64, branch: IndirectBranch): void {
  checkIndirect(buf, reg, branch, 'indirectJump');
  if (branch.kind === 'indirect') jmp(buf, reg);
  else if (branch.kind === 'thunk') jmp(buf, branch.thunk);
  else retpolineThunk(buf, reg);
}

/**
 * Call the address in `reg`: `call reg`, `call thunk`, or (inline) a call to a retpoline
 * placed after a short jump over it (the kernel's `CALL_NOSPEC`).
 * On any error the buffer is unchanged.
 * @throws OperandError for a bad register or branch; DisplacementRangeError if the thunk
 *   is out of reach.
 */
export function indirectCall(buf: CodeBuffer, reg: Gp64, branch: IndirectBranch): void {
  checkIndirect(buf, reg, branch, 'indirectCall');
  if (branch.kind === 'indirect') {
    call(buf, reg);
  } else if (branch.kind === 'thunk') {
    call(buf, branch.thunk);
  } else {
    const over = buf.newLabel();
    const thunk = buf.newLabel();
    jmp(buf, over, 'short');
    buf.bind(thunk);
    retpolineThunk(buf, reg);
    buf.bind(over);
    call(buf, thunk);
  }
}
