/**
 * A deterministic corpus of Ethernet frames for differential tests of XDP programs: run
 * the same frames, in the same order, through two runtimes (the kernel's
 * `BPF_PROG_TEST_RUN`, this project's verifier/JIT) and compare verdicts, output bytes and
 * maps. The random parts come from a seeded PRNG of its own (mulberry32), never
 * `Math.random`, so a seed always gives the same frames.
 *
 * Kinds (the label's first segment): `ipv4-udp` (ports include the filter port 9 and its
 * byte-swapped twin 2304), `ipv4-tcp`, `ipv4-options` (IHL 6..15), `ipv4-odd` (IHL < 5,
 * version != 4, fragments, other protocols), `vlan` (802.1Q, QinQ), `ipv6`, `arp`, `802.3`
 * (length field < 0x0600), `ethertype` (other Ethertypes), `truncated` (well-formed frames
 * cut at every header boundary and one byte either side; the IPv4/UDP frame at every length
 * from 1), `runt` (1..13 bytes), `garbage` (random bytes) and `garbage-ipv4` (random bytes
 * behind an IPv4 Ethertype). Source MACs vary in their first and last byte (both parities).
 * Every frame is at most 1518 bytes (no FCS), inside the kernel's linear test-run buffer
 * (PAGE_SIZE - XDP_PACKET_HEADROOM - skb_shared_info = 3520 bytes on 4 KiB pages), so none
 * is split into fragments; frames are not padded to 60 bytes unless the label says so.
 */

/** Shortest `data_in` the kernel's XDP test run accepts (ETH_HLEN); shorter gets EINVAL. */
export const XDP_TEST_RUN_MIN_BYTES = 14;

/** The UDP port `xdp_udp_filter` drops by default. */
export const CORPUS_FILTER_PORT = 9;

/** The seed {@link packetCorpus} uses when given none. */
export const CORPUS_DEFAULT_SEED = 0x5eedc0de;

/** One frame of the corpus. */
export interface CorpusFrame {
  /** Unique within a corpus, e.g. `ipv4-udp/dport-9/mac-02..01/len-64`. */
  readonly label: string;
  readonly bytes: Uint8Array;
  /** False when `BPF_PROG_TEST_RUN` refuses the frame (EINVAL): shorter than 14 bytes. */
  readonly kernelTestRun: boolean;
}

type Mac = readonly [number, number, number, number, number, number];

const DST_MAC: Mac = [0x02, 0, 0, 0, 0, 0x02];
const BROADCAST: Mac = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const IP_SRC = 0x0a000001; // 10.0.0.1
const IP_DST = 0x0a000002; // 10.0.0.2
const IP6_SRC = Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
const IP6_DST = Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);

/** mulberry32: a small, fast 32-bit PRNG; good enough for test data, fully determined by the seed. */
function prng(seed: number): { u32(): number; int(n: number): number; bytes(n: number): Uint8Array } {
  let state = seed >>> 0;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    u32,
    int: (n) => u32() % n,
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = u32() & 0xff;
      return out;
    },
  };
}

/** Concatenate byte arrays into one. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Big-endian fields into a fresh array: `[value, size]` pairs. */
function fields(...list: readonly (readonly [number, 1 | 2 | 4])[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, [, size]) => n + size, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [value, size] of list) {
    if (size === 1) view.setUint8(at, value);
    else if (size === 2) view.setUint16(at, value);
    else view.setUint32(at, value);
    at += size;
  }
  return out;
}

