/**
 * Format detection, the iterator, a real dumpcap pcapng (two interfaces, two link types, statistics blocks),
 * and the property: mutated valid captures (byte flips, truncations, splices, length-field overwrites) read
 * or throw a CaptureError, nothing else, and stay within what the input can hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes as concat, captureFixture as fixture } from '../test-support/capture-bytes.js';
import { detectCaptureFormat, openCapture, readCapture } from './capture.js';
import { CaptureError, type CaptureErrorReason } from './errors.js';
import { writePcap } from './pcap.js';
import { writePcapng } from './pcapng-writer.js';
import { MAX_CAPTURE_LENGTH } from './types.js';

/** A little-endian classic pcap turned big-endian field by field (the header, every record header). */
function pcapToBigEndian(le: Uint8Array): Uint8Array {
  const out = le.slice();
  const src = new DataView(le.buffer, le.byteOffset, le.byteLength);
  const dst = new DataView(out.buffer);
  const swap32 = (at: number): void => dst.setUint32(at, src.getUint32(at, true), false);
  swap32(0);
  dst.setUint16(4, src.getUint16(4, true), false);
  dst.setUint16(6, src.getUint16(6, true), false);
  for (const at of [8, 12, 16, 20]) swap32(at);
  for (let at = 24; at < le.length; at += 16 + src.getUint32(at + 8, true)) for (const f of [0, 4, 8, 12]) swap32(at + f);
  return out;
}

/** Walks pcapng blocks (either byte order): each block's offset, type, length and byte order. */
function* pcapngBlocks(bytes: Uint8Array): Generator<{ at: number; type: number; length: number; little: boolean }> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little = true;
  for (let at = 0; at < bytes.length; ) {
    if (v.getUint32(at, true) === 0x0a0d0d0a) little = v.getUint32(at + 8, true) === 0x1a2b3c4d;
    const length = v.getUint32(at + 4, little);
    yield { at, type: v.getUint32(at, little), length, little };
    at += length;
  }
}

/**
 * A little-endian pcapng turned big-endian: block headers and trailers, the fixed fields of SHB, IDB, EPB
 * and SPB, option codes and lengths, `if_tsoffset` values (other option values are strings or skipped).
 */
function pcapngToBigEndian(le: Uint8Array): Uint8Array {
  const out = le.slice();
  const src = new DataView(le.buffer, le.byteOffset, le.byteLength);
  const dst = new DataView(out.buffer);
  const s16 = (at: number): void => dst.setUint16(at, src.getUint16(at, true), false);
  const s32 = (at: number): void => dst.setUint32(at, src.getUint32(at, true), false);
  const options = (at: number, end: number, block: number): void => {
    while (at + 4 <= end) {
      const code = src.getUint16(at, true);
      const len = src.getUint16(at + 2, true);
      s16(at);
      s16(at + 2);
      if (code === 0) return;
      if (block === 1 && code === 14) dst.setBigInt64(at + 4, src.getBigInt64(at + 4, true), false);
      at += 4 + ((len + 3) & ~3);
    }
  };
  for (const { at, type, length } of pcapngBlocks(le)) {
    const end = at + length - 4;
    s32(at);
    s32(at + 4);
    s32(end);
    if (type === 0x0a0d0d0a) {
      s32(at + 8);
      s16(at + 12);
      s16(at + 14);
      dst.setBigInt64(at + 16, src.getBigInt64(at + 16, true), false);
      options(at + 24, end, type);
    } else if (type === 1) {
      s16(at + 8);
      s32(at + 12);
      options(at + 16, end, type);
    } else if (type === 6) {
      for (const f of [8, 12, 16, 20, 24]) s32(at + f);
      options(at + 28 + ((src.getUint32(at + 20, true) + 3) & ~3), end, type);
    } else if (type === 3) {
      s32(at + 8);
    }
  }
  return out;
}

/** A little-endian block of the given type around `body` (whose length must be a multiple of 4). */
function leBlock(type: number, body: number[]): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, out.length, true);
  out.set(body, 8);
  v.setUint32(out.length - 4, out.length, true);
  return out;
}

