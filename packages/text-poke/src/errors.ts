import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the errors thrown by the arenas. The errno-like ones mirror what the kernel's
 * `bpf_arch_text_poke` returns: EBUSY (the site does not hold the expected instruction),
 * ERANGE (the target is out of rel32 reach), EINVAL (a bad argument), ENOMEM.
 */
export type TextPokeErrorCode =
  | 'EBUSY'
  | 'ERANGE'
  | 'EINVAL'
  | 'ENOMEM'
  | 'EFAULT'
  | 'DISPOSED'
  | 'UNSUPPORTED_PLATFORM'
  | 'SYNC_TIMEOUT'
  | 'STEP_LIMIT'
  | 'CPU_FAULT'
  | 'NATIVE_FAILURE'
  | 'UNKNOWN_FIELD';

/** Base class of the arenas' errors; `code` says which. */
export class TextPokeError extends BpfDispatcherError<TextPokeErrorCode> {}

/**
 * A poke found bytes at the site that are not the expected old instruction (EBUSY).
 * Nothing was written. `expected` and `actual` are the five bytes.
 */
export class PokeMismatchError extends TextPokeError {
  constructor(
    readonly ip: bigint,
    readonly expected: Uint8Array,
    readonly actual: Uint8Array,
  ) {
    super('EBUSY', `text poke at 0x${ip.toString(16)}: expected ${hex(expected)}, found ${hex(actual)} (EBUSY); nothing written`);
  }
}

/** `synchronize()` gave up: a registered reader has not passed a quiescent state in time. */
export class SyncTimeoutError extends TextPokeError {
  constructor(
    readonly timeoutMs: number,
    readonly stalledReaders: readonly string[],
  ) {
    super('SYNC_TIMEOUT', `synchronize(): reader(s) ${stalledReaders.join(', ')} passed no quiescent state within ${timeoutMs} ms`);
  }
}

/** Hex string of bytes, space separated. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
