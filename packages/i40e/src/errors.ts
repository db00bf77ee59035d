import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/** Codes of the i40e shim's errors. */
export type I40eErrorCode = 'EINVAL' | 'UNKNOWN_NETDEV' | 'NOT_ATTACHED' | 'DISPOSED';

/** Errors of the i40e shim (bad options, a netdev of another device, detaching when nothing is attached, use after dispose). */
export class I40eError extends BpfDispatcherError<I40eErrorCode> {}
