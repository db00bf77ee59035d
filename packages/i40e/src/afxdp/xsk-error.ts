import { I40eError } from '../errors.js';

/** Errnos that mean "this kernel, driver or process cannot do that here" rather than "these arguments are wrong". */
const UNSUPPORTED_ERRNOS = new Set([
  'EAFNOSUPPORT',
  'EOPNOTSUPP',
  'ENOTSUP',
  'EPROTONOSUPPORT',
  'ENOPROTOOPT',
  'ENOSYS',
  'EPERM',
  'EACCES',
]);

/**
 * A system call of the AF_XDP set-up failed: `call` names it (`socket(AF_XDP)`,
 * `bind(ifindex 3, queue 0, copy)`, …), `errno`/`errnoName` are the kernel's. The code is
 * `UNSUPPORTED` when the kernel, the driver or the process's privileges cannot do it
 * (EAFNOSUPPORT, EOPNOTSUPP, EPROTONOSUPPORT, ENOPROTOOPT, ENOSYS, EPERM, EACCES), else
 * `EINVAL` (the options cannot be satisfied: ENODEV, EINVAL, EBUSY for a queue another
 * socket holds, ENOMEM, …).
 */
export class XskError extends I40eError {
  /** The errno (positive). */
  readonly errno: number;
  /** Its symbolic name (`EBUSY`, …). */
  readonly errnoName: string;
  /** The call that failed, with its main arguments. */
  readonly call: string;

  constructor(call: string, errno: number, errnoName: string, hint = '') {
    super(UNSUPPORTED_ERRNOS.has(errnoName) ? 'UNSUPPORTED' : 'EINVAL', `${call}: ${errnoName}${hint.length > 0 ? ` (${hint})` : ''}`);
    this.errno = errno;
    this.errnoName = errnoName;
    this.call = call;
  }
}
