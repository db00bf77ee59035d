/**
 * pcapng: hand-built files in both byte orders, several interfaces with if_tsresol/if_tsoffset/if_name,
 * Enhanced, Simple and obsolete Packet Blocks, unknown blocks, several sections; the writer; and a
 * malformed file for every check, asserting code, reason and offset.
 */
import { describe, expect, it } from 'vitest';
import { captureError, concatBytes as concat, expectCaptureError as expectError } from '../test-support/capture-bytes.js';
import { readCapture } from './capture.js';
import { openPcapng } from './pcapng.js';
import { writePcapng } from './pcapng-writer.js';
import { MAX_CAPTURE_LENGTH } from './types.js';

/** A little builder of pcapng blocks in either byte order. */
class Block {
  readonly #bytes: number[] = [];
  constructor(readonly little: boolean) {}
  u8(v: number): this {
    this.#bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.little ? this.u8(v).u8(v >> 8) : this.u8(v >> 8).u8(v);
  }
  u32(v: number): this {
    return this.little ? this.u16(v & 0xffff).u16(v >>> 16) : this.u16(v >>> 16).u16(v & 0xffff);
  }
  i64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    const hi = Number(u >> 32n);
    const lo = Number(u & 0xffff_ffffn);
    return this.little ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.u8(b[i] ?? 0);
    while (this.#bytes.length % 4 !== 0) this.u8(0);
    return this;
  }
  option(code: number, value: ArrayLike<number>): this {
    return this.u16(code).u16(value.length).bytes(value);
  }
  get body(): number[] {
    return this.#bytes;
  }
}

interface Framing {
  length?: number;
  trailer?: number;
}

function block(type: number, little: boolean, body: (b: Block) => void, framing: Framing = {}): Uint8Array {
  const inner = new Block(little);
  body(inner);
  const length = 12 + inner.body.length;
  return Uint8Array.from(
    new Block(little)
      .u32(type)
      .u32(framing.length ?? length)
      .bytes(inner.body)
      .u32(framing.trailer ?? length).body,
  );
}

const shb = (little = true, fields: { major?: number; sectionLength?: bigint; bom?: number } = {}, framing: Framing = {}): Uint8Array =>
  block(
    0x0a0d0d0a,
    little,
    (b) =>
      b
        .u32(fields.bom ?? 0x1a2b3c4d)
        .u16(fields.major ?? 1)
        .u16(0)
        .i64(fields.sectionLength ?? -1n),
    framing,
  );

const idb = (linktype: number, snaplen: number, options: [number, number[]][] = [], little = true, framing: Framing = {}): Uint8Array =>
  block(
    1,
    little,
    (b) => {
      b.u16(linktype).u16(0).u32(snaplen);
      for (const [code, value] of options) b.option(code, value);
      if (options.length > 0) b.u32(0);
    },
    framing,
  );

const epb = (
  iface: number,
  units: bigint,
  data: number[],
  fields: { capLen?: number; origLen?: number; options?: [number, number[]][] } = {},
  little = true,
  framing: Framing = {},
): Uint8Array =>
  block(
    6,
    little,
    (b) => {
      b.u32(iface)
        .u32(Number(units >> 32n))
        .u32(Number(units & 0xffff_ffffn))
        .u32(fields.capLen ?? data.length)
        .u32(fields.origLen ?? data.length)
        .bytes(data);
      for (const [code, value] of fields.options ?? []) b.option(code, value);
    },
    framing,
  );

const spb = (origLen: number, data: number[], little = true): Uint8Array => block(3, little, (b) => b.u32(origLen).bytes(data));

const pb = (iface: number, units: bigint, data: number[], little = true): Uint8Array =>
  block(2, little, (b) =>
    b
      .u16(iface)
      .u16(7)
      .u32(Number(units >> 32n))
      .u32(Number(units & 0xffff_ffffn))
      .u32(data.length)
      .u32(data.length)
      .bytes(data),
  );

const IF_NAME = 2;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const i64le = (v: bigint): number[] => new Block(true).i64(v).body;

/** A section with one Ethernet interface and some packets, in the given byte order. */
const simple = (little: boolean): Uint8Array =>
  concat(
    shb(little),
    idb(1, 0, [], little),
    epb(0, 1_000_001n, [1, 2, 3], { origLen: 64 }, little),
    epb(0, 0x1_0000_0000n, [], {}, little),
  );

