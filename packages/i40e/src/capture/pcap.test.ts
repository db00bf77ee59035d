/**
 * Classic pcap: real tcpdump output, both magics in both byte orders, the writer (byte-identical to
 * tcpdump's files), and a hand-built malformed file for every check, asserting code, reason and offset.
 */
import { describe, expect, it } from 'vitest';
import { captureError, expectCaptureError as expectError, captureFixture as fixture } from '../test-support/capture-bytes.js';
import { readCapture } from './capture.js';
import { openPcap, writePcap } from './pcap.js';
import { LINKTYPE_ETHERNET, MAX_CAPTURE_LENGTH } from './types.js';

interface RecordSpec {
  sec?: number;
  frac?: number;
  incl?: number;
  orig?: number;
  data: number[] | Uint8Array;
}

/** A classic pcap file built field by field, in either byte order. */
function pcapFile(
  header: { little?: boolean; nano?: boolean; magic?: number; major?: number; snaplen?: number; network?: number },
  records: RecordSpec[],
): Uint8Array {
  const little = header.little ?? true;
  const size = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, header.magic ?? (header.nano ? 0xa1b23c4d : 0xa1b2c3d4), little);
  v.setUint16(4, header.major ?? 2, little);
  v.setUint16(6, 4, little);
  v.setUint32(16, header.snaplen ?? 65535, little);
  v.setUint32(20, header.network ?? 1, little);
  let at = 24;
  for (const r of records) {
    v.setUint32(at, r.sec ?? 0, little);
    v.setUint32(at + 4, r.frac ?? 0, little);
    v.setUint32(at + 8, r.incl ?? r.data.length, little);
    v.setUint32(at + 12, r.orig ?? r.data.length, little);
    out.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  return out;
}

describe('pcap reader', () => {
  it('reads what tcpdump wrote (lo, ping -c 3; microseconds), as tcpdump -tt -r prints it', () => {
    const capture = readCapture(fixture('tcpdump-lo-ping.pcap'));
    expect(capture).toMatchObject({ format: 'pcap', linktype: LINKTYPE_ETHERNET });
    expect(capture.interfaces).toEqual([{ linktype: 1, snaplen: 262144, section: 0, id: 0, tsresol: 6, tsoffsetSeconds: 0n }]);
    // tcpdump -nn -tt -r: 1796653230.798538 echo request id 11803 seq 1, then the reply, seq 2, seq 3
    const seconds = [
      '1796653230.798538',
      '1796653230.798559',
      '1796653231.002686',
      '1796653231.002717',
      '1796653231.210531',
      '1796653231.210548',
    ];
    expect(capture.frames.map((f) => f.timestampNs)).toEqual(seconds.map((s) => BigInt(s.replace('.', '')) * 1000n));
    expect(capture.frames.map((f) => [f.data.length, f.originalLength])).toEqual(Array(6).fill([98, 98]));
    capture.frames.forEach((f, i) => {
      const v = new DataView(f.data.buffer, f.data.byteOffset);
      expect(v.getUint16(12)).toBe(0x0800); // IPv4
      expect(f.data[34]).toBe(i % 2 === 0 ? 8 : 0); // ICMP echo request, echo reply
      expect([v.getUint16(38), v.getUint16(40)]).toEqual([11803, (i >> 1) + 1]);
      expect(f).not.toHaveProperty('interface');
    });
    expect(capture.frames.map((f) => f.offset)).toEqual([24, 138, 252, 366, 480, 594]);
  });

  it('reads what tcpdump --time-stamp-precision=nano wrote (nanosecond magic)', () => {
    const capture = readCapture(fixture('tcpdump-lo-ping-nano.pcap'));
    expect(capture.interfaces[0]?.tsresol).toBe(9);
    expect(capture.frames.map((f) => f.timestampNs)).toEqual([1796653248733730082n, 1796653248733742496n]);
  });

  it('reads both magics in both byte orders to the same frames', () => {
    const records = [
      { sec: 10, frac: 5, data: [1, 2, 3] },
      { sec: 0xffff_ffff, frac: 999_999, data: [], orig: 60 },
    ];
    for (const nano of [false, true]) {
      const le = readCapture(pcapFile({ little: true, nano }, records));
      const be = readCapture(pcapFile({ little: false, nano }, records));
      expect(be).toEqual(le);
      const unit = nano ? 1n : 1000n;
      expect(le.frames.map((f) => f.timestampNs)).toEqual([10_000_000_000n + 5n * unit, 4_294_967_295_000_000_000n + 999_999n * unit]);
      expect(le.frames.map((f) => [[...f.data], f.originalLength])).toEqual([
        [[1, 2, 3], 3],
        [[], 60],
      ]);
    }
  });

  it('passes other link types through, recorded, unless the caller requires one (UNSUPPORTED naming it)', () => {
    const sll = pcapFile({ network: 113 }, [{ data: [1] }]);
    expect(readCapture(sll)).toMatchObject({ linktype: 113, frames: [{ linktype: 113 }] });
    const error = captureError(() => readCapture(sll, { linktype: LINKTYPE_ETHERNET }));
    expect(error).toMatchObject({ code: 'UNSUPPORTED', reason: 'linktype', offset: 20 });
    expect(error.message).toContain('LINKTYPE_LINUX_SLL (113)');
    // FCS bits above the LinkType (bit 26 F, FCS length in the top bits) are not part of it
    expect(readCapture(pcapFile({ network: 0x1400_0001 }, [])).linktype).toBe(0x1400_0001 & 0x03ff_ffff);
  });

  it('copies frames out of a Node Buffer into plain Uint8Arrays; copy: false gives views', () => {
    const buffer = Buffer.from(fixture('tcpdump-lo-ping.pcap'));
    const frame = readCapture(buffer).frames[0];
    expect(Object.getPrototypeOf(frame?.data)).toBe(Uint8Array.prototype);
    const before = frame?.data[0];
    const view = readCapture(buffer, { copy: false }).frames[0];
    expect(view?.data.buffer).toBe(buffer.buffer);
    buffer.fill(0xee);
    expect(frame?.data[0]).toBe(before);
    expect(view?.data[0]).toBe(0xee);
  });

  it('snaplen 0 means none: up to 256 KiB', () => {
    const big = new Uint8Array(MAX_CAPTURE_LENGTH);
    expect(readCapture(pcapFile({ snaplen: 0 }, [{ data: big }])).frames[0]?.data.length).toBe(MAX_CAPTURE_LENGTH);
  });

  it('iterates, yielding the frames before a damaged record, and restarts', () => {
    const file = pcapFile({}, [{ data: [1] }, { data: [2] }, { data: [3], incl: 4, orig: 4 }]);
    const reader = openPcap(file.subarray(0, file.length));
    const seen: number[] = [];
    const error = captureError(() => {
      for (const f of reader) seen.push(f.data[0] ?? -1);
    });
    expect(seen).toEqual([1, 2]);
    expect(error).toMatchObject({ code: 'MALFORMED', reason: 'truncated', offset: 24 + 17 + 17 });
    const again: number[] = [];
    captureError(() => {
      for (const f of reader) again.push(f.data[0] ?? -1);
    });
    expect(again).toEqual([1, 2]);
  });
});

