import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/** Codes of the xdp_call layer's errors. */
export type XdpErrorCode = 'EINVAL' | 'NOT_ATTACHED' | 'DISPOSED';

/**
 * Errors of the xdp_call layer: bad arguments (EINVAL), detaching a program that is not
 * attached (NOT_ATTACHED), use after dispose. Errors of the dispatcher underneath are
 * passed through unchanged (`DispatcherError`).
 */
export class XdpError extends BpfDispatcherError<XdpErrorCode> {}
