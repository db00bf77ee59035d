import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the dispatcher's errors. The kernel stays silent in these cases (the old image
 * stays live and traffic keeps flowing through the fallback); we keep that outcome and
 * also say what happened.
 */
export type DispatcherErrorCode =
  | 'EINVAL'
  | 'EBUSY'
  | 'NOT_SIMM32'
  | 'ERANGE'
  | 'IMAGE_TOO_LARGE'
  | 'ENOMEM'
  | 'POKE_FAILED'
  | 'SYNC_TIMEOUT'
  | 'DISPOSED';

/** Base class of the dispatcher's errors. */
export class DispatcherError extends BpfDispatcherError<DispatcherErrorCode> {}

/** A program address is not a sign-extended imm32, so `cmp rdx, imm32` cannot name it. */
export class NotSimm32Error extends DispatcherError {
  constructor(readonly prog: bigint) {
    super('NOT_SIMM32', `program at 0x${prog.toString(16)} is not a sign-extended imm32 address; cmp rdx, imm32 cannot name it (it runs through the fallback)`);
  }
}

/** The generated image does not fit its half. `size` is what it would need. */
export class ImageTooLargeError extends DispatcherError {
  constructor(
    readonly size: number,
    readonly limit: number,
    readonly progs: number,
  ) {
    super('IMAGE_TOO_LARGE', `a dispatcher of ${progs} programs needs ${size} bytes; a half holds ${limit}`);
  }
}