/** The Internet checksum (RFC 1071) of `parts`, concatenated. */
function checksum(...parts: Uint8Array[]): number {
  const bytes = concat(...parts);
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const setU16 = (bytes: Uint8Array, at: number, value: number): void => new DataView(bytes.buffer, bytes.byteOffset).setUint16(at, value);

function ethernet(src: Mac, type: number, payload: Uint8Array, dst: Mac = DST_MAC): Uint8Array {
  return concat(Uint8Array.from(dst), Uint8Array.from(src), fields([type, 2]), payload);
}

interface Ipv4Options {
  readonly protocol: number;
  readonly payload: Uint8Array;
  /** IPv4 options, a multiple of 4 bytes (IHL = 5 + length / 4). */
  readonly options?: Uint8Array;
  /** Overrides the first byte (version and IHL), for malformed headers. */
  readonly versionIhl?: number;
  readonly fragment?: number;
  readonly ttl?: number;
}

function ipv4(o: Ipv4Options): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  const ihl = 5 + options.length / 4;
  const header = concat(
    fields([o.versionIhl ?? 0x40 | ihl, 1], [0, 1], [20 + options.length + o.payload.length, 2], [0, 2], [o.fragment ?? 0x4000, 2]),
    fields([o.ttl ?? 64, 1], [o.protocol, 1], [0, 2], [IP_SRC, 4], [IP_DST, 4]),
    options,
  );
  setU16(header, 10, checksum(header));
  return concat(header, o.payload);
}

/** A UDP (17) or TCP (6) segment with its checksum over the IPv4 or IPv6 pseudo-header. */
function transport(protocol: 6 | 17, ip: 4 | 6, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const header =
    protocol === 17
      ? fields([sport, 2], [dport, 2], [8 + payload.length, 2], [0, 2])
      : fields([sport, 2], [dport, 2], [0x01020304, 4], [0, 4], [0x5018, 2], [0xffff, 2], [0, 2], [0, 2]);
  const segment = concat(header, payload);
  const pseudo =
    ip === 4
      ? fields([IP_SRC, 4], [IP_DST, 4], [protocol, 2], [segment.length, 2])
      : concat(IP6_SRC, IP6_DST, fields([segment.length, 4], [protocol, 4]));
  const sum = checksum(pseudo, segment);
  setU16(segment, protocol === 17 ? 6 : 16, protocol === 17 && sum === 0 ? 0xffff : sum);
  return segment;
}

function ipv6(nextHeader: number, payload: Uint8Array): Uint8Array {
  return concat(fields([0x60000000, 4], [payload.length, 2], [nextHeader, 1], [64, 1]), IP6_SRC, IP6_DST, payload);
}

function arp(op: 1 | 2, src: Mac): Uint8Array {
  return concat(
    fields([1, 2], [0x0800, 2], [6, 1], [4, 1], [op, 2]),
    Uint8Array.from(src),
    fields([IP_SRC, 4]),
    new Uint8Array(6),
    fields([IP_DST, 4]),
  );
}

/** A counting payload of `n` bytes (byte i is `i + start`). */
function counting(n: number, start = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i + start) & 0xff;
  return out;
}

const hex = (n: number, width = 2): string => n.toString(16).padStart(width, '0');
const macLabel = (mac: Mac): string => `${hex(mac[0])}..${hex(mac[5])}`;

/**
 * The corpus: a few hundred labelled Ethernet frames, the same for the same seed.
 * @param seed PRNG seed for the random parts (ports, sizes, garbage); {@link CORPUS_DEFAULT_SEED} by default
 * @throws Error if two frames got the same label (a bug in the generator)
 */