describe('pcapng reader', () => {
  it('reads both byte orders to the same frames; default resolution is microseconds', () => {
    const le = readCapture(simple(true));
    expect(readCapture(simple(false))).toEqual(le);
    expect(le).toMatchObject({ format: 'pcapng', linktype: 1 });
    expect(le.interfaces).toEqual([{ linktype: 1, snaplen: 0, section: 0, id: 0, tsresol: 6, tsoffsetSeconds: 0n }]);
    expect(le.frames.map((f) => [[...f.data], f.originalLength, f.timestampNs, f.interface, f.offset])).toEqual([
      [[1, 2, 3], 64, 1_000_001_000n, 0, 48],
      [[], 0, 0x1_0000_0000n * 1000n, 0, 48 + 36],
    ]);
  });

  it('several interfaces: link types, if_tsresol (decimal and binary), if_tsoffset, if_name', () => {
    const file = concat(
      shb(),
      idb(1, 1518, [
        [IF_NAME, ascii('eth0')],
        [IF_TSRESOL, [9]],
      ]),
      idb(101, 65535, [[IF_TSRESOL, [3]]]),
      idb(1, 0, [[IF_TSRESOL, [0x80 | 20]]]),
      idb(1, 0, [[IF_TSOFFSET, i64le(1_000n)]]),
      epb(0, 123_456_789_012n, [0xaa]),
      epb(1, 5n, [0x45]),
      epb(2, 3n << 20n, [0xbb]),
      epb(2, 3n, [0xcc]),
      epb(3, 2n, [0xdd]),
    );
    const capture = readCapture(file);
    expect(capture.interfaces.map((i) => [i.linktype, i.snaplen, i.id, i.tsresol, i.tsoffsetSeconds, i.name])).toEqual([
      [1, 1518, 0, 9, 0n, 'eth0'],
      [101, 65535, 1, 3, 0n, undefined],
      [1, 0, 2, 0x94, 0n, undefined],
      [1, 0, 3, 6, 1000n, undefined],
    ]);
    expect(capture.frames.map((f) => [f.interface, f.linktype, f.timestampNs])).toEqual([
      [0, 1, 123_456_789_012n],
      [1, 101, 5_000_000n],
      [2, 1, 3_000_000_000n],
      [2, 1, 2861n], // 3 / 2^20 s, rounded down
      [3, 1, 1_000_000_002_000n],
    ]);
  });

  it('Simple Packet Blocks (interface 0, no timestamp, cut to the snaplen) and obsolete Packet Blocks', () => {
    const file = concat(shb(), idb(1, 4), spb(10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), spb(2, [7, 8]), pb(0, 9n, [5]));
    expect(readCapture(file).frames.map((f) => [[...f.data], f.originalLength, f.timestampNs, f.interface])).toEqual([
      [[1, 2, 3, 4], 10, 0n, 0],
      [[7, 8], 2, 0n, 0],
      [[5], 1, 9000n, 0],
    ]);
    // a Simple Packet Block whose original length exceeds what the block holds: what it holds
    const short = concat(shb(), idb(1, 0), spb(1000, [1, 2, 3, 4]));
    expect(readCapture(short).frames[0]).toMatchObject({ data: Uint8Array.of(1, 2, 3, 4), originalLength: 1000 });
  });

  it('skips unknown blocks by their length, and options of sections and packets', () => {
    const nrb = block(4, true, (b) => b.u16(1).u16(4).bytes([127, 0, 0, 1]).u32(0));
    const isb = block(5, true, (b) => b.u32(0).u32(0).u32(0));
    const custom = block(0x0000_0bad, true, (b) => b.u32(32473).bytes([1, 2, 3, 4, 5]));
    const withOptions = block(0x0a0d0d0a, true, (b) => b.u32(0x1a2b3c4d).u16(1).u16(0).i64(-1n).option(3, ascii('Linux')).u32(0));
    const file = concat(withOptions, nrb, idb(1, 0), custom, epb(0, 1n, [1], { options: [[1, ascii('a comment')]] }), isb);
    expect(readCapture(file).frames.map((f) => [...f.data])).toEqual([[1]]);
  });

  it('several sections, each with its byte order and its own interface numbering', () => {
    const first = concat(shb(true, { sectionLength: 76n }), idb(1, 0), idb(113, 0), epb(1, 1n, [1]));
    const second = concat(shb(false), idb(1, 0, [[IF_TSRESOL, [9]]], false), epb(0, 2n, [2], {}, false));
    const capture = readCapture(concat(first, second));
    expect(capture.interfaces.map((i) => [i.section, i.id, i.linktype])).toEqual([
      [0, 0, 1],
      [0, 1, 113],
      [1, 0, 1],
    ]);
    expect(capture.frames.map((f) => [f.data[0], f.interface, f.linktype, f.timestampNs])).toEqual([
      [1, 1, 113, 1000n],
      [2, 2, 1, 2n],
    ]);
    // interface 1 of the first section is not one of the second
    const stale = concat(first, shb(false), idb(1, 0, [], false), epb(1, 0n, [], {}, false));
    expectError(stale, 'MALFORMED', 'interface', first.length + 28 + 20 + 8);
  });

  it('link types pass through unless one is required; no interface gives linktype null', () => {
    const file = concat(shb(), idb(1, 0), idb(127, 0));
    const error = captureError(() => readCapture(file, { linktype: 1 }));
    expect(error).toMatchObject({ code: 'UNSUPPORTED', reason: 'linktype', offset: 28 + 20 + 8 });
    expect(error.message).toContain('LINKTYPE_IEEE802_11_RADIOTAP (127)');
    expect(readCapture(shb())).toEqual({ format: 'pcapng', linktype: null, interfaces: [], frames: [] });
  });
});

