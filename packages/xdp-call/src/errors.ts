import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/** Codes of the xdp_call layer's errors. */
export type XdpErrorCode = 'EINVAL' | 'NOT_ATTACHED' | 'DISPOSED' | 'EBUSY' | 'EPERM' | 'SYNC_TIMEOUT';

/**
 * Errors of the xdp_call layer: bad arguments (EINVAL), detaching a program that is not
 * attached (NOT_ATTACHED), use after dispose (DISPOSED), disposing a program that is
 * still attached (EBUSY), changing an xdp_call a driver owns from outside (EPERM), a
 * reader that does not leave code about to be freed (SYNC_TIMEOUT). Errors of the dispatcher underneath are
 * passed through unchanged (`DispatcherError`).
 */
export class XdpError extends BpfDispatcherError<XdpErrorCode> {}
