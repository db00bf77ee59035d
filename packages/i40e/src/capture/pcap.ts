/**
 * libpcap's classic capture format (tcpdump.org `pcap-savefile(5)`, draft-ietf-opsawg-pcap): a 24-byte
 * file header, then records of a 16-byte header and the packet bytes.
 *
 * File header: magic (4), version_major (2), version_minor (2), thiszone (4), sigfigs (4), snaplen (4),
 * network (4: LinkType in the low bits). Record header: ts_sec (4), ts_frac (4: microseconds, or
 * nanoseconds with the nanosecond magic), incl_len (4), orig_len (4). All in the writer's byte order,
 * which the magic reveals.
 */
import { I40eError } from '../errors.js';
import { malformed, unsupported } from './errors.js';
import { assertBytes, extract, framesToWrite, integerOption, viewOf } from './internal.js';
import {
  type CaptureFrame,
  type CaptureFrameInput,
  type CaptureInterface,
  type CaptureReader,
  LINKTYPE_ETHERNET,
  linktypeName,
  MAX_CAPTURE_LENGTH,
  type ReadCaptureOptions,
} from './types.js';

/** The pcap magic for microsecond timestamps, as a number (read in the file's byte order). */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** The pcap magic for nanosecond timestamps, as a number (read in the file's byte order). */
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** Alexey Kuznetzov's "modified" pcap magic (longer record headers): recognised and refused. */
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;

const FILE_HEADER = 24;
const RECORD_HEADER = 16;
/** LinkType and FCS bits of the `network` field, as libpcap's LT_LINKTYPE() keeps them. */
const LINKTYPE_MASK = 0x03ff_ffff;

/** The byte order and resolution a pcap magic (read little-endian) stands for, or null. */
export function pcapMagic(firstWordLe: number): { littleEndian: boolean; nanoseconds: boolean } | null {
  switch (firstWordLe) {
    case PCAP_MAGIC_MICROSECONDS:
      return { littleEndian: true, nanoseconds: false };
    case PCAP_MAGIC_NANOSECONDS:
      return { littleEndian: true, nanoseconds: true };
    case 0xd4c3b2a1:
      return { littleEndian: false, nanoseconds: false };
    case 0x4d3cb2a1:
      return { littleEndian: false, nanoseconds: true };
    default:
      return null;
  }
}

/** True if the first word (read little-endian) is the modified-pcap magic in either byte order. */
export function isModifiedPcapMagic(firstWordLe: number): boolean {
  return firstWordLe === PCAP_MAGIC_MODIFIED || firstWordLe === 0x34cdb2a1;
}

class PcapReader implements CaptureReader {
  readonly format = 'pcap';
  readonly linktype: number;
  readonly interfaces: readonly CaptureInterface[];
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #little: boolean;
  readonly #fracNs: bigint;
  readonly #limit: number;
  readonly #copy: boolean;

  constructor(bytes: Uint8Array, options: ReadCaptureOptions) {
    this.#bytes = bytes;
    this.#view = viewOf(bytes);
    this.#copy = options.copy ?? true;
    if (bytes.length < 4) malformed('truncated', 0, `pcap file header: ${bytes.length} bytes, the magic needs 4`);
    const first = this.#view.getUint32(0, true);
    const magic = pcapMagic(first);
    if (magic === null) {
      if (isModifiedPcapMagic(first)) unsupported('magic', 0, "Kuznetzov's modified pcap format (magic 0xa1b2cd34) is not supported");
      unsupported('magic', 0, `not a pcap file: magic 0x${first.toString(16).padStart(8, '0')} (little-endian read)`);
    }
    if (bytes.length < FILE_HEADER) malformed('truncated', 0, `pcap file header: ${bytes.length} bytes of ${FILE_HEADER}`);
    this.#little = magic.littleEndian;
    this.#fracNs = magic.nanoseconds ? 1n : 1000n;
    const major = this.#view.getUint16(4, this.#little);
    if (major !== 2)
      unsupported('version', 4, `pcap version ${major}.${this.#view.getUint16(6, this.#little)}: only major version 2 is supported`);
    const snaplen = this.#view.getUint32(16, this.#little);
    this.linktype = this.#view.getUint32(20, this.#little) & LINKTYPE_MASK;
    if (options.linktype !== undefined && options.linktype !== this.linktype) {
      unsupported('linktype', 20, `pcap link type ${linktypeName(this.linktype)}: only ${linktypeName(options.linktype)} is accepted`);
    }
    this.#limit = snaplen === 0 ? MAX_CAPTURE_LENGTH : Math.min(snaplen, MAX_CAPTURE_LENGTH);
    this.interfaces = Object.freeze([
      Object.freeze({ linktype: this.linktype, snaplen, section: 0, id: 0, tsresol: magic.nanoseconds ? 9 : 6, tsoffsetSeconds: 0n }),
    ]);
  }

  *[Symbol.iterator](): Iterator<CaptureFrame> {
    const bytes = this.#bytes;
    const view = this.#view;
    const little = this.#little;
    let at = FILE_HEADER;
    while (at < bytes.length) {
      if (bytes.length - at < RECORD_HEADER)
        malformed('truncated', at, `pcap record header: ${bytes.length - at} bytes of ${RECORD_HEADER}`);
      const inclLen = view.getUint32(at + 8, little);
      const origLen = view.getUint32(at + 12, little);
      if (inclLen > MAX_CAPTURE_LENGTH) malformed('too-large', at + 8, `pcap incl_len ${inclLen} exceeds ${MAX_CAPTURE_LENGTH}`);
      if (inclLen > this.#limit) malformed('snaplen', at + 8, `pcap incl_len ${inclLen} exceeds the snapshot length ${this.#limit}`);
      if (origLen < inclLen) malformed('original-length', at + 12, `pcap orig_len ${origLen} is below incl_len ${inclLen}`);
      const start = at + RECORD_HEADER;
      if (bytes.length - start < inclLen)
        malformed('truncated', at, `pcap record: ${inclLen} packet bytes announced, ${bytes.length - start} left`);
      const seconds = BigInt(view.getUint32(at, little));
      const fraction = BigInt(view.getUint32(at + 4, little));
      yield {
        data: extract(bytes, start, start + inclLen, this.#copy),
        originalLength: origLen,
        timestampNs: seconds * 1_000_000_000n + fraction * this.#fracNs,
        linktype: this.linktype,
        offset: at,
      };
      at = start + inclLen;
    }
  }
}

/**
 * Opens a classic pcap file (either byte order, micro- or nanosecond magic) for iteration. The file header
 * is checked at once; each record when the iteration reaches it. Used by `openCapture`, which detects the format.
 *
 * @throws CaptureError `MALFORMED` (`truncated` header or record, `too-large`/`snaplen` incl_len,
 *   `original-length`), `UNSUPPORTED` (`magic`, `version` other than 2.x, `linktype` other than `options.linktype`).
 * @throws I40eError `EINVAL` if `bytes` is not a Uint8Array.
 */
export function openPcap(bytes: Uint8Array, options: ReadCaptureOptions = {}): CaptureReader {
  assertBytes(bytes);
  return new PcapReader(bytes, options);
}

/** Options of {@link writePcap}. */
export interface WritePcapOptions {
  /** The file's link type (the header's `network` field), 0..65535; default {@link LINKTYPE_ETHERNET}. */
  readonly linktype?: number;
  /** The snapshot length, 1..{@link MAX_CAPTURE_LENGTH}; longer frames are truncated to it. Default 262144. */
  readonly snaplen?: number;
  /** Write the nanosecond magic (0xa1b23c4d) and nanosecond `ts_frac`; default false (microseconds, rounded down). */
  readonly nanoseconds?: boolean;
}

/**
 * Writes frames as a classic pcap file, little-endian, version 2.4, as tcpdump and Wireshark read it:
 * the 24-byte file header, then per frame a 16-byte record header and the captured bytes. Frames longer
 * than `snaplen` are truncated to it (their `orig_len` stays the original length).
 *
 * @throws I40eError `EINVAL` for a bad option, a frame without Uint8Array data, an original length below
 *   the data's or above 2^32-1, or a timestamp that is negative or past 2^32-1 seconds.
 */
export function writePcap(frames: Iterable<CaptureFrameInput>, options: WritePcapOptions = {}): Uint8Array {
  const linktype = integerOption(options.linktype, 'linktype', 0, 0xffff, LINKTYPE_ETHERNET);
  const snaplen = integerOption(options.snaplen, 'snaplen', 1, MAX_CAPTURE_LENGTH, MAX_CAPTURE_LENGTH);
  const nanoseconds = options.nanoseconds === true;
  const list = framesToWrite(frames, snaplen, null);
  let size = FILE_HEADER;
  for (const frame of list) size += RECORD_HEADER + frame.data.length;
  const out = new Uint8Array(size);
  const view = viewOf(out);
  view.setUint32(0, nanoseconds ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  // thiszone and sigfigs stay 0
  view.setUint32(16, snaplen, true);
  view.setUint32(20, linktype, true);
  let at = FILE_HEADER;
  list.forEach((frame, i) => {
    const seconds = frame.timestampNs / 1_000_000_000n;
    if (seconds > 0xffff_ffffn)
      throw new I40eError('EINVAL', `frame ${i}: timestamp ${frame.timestampNs} ns is past what pcap's 32-bit ts_sec holds`);
    const fraction = frame.timestampNs % 1_000_000_000n;
    view.setUint32(at, Number(seconds), true);
    view.setUint32(at + 4, Number(nanoseconds ? fraction : fraction / 1000n), true);
    view.setUint32(at + 8, frame.data.length, true);
    view.setUint32(at + 12, frame.originalLength, true);
    out.set(frame.data, at + RECORD_HEADER);
    at += RECORD_HEADER + frame.data.length;
  });
  return out;
}