describe('pcapng reader: every check is a typed error at its offset', () => {
  const head = concat(shb(), idb(1, 64)); // 48 bytes: packets start there
  it('block framing: truncated headers and blocks, lengths, trailers', () => {
    expectError(concat(shb(), Uint8Array.of(1, 0, 0, 0, 20, 0, 0, 0)), 'MALFORMED', 'truncated', 28);
    expectError(shb().subarray(0, 11), 'MALFORMED', 'truncated', 0);
    expectError(shb().subarray(0, 27), 'MALFORMED', 'truncated', 0);
    expectError(concat(head, epb(0, 0n, [1, 2])).subarray(0, 48 + 35), 'MALFORMED', 'truncated', 48);
    expectError(concat(shb(), idb(1, 0, [], true, { length: 22, trailer: 22 })), 'MALFORMED', 'block-length', 28 + 4);
    expectError(concat(shb(), idb(1, 0, [], true, { length: 8 })), 'MALFORMED', 'block-length', 28 + 4);
    expectError(concat(head, epb(0, 0n, [], {}, true, { length: 28, trailer: 28 })), 'MALFORMED', 'block-length', 48 + 4);
    expectError(shb(true, {}, { length: 24, trailer: 24 }), 'MALFORMED', 'block-length', 4);
    expectError(
      concat(
        head,
        block(0x0bad, true, (b) => b.u32(1), { length: 0xffff_fffc }),
      ),
      'MALFORMED',
      'truncated',
      48,
    );
    expectError(concat(head, epb(0, 0n, [1], {}, true, { trailer: 32 })), 'MALFORMED', 'trailer', 48 + 32);
    expectError(concat(shb(false, {}, { trailer: 0x1c00_0000 })), 'MALFORMED', 'trailer', 24);
  });

  it('section headers: byte-order magic, version, section length; blocks before any section', () => {
    expectError(shb(true, { bom: 0x1a2b3c4e }), 'MALFORMED', 'magic', 8);
    expectError(concat(simple(true), shb(true, { bom: 0 })), 'MALFORMED', 'magic', simple(true).length + 8);
    expectError(shb(true, { major: 2 }), 'UNSUPPORTED', 'version', 12);
    expectError(concat(shb(true, { sectionLength: 21n }), idb(1, 0)), 'MALFORMED', 'section-length', 16);
    expectError(shb(false, { sectionLength: -2n }), 'MALFORMED', 'section-length', 16);
    expect(readCapture(concat(shb(true, { sectionLength: 20n }), idb(1, 0))).interfaces).toHaveLength(1);
    expect(() => [...openPcapng(idb(1, 0))]).toThrow(expect.objectContaining({ code: 'MALFORMED', reason: 'no-section', offset: 0 }));
  });

  it('packets: interface, captured length (above 256 KiB, past its block, above the snaplen), original length', () => {
    expectError(concat(head, epb(1, 0n, [])), 'MALFORMED', 'interface', 48 + 8);
    expectError(concat(shb(), spb(1, [1])), 'MALFORMED', 'interface', 28);
    expectError(concat(head, epb(0, 0n, [], { capLen: MAX_CAPTURE_LENGTH + 1 })), 'MALFORMED', 'too-large', 48 + 20);
    expectError(concat(head, epb(0, 0n, [1, 2, 3, 4], { capLen: 5, origLen: 5 })), 'MALFORMED', 'truncated', 48 + 20);
    expectError(concat(head, epb(0, 0n, new Array(65).fill(0))), 'MALFORMED', 'snaplen', 48 + 20);
    expectError(concat(head, epb(0, 0n, [1, 2], { origLen: 1 })), 'MALFORMED', 'original-length', 48 + 24);
    expectError(concat(head, pb(3, 0n, [])), 'MALFORMED', 'interface', 48 + 8);
  });

  it('options: running past the block, wrong lengths for if_tsresol and if_tsoffset', () => {
    const overrun = block(1, true, (b) => b.u16(1).u16(0).u32(0).u16(IF_NAME).u16(100).u32(0));
    expectError(concat(shb(), overrun), 'MALFORMED', 'option', 28 + 16);
    expectError(concat(shb(), idb(1, 0, [[IF_TSRESOL, [6, 0]]])), 'MALFORMED', 'option', 28 + 16);
    expectError(
      concat(
        shb(),
        idb(1, 0, [
          [IF_NAME, [0x65]],
          [IF_TSOFFSET, [1, 2, 3, 4]],
        ]),
      ),
      'MALFORMED',
      'option',
      28 + 16 + 8,
    );
    const epbOverrun = block(6, true, (b) => b.u32(0).u32(0).u32(0).u32(1).u32(1).bytes([1]).u16(1).u16(9).u32(0));
    expectError(concat(head, epbOverrun), 'MALFORMED', 'option', 48 + 32);
  });
});

