import { EbpfError } from '../errors.js';

/**
 * The JIT refused or could not translate a program (code `JIT`): an instruction it does not
 * know or that breaks a structural rule (the checks the kernel's verifier makes before its
 * JIT runs), or code out of reach of a helper. `index` is the instruction slot at fault, or
 * -1 when the whole program is concerned.
 */
export class JitError extends EbpfError {
  constructor(
    readonly index: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('JIT', index >= 0 ? `jit: insn ${index}: ${message}` : `jit: ${message}`, options);
  }
}
