/**
 * Small constructors for the errors the object parser throws, so every check reads as one
 * line and every error carries where it was found.
 */
import { BpfObjectError, type BpfObjectErrorWhere } from './errors.js';

/**
 * A structural defect of the object (truncated, out of bounds, inconsistent): code `MALFORMED`.
 * Mirrors the `-LIBBPF_ERRNO__FORMAT` / `-LIBBPF_ERRNO__RELOC` / `-EINVAL` failures of libbpf's
 * `bpf_object__open`.
 */
export function malformed(message: string, where: BpfObjectErrorWhere = {}): BpfObjectError {
  return new BpfObjectError('MALFORMED', message, where);
}

/**
 * A well-formed feature this runtime does not provide (CO-RE, externs, kfuncs, callbacks,
 * map-in-map): code `UNSUPPORTED`, naming the symbol and section where known.
 */
export function unsupported(message: string, where: BpfObjectErrorWhere = {}): BpfObjectError {
  return new BpfObjectError('UNSUPPORTED', message, where);
}

/** Where-information without undefined members (for `exactOptionalPropertyTypes`). */
export function where(offset?: number, section?: string, symbol?: string): BpfObjectErrorWhere {
  return {
    ...(offset !== undefined ? { offset } : {}),
    ...(section !== undefined ? { section } : {}),
    ...(symbol !== undefined ? { symbol } : {}),
  };
}