describe('pcap reader: every check is a typed error at its offset', () => {
  const ok = { data: [1, 2, 3, 4] }; // a 20-byte record
  it('file header', () => {
    expectError(Uint8Array.of(), 'MALFORMED', 'truncated', 0);
    expectError(Uint8Array.of(0xd4, 0xc3, 0xb2), 'MALFORMED', 'truncated', 0);
    expectError(pcapFile({}, []).subarray(0, 23), 'MALFORMED', 'truncated', 0);
    expectError(pcapFile({ magic: 0x12345678 }, []), 'UNSUPPORTED', 'magic', 0);
    expectError(pcapFile({ magic: 0xa1b2cd34 }, []), 'UNSUPPORTED', 'magic', 0);
    expectError(pcapFile({ magic: 0xa1b2cd34, little: false }, []), 'UNSUPPORTED', 'magic', 0);
    expectError(pcapFile({ major: 3 }, []), 'UNSUPPORTED', 'version', 4);
    expectError(pcapFile({ major: 2, little: false, network: 1 }, []).fill(0, 4, 6), 'UNSUPPORTED', 'version', 4);
  });

  it('record header truncated', () => {
    expectError(pcapFile({}, [ok]).subarray(0, 24 + 15), 'MALFORMED', 'truncated', 24);
    expectError(pcapFile({}, [ok, ok]).subarray(0, 24 + 20 + 1), 'MALFORMED', 'truncated', 44);
  });

  it('incl_len above 256 KiB, above the snaplen; orig_len below incl_len', () => {
    expectError(pcapFile({ snaplen: 0 }, [ok, { data: [], incl: MAX_CAPTURE_LENGTH + 1 }]), 'MALFORMED', 'too-large', 44 + 8);
    expectError(pcapFile({ snaplen: 0 }, [{ data: [], incl: 0xffff_ffff }]), 'MALFORMED', 'too-large', 32);
    expectError(pcapFile({ snaplen: 3 }, [ok]), 'MALFORMED', 'snaplen', 32);
    expectError(pcapFile({ little: false, snaplen: 4 }, [ok, { data: [1, 2, 3, 4, 5] }]), 'MALFORMED', 'snaplen', 52);
    expectError(pcapFile({}, [ok, { data: [1, 2], orig: 1 }]), 'MALFORMED', 'original-length', 44 + 12);
  });

  it('packet bytes truncated, in the last record or by a lying incl_len', () => {
    expectError(pcapFile({}, [ok, ok]).subarray(0, 24 + 20 + 19), 'MALFORMED', 'truncated', 44);
    expectError(pcapFile({}, [{ data: [1, 2], incl: 100, orig: 100 }]), 'MALFORMED', 'truncated', 24);
  });
});

