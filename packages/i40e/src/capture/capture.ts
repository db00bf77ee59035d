/**
 * Reading a capture file whatever its format: the first four bytes tell classic pcap (its magic in either
 * byte order, micro- or nanosecond) from pcapng (the Section Header Block type 0x0A0D0D0A).
 */
import { malformed, unsupported } from './errors.js';
import { assertBytes, viewOf } from './internal.js';
import { isModifiedPcapMagic, openPcap, pcapMagic } from './pcap.js';
import { openPcapng, PCAPNG_BLOCK } from './pcapng.js';
import type { Capture, CaptureFormat, CaptureFrame, CaptureReader, ReadCaptureOptions } from './types.js';

/**
 * The format of a capture file, from its first four bytes.
 *
 * @throws CaptureError `MALFORMED` (`truncated`, offset 0) for fewer than 4 bytes; `UNSUPPORTED` (`magic`,
 *   offset 0) for anything but a pcap magic or the pcapng Section Header Block type (Kuznetzov's modified
 *   pcap included).
 * @throws I40eError `EINVAL` if `bytes` is not a Uint8Array.
 */
export function detectCaptureFormat(bytes: Uint8Array): CaptureFormat {
  assertBytes(bytes);
  if (bytes.length < 4) malformed('truncated', 0, `capture file of ${bytes.length} bytes: no room for a magic number`);
  const first = viewOf(bytes).getUint32(0, true);
  if (first === PCAPNG_BLOCK.SHB) return 'pcapng';
  if (pcapMagic(first) !== null) return 'pcap';
  if (isModifiedPcapMagic(first)) unsupported('magic', 0, "Kuznetzov's modified pcap format (magic 0xa1b2cd34) is not supported");
  unsupported('magic', 0, `not a pcap or pcapng file: first word 0x${first.toString(16).padStart(8, '0')} (little-endian read)`);
}

/**
 * Opens a capture file (pcap or pcapng, detected) for iteration, frame by frame: for large files, or to
 * keep the frames before a damaged record (they are yielded before the error is thrown). A pcap file header
 * is checked at once; everything else as the iteration reaches it.
 *
 * @throws CaptureError as {@link detectCaptureFormat}, and as `openPcap`/`openPcapng` (at once or while
 *   iterating): `MALFORMED` with the byte `offset` and a `reason`, or `UNSUPPORTED`. Nothing else.
 * @throws I40eError `EINVAL` if `bytes` is not a Uint8Array.
 */
export function openCapture(bytes: Uint8Array, options: ReadCaptureOptions = {}): CaptureReader {
  return detectCaptureFormat(bytes) === 'pcap' ? openPcap(bytes, options) : openPcapng(bytes, options);
}

/**
 * Reads a whole capture file (pcap or pcapng, detected): its format, link type, interfaces and every frame,
 * each frame's bytes copied out of `bytes` (unless `copy: false`). Memory is bounded by the input: every
 * frame takes at least a 16-byte record header or block of the input besides its bytes.
 *
 * @throws CaptureError `MALFORMED` or `UNSUPPORTED`, with the byte `offset` of the problem and a `reason`
 *   (see {@link openCapture}); a damaged file never throws anything else.
 * @throws I40eError `EINVAL` if `bytes` is not a Uint8Array.
 */
export function readCapture(bytes: Uint8Array, options: ReadCaptureOptions = {}): Capture {
  const reader = openCapture(bytes, options);
  const frames: CaptureFrame[] = [];
  for (const frame of reader) frames.push(frame);
  return { format: reader.format, linktype: reader.linktype, interfaces: reader.interfaces, frames };
}
