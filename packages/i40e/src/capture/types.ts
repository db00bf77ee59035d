/**
 * The types shared by the capture-file readers and writers (`pcap.ts`, `pcapng.ts`, `capture.ts`):
 * frames, interfaces, options, and the link-type numbers of tcpdump.org's LINKTYPE_ registry.
 */

/** Which capture format a file is in: libpcap's classic format, or pcapng. */
export type CaptureFormat = 'pcap' | 'pcapng';

/** LINKTYPE_ETHERNET (1): IEEE 802.3 Ethernet frames, what the rx rings carry. */
export const LINKTYPE_ETHERNET = 1;

/**
 * The largest captured length the readers accept and the writers write: 256 KiB, libpcap's
 * `MAXIMUM_SNAPLEN` (and the snapshot length tcpdump writes for `-s 0`).
 */
export const MAX_CAPTURE_LENGTH = 262_144;

const LINKTYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: 'NULL',
  1: 'ETHERNET',
  9: 'PPP',
  101: 'RAW',
  105: 'IEEE802_11',
  113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIOTAP',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
});

/**
 * The name of a link type from tcpdump.org's LINKTYPE_ registry, e.g. `LINKTYPE_ETHERNET (1)`, or
 * `LINKTYPE 1234` for a number not in this short table. Never throws.
 */
export function linktypeName(linktype: number): string {
  const name = LINKTYPE_NAMES[linktype];
  if (name !== undefined) return `LINKTYPE_${name} (${linktype})`;
  if (linktype >= 147 && linktype <= 162) return `LINKTYPE_USER${linktype - 147} (${linktype})`;
  return `LINKTYPE ${linktype}`;
}

/**
 * One captured packet as read from a file. `data` is a copy of the captured bytes (a view into the input
 * with `copy: false`), at most the snapshot length; `originalLength` is the length on the wire.
 */
export interface CaptureFrame {
  /** The captured bytes (pcap `incl_len` bytes; pcapng Captured Packet Length bytes). */
  readonly data: Uint8Array;
  /** The packet's length on the wire (pcap `orig_len`; pcapng Original Packet Length), at least `data.length`. */
  readonly originalLength: number;
  /**
   * Nanoseconds since the Unix epoch (pcap `ts_sec`/`ts_frac`; pcapng timestamp scaled by `if_tsresol`
   * and shifted by `if_tsoffset`, so it may be negative). 0n for a pcapng Simple Packet Block, which has no timestamp.
   */
  readonly timestampNs: bigint;
  /** The link type of the frame's file (pcap) or interface (pcapng), e.g. {@link LINKTYPE_ETHERNET}. */
  readonly linktype: number;
  /** pcapng only: the index of the frame's interface in {@link Capture.interfaces} (numbered across sections). */
  readonly interface?: number;
  /** The byte offset of the frame's record (pcap) or block (pcapng) in the input. */
  readonly offset: number;
}

/**
 * An interface a capture describes: the pcap file header, or a pcapng Interface Description Block.
 */
export interface CaptureInterface {
  /** The link type (pcap `network` field's LinkType bits; pcapng IDB LinkType). */
  readonly linktype: number;
  /** The snapshot length; 0 means none given (the readers then apply {@link MAX_CAPTURE_LENGTH}). */
  readonly snaplen: number;
  /** The pcapng section the interface belongs to, counted from 0 (pcap: 0). */
  readonly section: number;
  /** The interface id inside its section, the number Enhanced Packet Blocks refer to (pcap: 0). */
  readonly id: number;
  /**
   * The timestamp resolution in pcapng's `if_tsresol` encoding: bit 7 clear means 10^-value seconds,
   * set means 2^-(value & 0x7f) seconds. pcap: 6 (microseconds) or 9 (nanosecond magic); pcapng default 6.
   */
  readonly tsresol: number;
  /** pcapng `if_tsoffset`: seconds added to every timestamp of the interface (0n if absent). */
  readonly tsoffsetSeconds: bigint;
  /** pcapng `if_name`, when given. */
  readonly name?: string;
}

/** A whole capture file read into memory by `readCapture`. */
export interface Capture {
  /** The file's format. */
  readonly format: CaptureFormat;
  /**
   * The file's link type (pcap), or the first interface's (pcapng; each frame carries its own), or null for
   * a pcapng file that describes no interface (and therefore has no packets).
   */
  readonly linktype: number | null;
  /** The interfaces: pcap's one, or every pcapng Interface Description Block in file order. */
  readonly interfaces: readonly CaptureInterface[];
  /** The packets in file order. */
  readonly frames: CaptureFrame[];
}

/**
 * A capture file opened for iteration by `openCapture`: iterating yields the frames one by one (each
 * iteration starts again from the beginning); a malformed record throws when it is reached, after the
 * frames before it were yielded.
 */
export interface CaptureReader extends Iterable<CaptureFrame> {
  /** The file's format. */
  readonly format: CaptureFormat;
  /** As {@link Capture.linktype}; for pcapng, known once the iteration has passed the first interface. */
  readonly linktype: number | null;
  /** pcap: the file's one interface. pcapng: the interfaces the current iteration has passed so far. */
  readonly interfaces: readonly CaptureInterface[];
}

/** Options of `readCapture` and `openCapture`. */
export interface ReadCaptureOptions {
  /**
   * Accept only this link type: a pcap file header or pcapng Interface Description Block with another one
   * throws `UNSUPPORTED` (reason `linktype`, naming it). By default every link type passes through, recorded
   * on each frame.
   */
  readonly linktype?: number;
  /** false: frames' `data` are views into the input instead of copies (for large files). Default true. */
  readonly copy?: boolean;
}

/** A frame to write: only `data` is required; {@link CaptureFrame} fits. */
export interface CaptureFrameInput {
  /** The packet bytes; longer than the snapshot length, they are truncated to it (the original length kept). */
  readonly data: Uint8Array;
  /** The length on the wire, at least `data.length`; default `data.length`. */
  readonly originalLength?: number;
  /** Nanoseconds since the Unix epoch, not negative; default 0n. */
  readonly timestampNs?: bigint;
  /** pcapng: the index of the frame's interface in the writer's `interfaces`; default 0. pcap ignores it. */
  readonly interface?: number;
}
