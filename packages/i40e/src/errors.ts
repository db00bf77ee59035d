import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the i40e shim's errors. `MALFORMED` and `UNSUPPORTED` come from the capture-file
 * readers (`capture/`: a damaged file, or a format/version/link type they do not handle).
 */
export type I40eErrorCode = 'EINVAL' | 'UNKNOWN_NETDEV' | 'NOT_ATTACHED' | 'DISPOSED' | 'MALFORMED' | 'UNSUPPORTED';

/** Errors of the i40e shim (bad options, a netdev of another device, detaching when nothing is attached, use after dispose). */
export class I40eError extends BpfDispatcherError<I40eErrorCode> {}