export function packetCorpus(seed: number = CORPUS_DEFAULT_SEED): CorpusFrame[] {
  const rng = prng(seed);
  const frames: CorpusFrame[] = [];
  const labels = new Set<string>();
  const add = (label: string, bytes: Uint8Array): void => {
    if (labels.has(label)) throw new Error(`packetCorpus: duplicate label ${label}`);
    labels.add(label);
    frames.push({ label, bytes, kernelTestRun: bytes.length >= XDP_TEST_RUN_MIN_BYTES });
  };
  // source MACs: first byte even and odd (unicast/multicast bit), last byte even and odd
  const firsts = [0x02, 0x03, 0x00, 0x01, 0x0a, 0x0b, 0xfe, 0xff];
  const mac = (i: number): Mac => [firsts[i % firsts.length] ?? 2, 0x00, 0x5e, 0x10, (i >> 8) & 0xff, i & 0xff];
  const randomMac = (): Mac => [rng.int(256), rng.int(256), rng.int(256), rng.int(256), rng.int(256), rng.int(256)];
  const udp4Frame = (src: Mac, sport: number, dport: number, payload: Uint8Array, options?: Uint8Array) =>
    ethernet(src, 0x0800, ipv4({ protocol: 17, payload: transport(17, 4, sport, dport, payload), ...(options ? { options } : {}) }));

  // the frame of udp-frame.ts, built here: 02:..:01 -> 02:..:02, 10.0.0.1:1234 -> 10.0.0.2:9, 64 bytes
  add('ipv4-udp/reference-64', udp4Frame([0x02, 0, 0, 0, 0, 0x01], 1234, 9, counting(22)));

  // IPv4/UDP: fixed ports (the filter port, its byte-swapped twin 0x0900, neighbours, common ones) x two MACs x sizes
  const ports = [9, 0, 1, 8, 10, 53, 67, 123, 443, 1234, 2304, 4789, 8080, 32768, 65280, 65535];
  const sizes = [18, 0, 64, 1472]; // 64-byte frame, bare header, small, 1514-byte frame
  ports.forEach((port, i) => {
    for (const j of [0, 1]) {
      const src = mac(2 * i + j);
      const size = sizes[(i + j) % sizes.length] ?? 18;
      add(`ipv4-udp/dport-${port}/mac-${macLabel(src)}/len-${14 + 28 + size}`, udp4Frame(src, 1024 + i, port, counting(size, i)));
    }
  });
  add('ipv4-udp/dport-9/padded-60', concat(udp4Frame(mac(1), 4321, 9, counting(4)), new Uint8Array(60 - 46)));
  for (let i = 0; i < 40; i++) {
    const dport = rng.int(4) === 0 ? CORPUS_FILTER_PORT : rng.int(65536);
    const size = rng.int(3) === 0 ? rng.int(1473) : rng.int(64);
    add(`ipv4-udp/random-${i}/dport-${dport}/len-${42 + size}`, udp4Frame(randomMac(), rng.int(65536), dport, rng.bytes(size)));
  }

  // IPv4/TCP (port 9 must pass the UDP filter)
  const tcpPorts = [9, 22, 80, 443, 2304, 8080];
  tcpPorts.forEach((port, i) => {
    add(
      `ipv4-tcp/dport-${port}`,
      ethernet(mac(i + 3), 0x0800, ipv4({ protocol: 6, payload: transport(6, 4, 40000 + i, port, counting(6 + 20 * i)) })),
    );
  });
  for (let i = 0; i < 14; i++) {
    const dport = rng.int(3) === 0 ? CORPUS_FILTER_PORT : rng.int(65536);
    add(
      `ipv4-tcp/random-${i}/dport-${dport}`,
      ethernet(randomMac(), 0x0800, ipv4({ protocol: 6, payload: transport(6, 4, rng.int(65536), dport, rng.bytes(rng.int(200))) })),
    );
  }

  // IPv4 with options: IHL 6..15, UDP to the filter port and to another one (NOPs, then end of list)
  for (let ihl = 6; ihl <= 15; ihl++) {
    const options = new Uint8Array((ihl - 5) * 4).fill(1);
    options[options.length - 1] = 0;
    for (const port of [9, 53])
      add(`ipv4-options/ihl-${ihl}/udp-dport-${port}`, udp4Frame(mac(ihl), 5000 + ihl, port, counting(10), options));
  }

  // IPv4 oddities: IHL below 5 and version != 4 (the bytes at offset 36 still read 9), fragments, other protocols
  const udp9 = transport(17, 4, 1234, 9, counting(18));
  for (const versionIhl of [0x40, 0x44, 0x45 ^ 0x70, 0x65, 0x4f]) {
    add(
      `ipv4-odd/version-ihl-${hex(versionIhl)}/udp-dport-9`,
      ethernet(mac(versionIhl), 0x0800, ipv4({ protocol: 17, payload: udp9, versionIhl })),
    );
  }
  add('ipv4-odd/fragment-first/udp-dport-9', ethernet(mac(5), 0x0800, ipv4({ protocol: 17, payload: udp9, fragment: 0x2000 })));
  add('ipv4-odd/fragment-later/dport-bytes-9', ethernet(mac(6), 0x0800, ipv4({ protocol: 17, payload: udp9, fragment: 0x00b9 })));
  add(
    'ipv4-odd/ihl-15-udp-header-cut',
    ethernet(mac(7), 0x0800, ipv4({ protocol: 17, payload: udp9, options: new Uint8Array(40) })).slice(0, 14 + 60 + 4),
  );
  for (const [name, protocol] of [
    ['icmp', 1],
    ['igmp', 2],
    ['gre', 47],
    ['udplite', 136],
    ['raw-255', 255],
  ] as const) {
    add(`ipv4-odd/proto-${name}/dport-bytes-9`, ethernet(mac(protocol), 0x0800, ipv4({ protocol, payload: udp9 })));
  }

  // 802.1Q (the filter does not look inside), QinQ, and tags with various PCP/VID
  const inner4 = ipv4({ protocol: 17, payload: udp9 });
  const tag = (tci: number, type: number, payload: Uint8Array) => concat(fields([tci, 2], [type, 2]), payload);
  add('vlan/vid-5/ipv4-udp-dport-9', ethernet(mac(3), 0x8100, tag(0x0005, 0x0800, inner4)));
  add('vlan/pcp-7-vid-4095/ipv4-udp-dport-9', ethernet(mac(4), 0x8100, tag(0xefff, 0x0800, inner4)));
  add(
    'vlan/vid-0/ipv4-udp-dport-53',
    ethernet(mac(5), 0x8100, tag(0, 0x0800, ipv4({ protocol: 17, payload: transport(17, 4, 1, 53, counting(30)) }))),
  );
  add('vlan/vid-100/ipv6-udp-dport-9', ethernet(mac(6), 0x8100, tag(100, 0x86dd, ipv6(17, transport(17, 6, 1, 9, counting(20))))));
  add('vlan/vid-7/arp', ethernet(mac(7), 0x8100, tag(7, 0x0806, arp(1, mac(7))), BROADCAST));
  add('vlan/vid-9/802.3-length', ethernet(mac(8), 0x8100, tag(9, 0x0030, counting(48))));
  add('vlan/double-8100/ipv4-udp-dport-9', ethernet(mac(9), 0x8100, tag(10, 0x8100, tag(20, 0x0800, inner4))));
  add('vlan/qinq-88a8/ipv4-udp-dport-9', ethernet(mac(10), 0x88a8, tag(30, 0x8100, tag(40, 0x0800, inner4))));
  add('vlan/max-1518', ethernet(mac(11), 0x8100, tag(1, 0x0800, ipv4({ protocol: 17, payload: transport(17, 4, 7, 9, counting(1472)) }))));

  // IPv6
  for (const [i, port] of [9, 53, 443, 2304].entries()) {
    add(`ipv6/udp-dport-${port}`, ethernet(mac(20 + i), 0x86dd, ipv6(17, transport(17, 6, 2000 + i, port, counting(10 + 100 * i)))));
  }
  add('ipv6/tcp-dport-9', ethernet(mac(25), 0x86dd, ipv6(6, transport(6, 6, 3000, 9, counting(12)))));
  add(
    'ipv6/hop-by-hop-then-udp-dport-9',
    ethernet(mac(26), 0x86dd, ipv6(0, concat(fields([17, 1], [0, 1], [0x0104, 2], [0, 4]), transport(17, 6, 1, 9, counting(8))))),
  );
  add('ipv6/icmpv6-echo', ethernet(mac(27), 0x86dd, ipv6(58, concat(fields([128, 1], [0, 1], [0, 2], [0x00010001, 4]), counting(32)))));
  add('ipv6/max-1514', ethernet(mac(28), 0x86dd, ipv6(17, transport(17, 6, 4000, 9, counting(1452)))));
  for (let i = 0; i < 6; i++) {
    add(
      `ipv6/random-${i}`,
      ethernet(randomMac(), 0x86dd, ipv6(17, transport(17, 6, rng.int(65536), rng.int(65536), rng.bytes(rng.int(300))))),
    );
  }

  // ARP
  add('arp/request', ethernet(mac(30), 0x0806, arp(1, mac(30)), BROADCAST));
  add('arp/reply', ethernet(mac(31), 0x0806, arp(2, mac(31))));
  add('arp/request-padded-60', concat(ethernet(mac(32), 0x0806, arp(1, mac(32)), BROADCAST), new Uint8Array(18)));

  // 802.3: a length field (< 0x0600) instead of an Ethertype; 0x0600 is the first Ethertype
  for (const length of [0x0000, 0x0001, 0x002e, 0x05dc, 0x05ff, 0x0600, 0x0008]) {
    const llc = concat(Uint8Array.of(0xaa, 0xaa, 0x03), counting(43)); // LLC/SNAP header, then data
    const label = length < 0x0600 ? `802.3/length-${hex(length, 4)}` : `802.3/boundary-${hex(length, 4)}-is-an-ethertype`;
    add(label, ethernet(mac(40 + length), length, llc));
  }

  // other Ethertypes (0x0008 above is IPv4's byte-swapped; here 0x0801, 0x86dc are near misses)
  for (const type of [0x0801, 0x86dc, 0x88cc, 0x8847, 0x88a8, 0x9000, 0xffff]) {
    add(`ethertype/${hex(type, 4)}`, ethernet(mac(type & 0xff), type, counting(46)));
  }

  // truncated: the IPv4/UDP frame to the filter port at every length from 1 to one byte into
  // the payload; other frames at each header boundary and one byte either side, plus 14..19
  const base = udp4Frame(mac(1), 1234, 9, counting(18));
  for (let n = 1; n <= 14 + 20 + 8 + 1; n++) add(`truncated/ipv4-udp-dport-9/len-${n}`, base.slice(0, n));
  const cuts = (boundaries: readonly number[]) =>
    [...new Set([...boundaries.flatMap((b) => [b - 1, b, b + 1]), 14, 15, 16, 17, 18, 19])].sort((a, b) => a - b);
  const truncatable: readonly [string, Uint8Array, readonly number[]][] = [
    ['ipv4-options-ihl-6-udp-dport-9', udp4Frame(mac(2), 1, 9, counting(18), Uint8Array.of(1, 1, 1, 0)), [14, 38, 46]],
    ['ipv4-tcp-dport-9', ethernet(mac(3), 0x0800, ipv4({ protocol: 6, payload: transport(6, 4, 1, 9, counting(10)) })), [14, 34, 54]],
    ['vlan-ipv4-udp-dport-9', ethernet(mac(4), 0x8100, tag(5, 0x0800, inner4)), [14, 18, 38, 46]],
    ['ipv6-udp-dport-9', ethernet(mac(5), 0x86dd, ipv6(17, transport(17, 6, 1, 9, counting(10)))), [14, 54, 62]],
    ['arp', ethernet(mac(6), 0x0806, arp(1, mac(6)), BROADCAST), [14, 42]],
    ['802.3', ethernet(mac(7), 0x002e, counting(46)), [14, 60]],
  ];
  for (const [name, frame, boundaries] of truncatable) {
    for (const n of cuts(boundaries)) if (n <= frame.length) add(`truncated/${name}/len-${n}`, frame.slice(0, n));
  }

  // runts: random bytes shorter than an Ethernet header (the kernel's test run refuses them)
  for (let n = 1; n < XDP_TEST_RUN_MIN_BYTES; n++) add(`runt/len-${n}`, rng.bytes(n));

  // garbage: random bytes of random length, and random bytes behind an IPv4 Ethertype
  for (let i = 0; i < 40; i++) {
    const n = XDP_TEST_RUN_MIN_BYTES + (rng.int(2) === 0 ? rng.int(100) : rng.int(1501));
    add(`garbage/${i}/len-${n}`, rng.bytes(n));
  }
  for (let i = 0; i < 24; i++) {
    const bytes = rng.bytes(14 + 20 + rng.int(100));
    setU16(bytes, 12, 0x0800);
    bytes[14] = 0x40 | rng.int(16); // version 4, any IHL
    if (rng.int(2) === 0) bytes[23] = 17;
    const udpAt = 14 + 4 * ((bytes[14] ?? 0) & 15);
    if (rng.int(2) === 0 && bytes.length >= udpAt + 8) setU16(bytes, udpAt + 2, CORPUS_FILTER_PORT);
    add(`garbage-ipv4/${i}/len-${bytes.length}`, bytes);
  }
  return frames;
}
