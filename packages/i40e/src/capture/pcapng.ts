/**
 * The pcapng capture format (draft-ietf-opsawg-pcapng): a sequence of blocks, each
 * `Block Type (4) | Block Total Length (4) | body | Block Total Length (4)`, the length a multiple of 4.
 * A Section Header Block (type 0x0A0D0D0A) opens each section and gives its byte order through the
 * byte-order magic 0x1A2B3C4D; Interface Description Blocks (1) describe the section's interfaces, numbered
 * from 0 in order; Enhanced Packet Blocks (6), Simple Packet Blocks (3) and the obsolete Packet Blocks (2)
 * carry packets. Every other block type is skipped by its length.
 */
import { malformed, unsupported } from './errors.js';
import { assertBytes, extract, pad4, unitsPerSecond, unitsToNs, viewOf } from './internal.js';
import {
  type CaptureFrame,
  type CaptureInterface,
  type CaptureReader,
  linktypeName,
  MAX_CAPTURE_LENGTH,
  type ReadCaptureOptions,
} from './types.js';

/** pcapng block types the reader reads and the writer (`pcapng-writer.ts`) writes (the draft's registry numbers). */
export const PCAPNG_BLOCK = Object.freeze({
  /** Section Header Block. */
  SHB: 0x0a0d0d0a,
  /** Interface Description Block. */
  IDB: 1,
  /** Packet Block (obsolete, still read). */
  PB: 2,
  /** Simple Packet Block. */
  SPB: 3,
  /** Enhanced Packet Block. */
  EPB: 6,
});

/** The Section Header Block's byte-order magic. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Smallest Block Total Length per block type (header, fixed fields, trailer). */
const MIN_LENGTH: Readonly<Record<number, number>> = Object.freeze({
  [PCAPNG_BLOCK.SHB]: 28,
  [PCAPNG_BLOCK.IDB]: 20,
  [PCAPNG_BLOCK.PB]: 32,
  [PCAPNG_BLOCK.SPB]: 16,
  [PCAPNG_BLOCK.EPB]: 32,
});

/** `opt_endofopt` (option 0: the end of an option list). */
export const OPT_ENDOFOPT = 0;
/** `if_name` (IDB option 2). */
export const OPT_IF_NAME = 2;
/** `shb_userappl` (SHB option 4). */
export const SHB_USERAPPL = 4;
/** `if_tsresol` (IDB option 9). */
export const OPT_IF_TSRESOL = 9;
/** `if_tsoffset` (IDB option 14). */
export const OPT_IF_TSOFFSET = 14;
/** The timestamp resolution of an interface without `if_tsresol`: 10^-6 s. */
export const DEFAULT_TSRESOL = 6;

interface InterfaceState {
  readonly info: CaptureInterface;
  readonly global: number;
  readonly perSecond: bigint;
  readonly offsetNs: bigint;
  /** The largest captured length allowed: the snaplen, or MAX_CAPTURE_LENGTH if 0 or larger. */
  readonly limit: number;
}

interface Section {
  readonly index: number;
  readonly little: boolean;
  readonly interfaces: InterfaceState[];
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

class PcapngReader implements CaptureReader {
  readonly format = 'pcapng';
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #options: ReadCaptureOptions;
  #interfaces: CaptureInterface[] = [];

  constructor(bytes: Uint8Array, options: ReadCaptureOptions) {
    this.#bytes = bytes;
    this.#view = viewOf(bytes);
    this.#options = options;
  }

  get interfaces(): readonly CaptureInterface[] {
    return this.#interfaces;
  }

  get linktype(): number | null {
    return this.#interfaces[0]?.linktype ?? null;
  }