describe('pcapng writer', () => {
  it('round trips through the reader: interfaces, names, resolutions (rounding down), snaplens', () => {
    const frames = [
      { data: Uint8Array.of(1, 2, 3), timestampNs: 1_234_567_891n },
      { data: new Uint8Array(100).fill(7), originalLength: 1500, timestampNs: 2_000_000_001n, interface: 1 },
      { data: Uint8Array.of(9), timestampNs: 3_999_999_999n, interface: 2 },
      { data: new Uint8Array(0), interface: 3 },
    ];
    const bytes = writePcapng(frames, {
      interfaces: [{ name: 'eth0' }, { linktype: 101, snaplen: 64, tsresol: 6 }, { tsresol: 0x80 | 10, name: 'veth-ü' }, { tsresol: 0 }],
    });
    expect(bytes.length % 4).toBe(0);
    const capture = readCapture(bytes);
    expect(capture.interfaces.map((i) => [i.linktype, i.snaplen, i.tsresol, i.name])).toEqual([
      [1, MAX_CAPTURE_LENGTH, 9, 'eth0'],
      [101, 64, 6, undefined],
      [1, MAX_CAPTURE_LENGTH, 0x8a, 'veth-ü'],
      [1, MAX_CAPTURE_LENGTH, 0, undefined],
    ]);
    expect(capture.frames.map((f) => [f.interface, f.data.length, f.originalLength, f.timestampNs])).toEqual([
      [0, 3, 3, 1_234_567_891n],
      [1, 64, 1500, 2_000_000_000n],
      [2, 1, 1, 3_999_023_437n], // floor(floor(3.999999999 * 1024) / 1024 s)
      [3, 0, 0, 0n],
    ]);
    expect([...(capture.frames[0]?.data ?? [])]).toEqual([1, 2, 3]);
  });

  it('reads back what the reader read (several sections become one), and defaults to one Ethernet interface', () => {
    const capture = readCapture(simple(false));
    const again = readCapture(
      writePcapng(capture.frames, { interfaces: capture.interfaces.map((i) => ({ linktype: i.linktype, tsresol: i.tsresol })) }),
    );
    expect(again.frames.map((f) => [f.data, f.originalLength, f.timestampNs])).toEqual(
      capture.frames.map((f) => [f.data, f.originalLength, f.timestampNs]),
    );
    expect(readCapture(writePcapng([{ data: Uint8Array.of(1) }])).interfaces).toEqual([
      { linktype: 1, snaplen: MAX_CAPTURE_LENGTH, section: 0, id: 0, tsresol: 9, tsoffsetSeconds: 0n },
    ]);
  });

  it('refuses bad options and frames with EINVAL', () => {
    const einval = expect.objectContaining({ code: 'EINVAL' });
    const data = Uint8Array.of(1);
    expect(() => writePcapng([{ data, interface: 1 }])).toThrow(einval);
    expect(() => writePcapng([], { interfaces: [] })).toThrow(einval);
    expect(() => writePcapng([], { interfaces: [{ tsresol: 256 }] })).toThrow(einval);
    expect(() => writePcapng([], { interfaces: [null as never] })).toThrow(einval);
    expect(() => writePcapng([], { interfaces: [{ name: 'x'.repeat(70_000) }] })).toThrow(einval);
    expect(() => writePcapng([], { snaplen: 0 })).toThrow(einval);
    expect(() => writePcapng([{ data, timestampNs: 1_000_000_000n }], { interfaces: [{ tsresol: 0x80 | 127 }] })).toThrow(einval);
    expect(() => writePcapng([{ data, timestampNs: -5n }])).toThrow(einval);
  });
});
