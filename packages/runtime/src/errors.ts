import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the errors thrown by the eBPF runtime (maps and helpers). The errno-like codes
 * are those the kernel's map operations return (`bpf_map_update_elem` and friends), with
 * the same meaning:
 *
 * - `EINVAL`: a bad argument (wrong key or value size, unknown flags, a deleted array entry).
 * - `E2BIG`: the map is full (`max_entries` reached), or an array index out of range.
 * - `ENOENT`: no such key (`BPF_EXIST` update, delete).
 * - `EEXIST`: the key exists (`BPF_NOEXIST` update).
 * - `ENOMEM`: no free element right now: every spare element of a hash map waits for a
 *   grace period (retry after `map.synchronize()`), or the arena is full.
 * - `EPERM`: the map is frozen (`.rodata`, or after `freeze()`), or read-only for programs.
 * - `DISPOSED`: the map, the runtime or its arena was disposed.
 * - `UNSUPPORTED`: a map type, flag or helper this runtime does not provide.
 */
export type RuntimeErrorCode = 'EINVAL' | 'E2BIG' | 'ENOENT' | 'EEXIST' | 'ENOMEM' | 'EPERM' | 'EBUSY' | 'DISPOSED' | 'UNSUPPORTED';

/** Base class of the runtime's errors; `code` says which. */
export class RuntimeError extends BpfDispatcherError<RuntimeErrorCode> {}

/** Kernel errno values the native map functions return negated. */
export const ERRNO = Object.freeze({ EPERM: 1, ENOENT: 2, ENOMEM: 12, EBUSY: 16, EEXIST: 17, EINVAL: 22, E2BIG: 7 });

/** The code for a negative errno a native map function returned (`-ENOENT` → `ENOENT`). */
export function codeOfErrno(ret: bigint | number): RuntimeErrorCode {
  const errno = -Number(BigInt.asIntN(64, BigInt(ret)));
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name as RuntimeErrorCode;
  return 'EINVAL';
}