describe('pcap writer', () => {
  it("writes tcpdump's own files byte for byte (micro- and nanosecond)", () => {
    const micro = fixture('tcpdump-lo-ping.pcap');
    expect(writePcap(readCapture(micro).frames)).toEqual(micro);
    const nano = fixture('tcpdump-lo-ping-nano.pcap');
    expect(writePcap(readCapture(nano).frames, { nanoseconds: true })).toEqual(nano);
  });

  it('golden header: magic, version 2.4, snaplen, linktype, little-endian', () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    expect(hex(writePcap([]))).toBe('d4c3b2a10200040000000000000000000000040001000000');
    expect(hex(writePcap([], { linktype: 101, snaplen: 1500, nanoseconds: true }))).toBe(
      '4d3cb2a1020004000000000000000000dc05000065000000',
    );
    expect(hex(writePcap([{ data: Uint8Array.of(0xab), timestampNs: 1_500_000_999n }]).subarray(24))).toBe(
      '0100000020a107000100000001000000ab',
    );
  });

  it('round trips: microseconds round down, nanoseconds are exact, long frames are cut to the snaplen', () => {
    const frames = [
      { data: Uint8Array.of(1, 2, 3), timestampNs: 1_234_567_891n },
      { data: new Uint8Array(100).fill(7), originalLength: 1500, timestampNs: 4_294_967_295_999_999_999n },
      { data: new Uint8Array(0) },
    ];
    const micro = readCapture(writePcap(frames, { snaplen: 64 }));
    expect(micro.frames.map((f) => [f.data.length, f.originalLength, f.timestampNs])).toEqual([
      [3, 3, 1_234_567_000n],
      [64, 1500, 4_294_967_295_999_999_000n],
      [0, 0, 0n],
    ]);
    const nano = readCapture(writePcap(frames, { nanoseconds: true, linktype: 228 }));
    expect(nano.linktype).toBe(228);
    expect(nano.frames.map((f) => [[...f.data], f.originalLength, f.timestampNs])).toEqual(
      frames.map((f) => [[...f.data], f.originalLength ?? f.data.length, f.timestampNs ?? 0n]),
    );
  });

  it('takes any iterable of frames', () => {
    function* gen(): Generator<{ data: Uint8Array }> {
      yield { data: Uint8Array.of(9) };
    }
    expect(readCapture(writePcap(gen())).frames[0]?.data).toEqual(Uint8Array.of(9));
  });

  it('refuses bad options and frames with EINVAL', () => {
    const einval = expect.objectContaining({ code: 'EINVAL' });
    const data = Uint8Array.of(1, 2);
    expect(() => writePcap([], { linktype: -1 })).toThrow(einval);
    expect(() => writePcap([], { linktype: 0x10000 })).toThrow(einval);
    expect(() => writePcap([], { snaplen: 0 })).toThrow(einval);
    expect(() => writePcap([], { snaplen: MAX_CAPTURE_LENGTH + 1 })).toThrow(einval);
    expect(() => writePcap([], { snaplen: 1.5 })).toThrow(einval);
    expect(() => writePcap([{ data, originalLength: 1 }])).toThrow(einval);
    expect(() => writePcap([{ data, timestampNs: -1n }])).toThrow(einval);
    expect(() => writePcap([{ data, timestampNs: 4_294_967_296n * 1_000_000_000n }])).toThrow(einval);
    expect(() => writePcap([{ data: [1, 2] } as never])).toThrow(einval);
    expect(() => writePcap([null as never])).toThrow(einval);
    expect(() => writePcap(42 as never)).toThrow(einval);
    expect(() => readCapture('pcap' as never)).toThrow(einval);
  });
});