const DUMPCAP = fixture('dumpcap-lo-any.pcapng');
const frames = [
  { data: Uint8Array.of(1, 2, 3, 4, 5), timestampNs: 1_700_000_000_123_456_789n },
  { data: new Uint8Array(60).fill(0x5a), originalLength: 1514, timestampNs: 1_700_000_001_000_000_000n, interface: 1 },
  { data: new Uint8Array(0), timestampNs: 5n, interface: 2 },
];
const MULTI = writePcapng(frames, { interfaces: [{ name: 'eth0' }, { linktype: 113, snaplen: 32, tsresol: 6 }, { tsresol: 0x80 | 16 }] });
/** Several sections in both byte orders, Simple and obsolete Packet Blocks, unknown blocks. */
const MIXED = concat(
  DUMPCAP,
  pcapngToBigEndian(MULTI),
  leBlock(0x0a0d0d0a, [0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  leBlock(1, [1, 0, 0, 0, 0, 0, 0, 0]),
  leBlock(3, [3, 0, 0, 0, 0xa, 0xb, 0xc, 0]),
  leBlock(2, [0, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0xd, 0xe, 0, 0]),
  leBlock(0x40000bad, [0x99, 0x7e, 0, 0, 1, 2, 3, 4]),
);

const CORPUS: [string, Uint8Array][] = [
  ['tcpdump pcap', fixture('tcpdump-lo-ping.pcap')],
  ['tcpdump nanosecond pcap', fixture('tcpdump-lo-ping-nano.pcap')],
  ['big-endian pcap', pcapToBigEndian(writePcap(frames, { snaplen: 40 }))],
  ['dumpcap pcapng', DUMPCAP],
  ['mixed pcapng', MIXED],
];

/** The offsets of every length field of a valid capture (pcap incl_len/orig_len; pcapng block, trailer, EPB lengths). */
function lengthFields(bytes: Uint8Array): number[] {
  if (detectCaptureFormat(bytes) === 'pcap') return readCapture(bytes).frames.flatMap((f) => [f.offset + 8, f.offset + 12]);
  return [...pcapngBlocks(bytes)].flatMap(({ at, type, length }) => [at + 4, at + length - 4, ...(type === 6 ? [at + 20, at + 24] : [])]);
}

describe('capture files', () => {
  it('detects the format from the first four bytes', () => {
    expect(CORPUS.map(([, bytes]) => detectCaptureFormat(bytes))).toEqual(['pcap', 'pcap', 'pcap', 'pcapng', 'pcapng']);
    expect(() => detectCaptureFormat(Uint8Array.of(0x0a, 0x0d, 0x0d))).toThrow(
      expect.objectContaining({ code: 'MALFORMED', reason: 'truncated', offset: 0 }),
    );
    expect(() => detectCaptureFormat(new TextEncoder().encode('GIF89a'))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', reason: 'magic', offset: 0 }),
    );
  });

  it('reads what dumpcap wrote (lo and any: Ethernet and Linux cooked, nanoseconds, statistics blocks), as tshark shows it', () => {
    const capture = readCapture(DUMPCAP);
    expect(capture.format).toBe('pcapng');
    expect(capture.interfaces.map((i) => [i.name, i.linktype, i.snaplen, i.tsresol])).toEqual([
      ['lo', 1, 262144, 9],
      ['any', 113, 262144, 9],
    ]);
    // tshark -T fields -e frame.interface_id -e frame.time_epoch -e frame.len -e frame.cap_len
    expect(capture.frames.map((f) => [f.interface, f.timestampNs, f.originalLength, f.data.length])).toEqual([
      [0, 1796653417061930815n, 98, 98],
      [0, 1796653417061947216n, 98, 98],
      [1, 1796653417061930815n, 100, 100],
      [1, 1796653417061947216n, 100, 100],
    ]);
    // the same ICMP packet behind a 14-byte Ethernet and a 16-byte Linux cooked header
    expect(capture.frames[2]?.data.subarray(16)).toEqual(capture.frames[0]?.data.subarray(14));
  });

  it('reads several sections of both byte orders: a big-endian copy reads as the little-endian original', () => {
    expect(readCapture(pcapngToBigEndian(DUMPCAP))).toEqual(readCapture(DUMPCAP));
    expect(readCapture(pcapngToBigEndian(MULTI))).toEqual(readCapture(MULTI));
    const mixed = readCapture(MIXED);
    expect(mixed.interfaces.map((i) => [i.section, i.id, i.linktype])).toEqual([
      [0, 0, 1],
      [0, 1, 113],
      [1, 0, 1],
      [1, 1, 113],
      [1, 2, 1],
      [2, 0, 1],
    ]);
    expect(mixed.frames.slice(4).map((f) => [f.interface, f.data.length, f.originalLength, f.timestampNs])).toEqual([
      [2, 5, 5, 1_700_000_000_123_456_789n],
      [3, 32, 1514, 1_700_000_001_000_000_000n],
      [4, 0, 0, 0n], // 5 ns at 2^-16 s: 0 units
      [5, 3, 3, 0n],
      [5, 2, 2, 9n * 2n ** 32n * 1000n + 7000n],
    ]);
    expect(readCapture(pcapToBigEndian(writePcap(frames)))).toEqual(readCapture(writePcap(frames)));
  });

  it('openCapture iterates lazily, restarts, and keeps the frames before damage', () => {
    const reader = openCapture(MIXED);
    expect(reader.interfaces).toEqual([]);
    const first = [...reader];
    expect(reader.interfaces).toHaveLength(6);
    expect([...reader]).toEqual(first);
    const iterator = openCapture(DUMPCAP.subarray(0, DUMPCAP.length - 8))[Symbol.iterator]();
    let count = 0;
    expect(() => {
      while (!iterator.next().done) count++;
    }).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(count).toBe(4); // the statistics blocks at the end are damaged, not the packets
  });

  it('a megabyte of empty records reads as 65,535 frames, no more memory than the input suggests', () => {
    const many = writePcap(Array.from({ length: 65_535 }, () => ({ data: new Uint8Array(0) })));
    expect(many.length).toBe(24 + 16 * 65_535);
    expect(readCapture(many).frames).toHaveLength(65_535);
  });

  it('mutated captures read or throw a CaptureError, nothing else (4,000 runs, fixed seed)', () => {
    const interesting = fc.constantFrom(
      0,
      1,
      3,
      4,
      11,
      12,
      15,
      16,
      20,
      28,
      31,
      32,
      0xffff,
      MAX_CAPTURE_LENGTH,
      MAX_CAPTURE_LENGTH + 1,
      0x7fff_ffff,
      0x8000_0000,
      0xffff_fff0,
      0xffff_fffc,
      0xffff_ffff,
    );
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('splice' as const),
        at: fc.nat(),
        remove: fc.nat({ max: 8 }),
        insert: fc.uint8Array({ maxLength: 8 }),
      }),
      fc.record({
        kind: fc.constant('word' as const),
        at: fc.nat(),
        value: fc.oneof(interesting, fc.nat({ max: 0xffff_ffff })),
        little: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('length' as const),
        at: fc.nat(),
        value: fc.oneof(interesting, fc.nat({ max: 2048 })),
        little: fc.boolean(),
      }),
    );
    type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
    const fields = new Map(CORPUS.map(([name, bytes]) => [name, lengthFields(bytes)]));
    const apply = (name: string, input: Uint8Array, mutations: Mutation[]): Uint8Array => {
      let bytes: Uint8Array = input.slice();
      for (const m of mutations) {
        if (bytes.length === 0) break;
        const at = m.at % bytes.length;
        if (m.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ m.xor;
        else if (m.kind === 'truncate') bytes = bytes.slice(0, at);
        else if (m.kind === 'splice')
          bytes = concat(bytes.subarray(0, at), m.insert, bytes.subarray(Math.min(bytes.length, at + m.remove)));
        else {
          const offsets = fields.get(name) ?? [];
          const where = m.kind === 'length' && offsets.length > 0 ? (offsets[m.at % offsets.length] ?? 0) : at;
          if (where + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(where, m.value, m.little);
        }
      }
      return bytes;
    };
    const outcomes = { read: 0, refused: 0 };
    const reasons = new Set<CaptureErrorReason>();
    fc.assert(
      fc.property(
        fc.constantFrom(...CORPUS),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        ([name, input], mutations, copy) => {
          const bytes = apply(name, input, mutations);
          let capture: ReturnType<typeof readCapture>;
          try {
            capture = readCapture(bytes, { copy });
          } catch (error) {
            if (!CaptureError.isCaptureError(error)) throw error;
            expect(error.offset).toBeGreaterThanOrEqual(0);
            expect(error.offset).toBeLessThanOrEqual(bytes.length);
            reasons.add(error.reason);
            outcomes.refused++;
            return;
          }
          outcomes.read++;
          let total = 0;
          for (const frame of capture.frames) {
            expect(frame.data.length).toBeLessThanOrEqual(Math.min(frame.originalLength, MAX_CAPTURE_LENGTH));
            expect(typeof frame.timestampNs).toBe('bigint');
            expect(frame.offset).toBeLessThan(bytes.length);
            if (frame.interface !== undefined) expect(capture.interfaces[frame.interface]?.linktype).toBe(frame.linktype);
            total += frame.data.length;
          }
          expect(total).toBeLessThanOrEqual(bytes.length);
          expect(capture.frames.length * 12).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 4000, seed: 0x1a2b3c4d },
    );
    // Both outcomes occur, and the mutations reach most of the checks.
    expect(outcomes.read).toBeGreaterThan(400);
    expect(outcomes.refused).toBeGreaterThan(400);
    // (all but `no-section`, unreachable once the format is detected, and `linktype`, which needs the option)
    expect([...reasons].sort()).toEqual([
      'block-length',
      'interface',
      'magic',
      'option',
      'original-length',
      'section-length',
      'snaplen',
      'too-large',
      'trailer',
      'truncated',
      'version',
    ]);
  });

  it('random bytes behind a valid pcap or pcapng header read or throw a CaptureError (1,000 runs, fixed seed)', () => {
    const heads = [writePcap([]), writePcapng([], { interfaces: [{}, { tsresol: 3 }] })];
    fc.assert(
      fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 400 }), (head, tail) => {
        try {
          readCapture(concat(head, tail));
        } catch (error) {
          if (!CaptureError.isCaptureError(error)) throw error;
        }
      }),
      { numRuns: 1000, seed: 14 },
    );
  });
});
