/**
 * The pcapng writer (draft-ietf-opsawg-pcapng): one little-endian section of a Section Header Block,
 * Interface Description Blocks and Enhanced Packet Blocks. The reader is in `pcapng.ts`.
 */
import { I40eError } from '../errors.js';
import { framesToWrite, integerOption, nsToUnits, pad4, unitsPerSecond, viewOf } from './internal.js';
import { BYTE_ORDER_MAGIC, DEFAULT_TSRESOL, OPT_ENDOFOPT, OPT_IF_NAME, OPT_IF_TSRESOL, PCAPNG_BLOCK, SHB_USERAPPL } from './pcapng.js';
import { type CaptureFrameInput, LINKTYPE_ETHERNET, MAX_CAPTURE_LENGTH } from './types.js';

/** One interface {@link writePcapng} describes (an Interface Description Block). */
export interface PcapngInterfaceOptions {
  /** LinkType, 0..65535; default the writer's `linktype`. */
  readonly linktype?: number;
  /** SnapLen, 1..{@link MAX_CAPTURE_LENGTH}; frames are truncated to it. Default the writer's `snaplen`. */
  readonly snaplen?: number;
  /** `if_tsresol` (pcapng encoding: 10^-v, or 2^-(v & 0x7f) with bit 7 set); default 9 (nanoseconds). */
  readonly tsresol?: number;
  /** `if_name`, written when given. */
  readonly name?: string;
}

/** Options of {@link writePcapng}. */
export interface WritePcapngOptions {
  /** The interfaces' default link type; default {@link LINKTYPE_ETHERNET}. */
  readonly linktype?: number;
  /** The interfaces' default snapshot length; default 262144. */
  readonly snaplen?: number;
  /** The interfaces, in id order; frames name theirs by `interface` (default 0). Default: one interface. */
  readonly interfaces?: readonly PcapngInterfaceOptions[];
}

const utf8Encoder = new TextEncoder();
const USERAPPL = utf8Encoder.encode('@bpf-dispatcher/i40e');

interface InterfaceToWrite {
  readonly linktype: number;
  readonly snaplen: number;
  readonly tsresol: number;
  readonly perSecond: bigint;
  readonly name: Uint8Array | null;
}

/**
 * Writes frames as a pcapng file, little-endian: one Section Header Block (section length -1, `shb_userappl`),
 * one Interface Description Block per interface (with `if_tsresol` unless 6, and `if_name` if given), one
 * Enhanced Packet Block per frame. Frames longer than their interface's snaplen are truncated to it.
 * Wireshark reads any such file; tcpdump (libpcap) reads it when all interfaces share one link type and
 * one snaplen (libpcap refuses pcapng files whose interfaces differ in either).
 *
 * @throws I40eError `EINVAL` for a bad option or interface, a frame without Uint8Array data, an original
 *   length below the data's, a negative timestamp or one the interface's resolution cannot hold in 64 bits,
 *   an `interface` index that is not one of `interfaces`.
 */
export function writePcapng(frames: Iterable<CaptureFrameInput>, options: WritePcapngOptions = {}): Uint8Array {
  const linktype = integerOption(options.linktype, 'linktype', 0, 0xffff, LINKTYPE_ETHERNET);
  const snaplen = integerOption(options.snaplen, 'snaplen', 1, MAX_CAPTURE_LENGTH, MAX_CAPTURE_LENGTH);
  const given = options.interfaces ?? [{}];
  if (!Array.isArray(given) || given.length === 0) throw new I40eError('EINVAL', 'interfaces must be a non-empty array');
  const interfaces: InterfaceToWrite[] = given.map((iface: PcapngInterfaceOptions, i) => {
    if (iface === null || typeof iface !== 'object') throw new I40eError('EINVAL', `interface ${i} must be an object`);
    const tsresol = integerOption(iface.tsresol, `interface ${i} tsresol`, 0, 255, 9);
    const name = iface.name === undefined ? null : utf8Encoder.encode(String(iface.name));
    if (name !== null && name.length > 0xffff) throw new I40eError('EINVAL', `interface ${i} name is longer than an option can hold`);
    return {
      linktype: integerOption(iface.linktype, `interface ${i} linktype`, 0, 0xffff, linktype),
      snaplen: integerOption(iface.snaplen, `interface ${i} snaplen`, 1, MAX_CAPTURE_LENGTH, snaplen),
      tsresol,
      perSecond: unitsPerSecond(tsresol),
      name,
    };
  });
  const list = framesToWrite(frames, MAX_CAPTURE_LENGTH, interfaces.length);

  const shbLength = 28 + 4 + pad4(USERAPPL.length) + 4;
  const idbLength = (iface: InterfaceToWrite): number => {
    const opts = (iface.tsresol !== DEFAULT_TSRESOL ? 8 : 0) + (iface.name === null ? 0 : 4 + pad4(iface.name.length));
    return 20 + (opts === 0 ? 0 : opts + 4);
  };
  const capLen = (frame: (typeof list)[number]): number =>
    Math.min(frame.data.length, (interfaces[frame.interface] as InterfaceToWrite).snaplen);
  let size = shbLength;
  for (const iface of interfaces) size += idbLength(iface);
  for (const frame of list) size += 32 + pad4(capLen(frame));

  const out = new Uint8Array(size);
  const view = viewOf(out);
  let at = 0;
  const u16 = (v: number): void => {
    view.setUint16(at, v, true);
    at += 2;
  };
  const u32 = (v: number): void => {
    view.setUint32(at, v, true);
    at += 4;
  };
  const bytesPadded = (b: Uint8Array): void => {
    out.set(b, at);
    at += pad4(b.length);
  };
  const option = (code: number, value: Uint8Array): void => {
    u16(code);
    u16(value.length);
    bytesPadded(value);
  };

  u32(PCAPNG_BLOCK.SHB);
  u32(shbLength);
  u32(BYTE_ORDER_MAGIC);
  u16(1);
  u16(0);
  view.setBigInt64(at, -1n, true);
  at += 8;
  option(SHB_USERAPPL, USERAPPL);
  u32(OPT_ENDOFOPT);
  u32(shbLength);

  for (const iface of interfaces) {
    const length = idbLength(iface);
    u32(PCAPNG_BLOCK.IDB);
    u32(length);
    u16(iface.linktype);
    u16(0);
    u32(iface.snaplen);
    if (iface.name !== null) option(OPT_IF_NAME, iface.name);
    if (iface.tsresol !== DEFAULT_TSRESOL) option(OPT_IF_TSRESOL, Uint8Array.of(iface.tsresol));
    if (length > 20) u32(OPT_ENDOFOPT);
    u32(length);
  }

  list.forEach((frame, i) => {
    const iface = interfaces[frame.interface] as InterfaceToWrite;
    const units = nsToUnits(frame.timestampNs, iface.perSecond);
    if (units > 0xffff_ffff_ffff_ffffn)
      throw new I40eError(
        'EINVAL',
        `frame ${i}: timestamp ${frame.timestampNs} ns does not fit 64 bits at interface ${frame.interface}'s resolution`,
      );
    const data = frame.data.subarray(0, capLen(frame));
    const length = 32 + pad4(data.length);
    u32(PCAPNG_BLOCK.EPB);
    u32(length);
    u32(frame.interface);
    u32(Number(units >> 32n));
    u32(Number(units & 0xffff_ffffn));
    u32(data.length);
    u32(frame.originalLength);
    bytesPadded(data);
    u32(length);
  });
  return out;
}