  *[Symbol.iterator](): Iterator<CaptureFrame> {
    this.#interfaces = [];
    const bytes = this.#bytes;
    const view = this.#view;
    const n = bytes.length;
    let section: Section | null = null;
    let at = 0;
    while (at < n) {
      if (n - at < 12) malformed('truncated', at, `pcapng block header: ${n - at} bytes left, a block takes at least 12`);
      let little: boolean;
      if (view.getUint32(at, true) === PCAPNG_BLOCK.SHB) {
        const bom = view.getUint32(at + 8, true);
        if (bom === BYTE_ORDER_MAGIC) little = true;
        else if (bom === 0x4d3c2b1a) little = false;
        else
          malformed(
            'magic',
            at + 8,
            `pcapng byte-order magic 0x${bom.toString(16).padStart(8, '0')} is not 0x1a2b3c4d in either byte order`,
          );
      } else {
        if (section === null) malformed('no-section', at, 'pcapng block before any Section Header Block');
        little = section.little;
      }
      const type = view.getUint32(at, little);
      const length = view.getUint32(at + 4, little);
      const min = MIN_LENGTH[type] ?? 12;
      if (length < min || length % 4 !== 0) {
        malformed(
          'block-length',
          at + 4,
          `pcapng block type 0x${type.toString(16)}: total length ${length} is ${length % 4 !== 0 ? 'not a multiple of 4' : `below its minimum ${min}`}`,
        );
      }
      if (length > n - at) malformed('truncated', at, `pcapng block type 0x${type.toString(16)} of ${length} bytes, ${n - at} left`);
      const trailer = view.getUint32(at + length - 4, little);
      if (trailer !== length)
        malformed(
          'trailer',
          at + length - 4,
          `pcapng block type 0x${type.toString(16)}: trailing length ${trailer} differs from the leading ${length}`,
        );
      const end = at + length - 4;
      if (type === PCAPNG_BLOCK.SHB) {
        section = this.#section(at, end, little, section === null ? 0 : section.index + 1);
      } else if (section !== null) {
        if (type === PCAPNG_BLOCK.IDB) section.interfaces.push(this.#interface(at, end, section));
        else if (type === PCAPNG_BLOCK.EPB || type === PCAPNG_BLOCK.PB) yield this.#packet(at, end, section, type === PCAPNG_BLOCK.PB);
        else if (type === PCAPNG_BLOCK.SPB) yield this.#simplePacket(at, end, section);
        // any other block: skipped by its length
      }
      at += length;
    }
  }

  /** Section Header Block: byte-order magic (4), major (2), minor (2), section length (8), options. */
  #section(at: number, end: number, little: boolean, index: number): Section {
    const view = this.#view;
    const major = view.getUint16(at + 12, little);
    if (major !== 1)
      unsupported('version', at + 12, `pcapng version ${major}.${view.getUint16(at + 14, little)}: only major version 1 is supported`);
    const sectionLength = view.getBigInt64(at + 16, little);
    const rest = BigInt(this.#bytes.length - (end + 4));
    if (sectionLength !== -1n && (sectionLength < 0n || sectionLength > rest)) {
      malformed('section-length', at + 16, `pcapng section length ${sectionLength} does not fit the ${rest} bytes after its header`);
    }
    this.#walkOptions(at + 24, end, little);
    return { index, little, interfaces: [] };
  }

  /** Interface Description Block: LinkType (2), reserved (2), SnapLen (4), options (if_name, if_tsresol, if_tsoffset). */
  #interface(at: number, end: number, section: Section): InterfaceState {
    const view = this.#view;
    const linktype = view.getUint16(at + 8, section.little);
    const wanted = this.#options.linktype;
    if (wanted !== undefined && wanted !== linktype) {
      unsupported('linktype', at + 8, `pcapng interface link type ${linktypeName(linktype)}: only ${linktypeName(wanted)} is accepted`);
    }
    const snaplen = view.getUint32(at + 12, section.little);
    let tsresol = DEFAULT_TSRESOL;
    let tsoffsetSeconds = 0n;
    let name: string | undefined;
    this.#walkOptions(at + 16, end, section.little, (code, opt, len) => {
      if (code === OPT_IF_TSRESOL) {
        if (len !== 1) malformed('option', opt, `pcapng if_tsresol of length ${len}, not 1`);
        tsresol = view.getUint8(opt + 4);
      } else if (code === OPT_IF_TSOFFSET) {
        if (len !== 8) malformed('option', opt, `pcapng if_tsoffset of length ${len}, not 8`);
        tsoffsetSeconds = view.getBigInt64(opt + 4, section.little);
      } else if (code === OPT_IF_NAME) {
        name = utf8.decode(this.#bytes.subarray(opt + 4, opt + 4 + len));
      }
    });
    const info: CaptureInterface = Object.freeze({
      linktype,
      snaplen,
      section: section.index,
      id: section.interfaces.length,
      tsresol,
      tsoffsetSeconds,
      ...(name === undefined ? {} : { name }),
    });
    const global = this.#interfaces.length;
    this.#interfaces.push(info);
    return {
      info,
      global,
      perSecond: unitsPerSecond(tsresol),
      offsetNs: tsoffsetSeconds * 1_000_000_000n,
      limit: snaplen === 0 ? MAX_CAPTURE_LENGTH : Math.min(snaplen, MAX_CAPTURE_LENGTH),
    };
  }

