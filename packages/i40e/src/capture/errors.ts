import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { I40eError } from '../errors.js';

/** The two codes a capture reader throws: a damaged file, or one it does not handle. */
export type CaptureErrorCode = 'MALFORMED' | 'UNSUPPORTED';

/**
 * What exactly was wrong, at {@link CaptureError.offset}:
 *
 * - `truncated`: a file header, record header, block or packet runs past the end of the input, or a packet past the end of its block;
 * - `too-large`: a captured length above `MAX_CAPTURE_LENGTH` (256 KiB), or a block longer than
 *   the input could hold;
 * - `snaplen`: a captured length above the file's (or interface's) snapshot length;
 * - `original-length`: an original (wire) length below the captured length;
 * - `block-length`: a pcapng block length below its type's minimum or not a multiple of 4;
 * - `trailer`: a pcapng block's trailing length differs from its leading one;
 * - `option`: a pcapng option runs past its block, or has a length its code does not allow;
 * - `interface`: a pcapng packet names an interface its section has not described;
 * - `section-length`: a pcapng section length larger than the rest of the input;
 * - `no-section`: a pcapng block before any Section Header Block;
 * - `magic`: the first bytes are no pcap or pcapng magic (`UNSUPPORTED`), or a pcapng byte-order magic
 *   is not 0x1A2B3C4D in either order (`MALFORMED`);
 * - `version`: a pcap major version other than 2, a pcapng major version other than 1 (`UNSUPPORTED`);
 * - `linktype`: a link type other than the one the caller required (`UNSUPPORTED`).
 */
export type CaptureErrorReason =
  | 'truncated'
  | 'too-large'
  | 'snaplen'
  | 'original-length'
  | 'block-length'
  | 'trailer'
  | 'option'
  | 'interface'
  | 'section-length'
  | 'no-section'
  | 'magic'
  | 'version'
  | 'linktype';

/**
 * A capture file the readers refuse: `code` is `MALFORMED` (the bytes contradict the format) or
 * `UNSUPPORTED` (a valid file of a kind not handled: unknown magic, other major version, a link type the
 * caller excluded). `offset` is the byte offset in the input where the problem was found (the field
 * holding the bad value, or the start of the structure that does not fit); `reason` says which check
 * failed. The readers throw nothing else.
 */
export class CaptureError extends I40eError {
  /** The byte offset in the input where the problem was found. */
  readonly offset: number;
  /** Which check failed (see {@link CaptureErrorReason}). */
  readonly reason: CaptureErrorReason;

  constructor(code: CaptureErrorCode, reason: CaptureErrorReason, offset: number, message: string) {
    super(code, `${message} (at byte offset ${offset})`);
    this.offset = offset;
    this.reason = reason;
  }

  /**
   * True if `value` is a capture error from any copy of this package (checked by the bpf-dispatcher error
   * marker, the code and the fields, not by `instanceof`).
   */
  static isCaptureError(value: unknown): value is CaptureError {
    if (!BpfDispatcherError.isInstance(value)) return false;
    const v = value as BpfDispatcherError & { offset?: unknown; reason?: unknown };
    return (v.code === 'MALFORMED' || v.code === 'UNSUPPORTED') && typeof v.offset === 'number' && typeof v.reason === 'string';
  }
}

/** Throw a `MALFORMED` {@link CaptureError}. */
export function malformed(reason: CaptureErrorReason, offset: number, message: string): never {
  throw new CaptureError('MALFORMED', reason, offset, message);
}

/** Throw an `UNSUPPORTED` {@link CaptureError}. */
export function unsupported(reason: CaptureErrorReason, offset: number, message: string): never {
  throw new CaptureError('UNSUPPORTED', reason, offset, message);
}
