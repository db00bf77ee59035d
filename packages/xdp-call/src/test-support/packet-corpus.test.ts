import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CORPUS_FILTER_PORT, packetCorpus, XDP_TEST_RUN_MIN_BYTES } from './packet-corpus.js';
import { udpFrame } from './udp-frame.js';

/** RFC 1071 sum over bytes; 0 when a header's checksum is right. */
function onesComplement(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const digest = (frames: ReturnType<typeof packetCorpus>) => {
  const hash = createHash('sha256');
  for (const f of frames) hash.update(`${f.label}\0${Buffer.from(f.bytes).toString('hex')}\n`);
  return hash.digest('hex');
};

describe('packetCorpus', () => {
  const corpus = packetCorpus();
  const byLabel = new Map(corpus.map((f) => [f.label, f]));

  it('is deterministic for a seed and changes only its random parts with another seed', () => {
    expect(digest(packetCorpus())).toBe(digest(corpus));
    expect(digest(packetCorpus(1))).toBe(digest(packetCorpus(1)));
    const other = packetCorpus(1);
    expect(digest(other)).not.toBe(digest(corpus));
    expect(other).toHaveLength(corpus.length);
    const fixed = (frames: typeof corpus) => frames.filter((f) => !/random|garbage|runt/.test(f.label));
    expect(digest(fixed(other))).toBe(digest(fixed(corpus)));
  });

  it('has a few hundred frames with unique labels, 1..1518 bytes, marked for the kernel test run', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    expect(corpus.length).toBeLessThanOrEqual(500);
    expect(byLabel.size).toBe(corpus.length);
    for (const { label, bytes, kernelTestRun } of corpus) {
      expect(bytes.length, label).toBeGreaterThanOrEqual(1);
      expect(bytes.length, label).toBeLessThanOrEqual(1518);
      expect(kernelTestRun, label).toBe(bytes.length >= XDP_TEST_RUN_MIN_BYTES);
    }
    const kinds = new Set(corpus.map((f) => f.label.split('/')[0]));
    expect([...kinds].sort()).toEqual(
      [
        '802.3',
        'arp',
        'ethertype',
        'garbage',
        'garbage-ipv4',
        'ipv4-odd',
        'ipv4-options',
        'ipv4-tcp',
        'ipv4-udp',
        'ipv6',
        'runt',
        'truncated',
        'vlan',
      ].sort(),
    );
  });

  it('builds the fixed test frame of udp-frame.ts byte for byte', () => {
    expect(Buffer.from(byLabel.get('ipv4-udp/reference-64')?.bytes ?? []).toString('hex')).toBe(Buffer.from(udpFrame()).toString('hex'));
  });

  it('writes valid IPv4 header checksums and the UDP destination port at its IHL-dependent offset', () => {
    const complete = corpus.filter((f) => /^(ipv4-udp|ipv4-tcp|ipv4-options)\//.test(f.label));
    expect(complete.length).toBeGreaterThan(80);
    for (const { label, bytes } of complete) {
      const ihl = (bytes[14] ?? 0) & 15;
      expect(onesComplement(bytes.subarray(14, 14 + ihl * 4)), label).toBe(0);
      const dport = /dport-(\d+)/.exec(label)?.[1];
      if (dport !== undefined) expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(14 + ihl * 4 + 2), label).toBe(Number(dport));
    }
    const ports = corpus.filter((f) => f.label.startsWith('ipv4-udp/') && f.label.includes(`dport-${CORPUS_FILTER_PORT}/`));
    expect(ports.length).toBeGreaterThan(3);
  });

  it('cuts the IPv4/UDP frame at every length up to the payload and refuses runts for the kernel', () => {
    const cut = corpus.filter((f) => f.label.startsWith('truncated/ipv4-udp-dport-9/')).map((f) => f.bytes.length);
    expect(cut).toEqual(Array.from({ length: 43 }, (_, i) => i + 1));
    const runts = corpus.filter((f) => f.bytes.length < XDP_TEST_RUN_MIN_BYTES);
    expect(runts.length).toBeGreaterThanOrEqual(26);
    expect(runts.every((f) => !f.kernelTestRun)).toBe(true);
    for (const n of [13, 14, 15, 17, 18, 19, 33, 34, 35, 41, 42, 43]) {
      expect(
        corpus.some((f) => f.label.startsWith('truncated/') && f.bytes.length === n),
        `cut at ${n}`,
      ).toBe(true);
    }
  });
});