  /**
   * Enhanced Packet Block: Interface ID (4), Timestamp upper (4) and lower (4), Captured Packet Length (4),
   * Original Packet Length (4), data padded to 4, options. The obsolete Packet Block has Interface ID (2) and
   * Drops Count (2) in place of the 4-byte Interface ID.
   */
  #packet(at: number, end: number, section: Section, obsolete: boolean): CaptureFrame {
    const view = this.#view;
    const little = section.little;
    const id = obsolete ? view.getUint16(at + 8, little) : view.getUint32(at + 8, little);
    const iface = section.interfaces[id];
    if (iface === undefined)
      malformed('interface', at + 8, `pcapng packet on interface ${id}; section ${section.index} describes ${section.interfaces.length}`);
    const capLen = view.getUint32(at + 20, little);
    const origLen = view.getUint32(at + 24, little);
    if (capLen > MAX_CAPTURE_LENGTH) malformed('too-large', at + 20, `pcapng captured length ${capLen} exceeds ${MAX_CAPTURE_LENGTH}`);
    const start = at + 28;
    if (pad4(capLen) > end - start)
      malformed('truncated', at + 20, `pcapng captured length ${capLen} runs past its block (${end - start} bytes of data and options)`);
    if (capLen > iface.limit)
      malformed('snaplen', at + 20, `pcapng captured length ${capLen} exceeds interface ${id}'s snapshot length ${iface.limit}`);
    if (origLen < capLen) malformed('original-length', at + 24, `pcapng original length ${origLen} is below the captured length ${capLen}`);
    this.#walkOptions(start + pad4(capLen), end, little);
    const units = (BigInt(view.getUint32(at + 12, little)) << 32n) | BigInt(view.getUint32(at + 16, little));
    return {
      data: extract(this.#bytes, start, start + capLen, this.#options.copy ?? true),
      originalLength: origLen,
      timestampNs: unitsToNs(units, iface.perSecond) + iface.offsetNs,
      linktype: iface.info.linktype,
      interface: iface.global,
      offset: at,
    };
  }

  /**
   * Simple Packet Block: Original Packet Length (4), data. It belongs to interface 0 of its section; its
   * captured length is min(original length, the block's room, the interface's snaplen), as Wireshark reads it.
   */
  #simplePacket(at: number, end: number, section: Section): CaptureFrame {
    const iface = section.interfaces[0];
    if (iface === undefined)
      malformed('interface', at, `pcapng Simple Packet Block in section ${section.index}, which describes no interface`);
    const origLen = this.#view.getUint32(at + 8, section.little);
    const start = at + 12;
    const capLen = Math.min(origLen, end - start, iface.limit);
    return {
      data: extract(this.#bytes, start, start + capLen, this.#options.copy ?? true),
      originalLength: origLen,
      timestampNs: 0n,
      linktype: iface.info.linktype,
      interface: iface.global,
      offset: at,
    };
  }

  /** Walks the options in [start, end): code (2), length (2), value padded to 4, up to opt_endofopt or the end. */
  #walkOptions(start: number, end: number, little: boolean, onOption?: (code: number, at: number, length: number) => void): void {
    const view = this.#view;
    let at = start;
    while (at < end) {
      if (end - at < 4) malformed('option', at, `pcapng option header: ${end - at} bytes left in its block`);
      const code = view.getUint16(at, little);
      if (code === OPT_ENDOFOPT) return;
      const length = view.getUint16(at + 2, little);
      if (4 + pad4(length) > end - at) malformed('option', at, `pcapng option ${code} of length ${length} runs past its block`);
      onOption?.(code, at, length);
      at += 4 + pad4(length);
    }
  }
}

/**
 * Opens a pcapng file for iteration: every section (each in its own byte order), every interface,
 * Enhanced, Simple and (obsolete) Packet Blocks; other block types are skipped by their length. Blocks are
 * checked as the iteration reaches them. Used by `openCapture`, which detects the format.
 *
 * @throws CaptureError (while iterating) `MALFORMED`: `truncated`, `block-length` (below the type's minimum
 *   or not a multiple of 4), `trailer`, `magic` (byte-order magic), `section-length`, `no-section`, `interface`
 *   (a packet on an undescribed interface), `option`, `too-large`, `snaplen`, `original-length`;
 *   `UNSUPPORTED`: `version` (major version other than 1), `linktype` (other than `options.linktype`).
 * @throws I40eError `EINVAL` if `bytes` is not a Uint8Array.
 */
export function openPcapng(bytes: Uint8Array, options: ReadCaptureOptions = {}): CaptureReader {
  assertBytes(bytes);
  return new PcapngReader(bytes, options);
}
