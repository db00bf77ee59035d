import { type CodeBuffer, type Label, type Target, assertCodeBuffer, isAddress } from '../code-buffer.js';
import { describeValue } from '../describe.js';
import { OperandError } from '../errors.js';
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

/** How {@link indirectJump} / {@link indirectCall} reach a target held in a register. */
export interface IndirectOptions {
  /**
   * `false`: a plain `jmp reg` / `call reg`. `true`: through a retpoline — to `thunk`
   * when given (the kernel's `__x86_indirect_thunk_<reg>`), else inlined at the site.
   */
  readonly retpoline: boolean;
  /** Address or label of a {@link retpolineThunk} for the same register. */
  readonly thunk?: Target;
}

/**
 * Check the buffer, register and options of {@link indirectJump} / {@link indirectCall}.
 * A thunk must be an {@link Address} (a number or bigint, never a string) or a label of `buf`.
 */
function checkIndirect(buf: CodeBuffer, reg: Gp64, options: IndirectOptions, what: string): void {
  assertCodeBuffer(buf, what);
  regOfWidth(reg, 64, what);
  if (typeof options !== 'object' || options === null) throw new OperandError(`${what}: options must be { retpoline, thunk? }, got ${describeValue(options)}`);
  if (typeof options.retpoline !== 'boolean') throw new OperandError(`${what}: options.retpoline must be a boolean, got ${describeValue(options.retpoline)}`);
  const thunk: unknown = options.thunk;
  if (thunk === undefined || isAddress(thunk)) return;
  if (typeof thunk !== 'object' || thunk === null) {
    throw new OperandError(`${what}: options.thunk ${describeValue(thunk)} is not an address (use a safe integer or a 64-bit bigint) or a label`);
  }
  buf.checkLabelField(thunk as Label, 'rel32');
}

/**
 * Jump to the address in `reg`: `jmp reg`, `jmp thunk`, or an inline retpoline
 * (the kernel's `JMP_NOSPEC`). On any error the buffer is unchanged.
 * @throws OperandError for a bad register, bad options or a thunk that is neither an
 *   address nor a label; LabelError for a foreign label; DisplacementRangeError if the
 *   thunk is out of reach.
 */
export function indirectJump(buf: CodeBuffer, reg: Gp64, options: IndirectOptions): void {
  checkIndirect(buf, reg, options, 'indirectJump');
  if (!options.retpoline) jmp(buf, reg);
  else if (options.thunk !== undefined) jmp(buf, options.thunk);
  else retpolineThunk(buf, reg);
}

/**
 * Call the address in `reg`: `call reg`, `call thunk`, or (without a thunk) a call to an
 * inline retpoline placed after a short jump over it (the kernel's `CALL_NOSPEC`).
 * On any error the buffer is unchanged.
 * @throws OperandError for a bad register, bad options or a thunk that is neither an
 *   address nor a label; LabelError for a foreign label; DisplacementRangeError if the
 *   thunk is out of reach.
 */
export function indirectCall(buf: CodeBuffer, reg: Gp64, options: IndirectOptions): void {
  checkIndirect(buf, reg, options, 'indirectCall');
  if (!options.retpoline) {
    call(buf, reg);
  } else if (options.thunk !== undefined) {
    call(buf, options.thunk);
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
