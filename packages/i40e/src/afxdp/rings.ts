/**
 * The four AF_XDP rings as the kernel maps them into user space (`xsk_mmap`): each a
 * producer index, a consumer index, a flags word and an array of entries, in one mapping
 * whose layout `XDP_MMAP_OFFSETS` reports. Native code needs only the addresses, the
 * size and the mask; indexes are free-running u32s, entry `i` lives at `descs + (i & mask) * entrySize`.
 */
import { I40eError } from '../errors.js';
import type { Sys } from './sys.js';
import {
  MAP_32BIT,
  MAP_POPULATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  XDP_DESC,
  XDP_MMAP_OFFSETS,
  XDP_PGOFF,
  XDP_RING_OFFSET,
} from './uapi.js';
import { XskError } from './xsk-error.js';

/** Which ring: `rx` and `tx` hold `struct xdp_desc` (16 bytes), `fill` and `completion` UMEM addresses (u64). */
export type XskRingKind = 'rx' | 'tx' | 'fill' | 'completion';

/** The ring kinds in the order of `struct xdp_mmap_offsets`. */
export const XSK_RING_KINDS: readonly XskRingKind[] = Object.freeze(['rx', 'tx', 'fill', 'completion']);

/**
 * One ring as native code sees it. `rx` and `completion` are produced by the kernel and
 * consumed by the application; `fill` and `tx` the other way round. Producer and consumer
 * are u32 indexes that only grow (wrapping at 2^32); entries `consumer..producer-1` are
 * the ring's contents; the producer publishes entries with a release store after writing
 * them, the consumer releases them by storing its index.
 */
export interface XskRing {
  readonly kind: XskRingKind;
  /** Address of the u32 producer index. */
  readonly producer: bigint;
  /** Address of the u32 consumer index. */
  readonly consumer: bigint;
  /** Address of the u32 flags word (`XDP_RING_NEED_WAKEUP`: the kernel asks for a wakeup). */
  readonly flags: bigint;
  /** Address of entry 0. */
  readonly descs: bigint;
  /** Entries (a power of two). */
  readonly size: number;
  /** `size - 1`: entry of index `i` is `i & mask`. */
  readonly mask: number;
  /** Bytes per entry: 16 (`struct xdp_desc`) for rx/tx, 8 (a u64 UMEM address) for fill/completion. */
  readonly entrySize: 8 | 16;
  /** The mapping the four addresses lie in (below 2 GiB where the kernel could place it there). */
  readonly mapping: { readonly address: bigint; readonly length: number };
}

/** @internal The byte offsets of one ring inside its mapping, from `XDP_MMAP_OFFSETS`. */
export interface RingOffsets {
  readonly producer: number;
  readonly consumer: number;
  readonly desc: number;
  readonly flags: number;
}

/** @internal Read the four rings' offsets from the `struct xdp_mmap_offsets` bytes. */
export function parseMmapOffsets(view: DataView): Record<XskRingKind, RingOffsets> {
  const ring = (base: number): RingOffsets => {
    const at = (field: number) => {
      const value = view.getBigUint64(base + field, true);
      if (value > 1n << 20n) throw new I40eError('UNSUPPORTED', `XDP_MMAP_OFFSETS: implausible ring offset ${value}`);
      return Number(value);
    };
    return {
      producer: at(XDP_RING_OFFSET.producer),
      consumer: at(XDP_RING_OFFSET.consumer),
      desc: at(XDP_RING_OFFSET.desc),
      flags: at(XDP_RING_OFFSET.flags),
    };
  };
  return {
    rx: ring(XDP_MMAP_OFFSETS.rx),
    tx: ring(XDP_MMAP_OFFSETS.tx),
    fill: ring(XDP_MMAP_OFFSETS.fill),
    completion: ring(XDP_MMAP_OFFSETS.completion),
  };
}

/**
 * @internal mmap one ring of socket `fd` (`MAP_SHARED | MAP_POPULATE`, tried below 2 GiB
 * first with `MAP_32BIT` so that JIT'd code can address it with 32-bit displacements).
 * @throws XskError when the kernel refuses the mapping.
 */
export function mapRing(s: Sys, fd: number, kind: XskRingKind, offsets: RingOffsets, size: number): XskRing {
  const entrySize = kind === 'rx' || kind === 'tx' ? XDP_DESC.size : 8;
  const length = offsets.desc + size * entrySize;
  const prot = PROT_READ | PROT_WRITE;
  let address = s.mmap(0n, length, prot, MAP_SHARED | MAP_POPULATE | MAP_32BIT, fd, XDP_PGOFF[kind]);
  if (address < 0n) address = s.mmap(0n, length, prot, MAP_SHARED | MAP_POPULATE, fd, XDP_PGOFF[kind]);
  if (address < 0n) {
    const errno = Number(-address);
    throw new XskError(`mmap(${kind} ring, ${length} bytes)`, errno, s.errnoName(errno));
  }
  return Object.freeze({
    kind,
    producer: address + BigInt(offsets.producer),
    consumer: address + BigInt(offsets.consumer),
    flags: address + BigInt(offsets.flags),
    descs: address + BigInt(offsets.desc),
    size,
    mask: size - 1,
    entrySize: entrySize as 8 | 16,
    mapping: Object.freeze({ address, length }),
  });
}

/** @internal The ring's u32 words (producer, consumer, flags) as an array over its mapping, and the entries as bytes. */
export function ringWords(
  s: Sys,
  ring: XskRing,
): { words: Uint32Array; entries: DataView; producer: number; consumer: number; flags: number } {
  const buffer = s.view(ring.mapping.address, ring.mapping.length);
  const base = ring.mapping.address;
  const index = (address: bigint) => Number(address - base) >> 2;
  return {
    words: new Uint32Array(buffer, 0, ring.mapping.length >> 2),
    entries: new DataView(buffer, Number(ring.descs - base), ring.size * ring.entrySize),
    producer: index(ring.producer),
    consumer: index(ring.consumer),
    flags: index(ring.flags),
  };
}

/**
 * @internal Hand `addresses` (UMEM offsets of frames) to the kernel through the fill ring:
 * write the entries, then publish them with one store of the producer index.
 * @throws I40eError EINVAL when they do not fit the ring's free space.
 */
export function produceFill(s: Sys, ring: XskRing, addresses: readonly bigint[]): void {
  const w = ringWords(s, ring);
  const producer = Atomics.load(w.words, w.producer);
  const consumer = Atomics.load(w.words, w.consumer);
  const free = ring.size - ((producer - consumer) >>> 0);
  if (addresses.length > free) throw new I40eError('EINVAL', `fill ring: ${addresses.length} frames do not fit ${free} free entries`);
  for (let i = 0; i < addresses.length; i++) w.entries.setBigUint64((((producer + i) >>> 0) & ring.mask) * 8, addresses[i] as bigint, true);
  Atomics.store(w.words, w.producer, (producer + addresses.length) >>> 0);
}

/** @internal Unmap the rings, ignoring failures (close paths). */
export function unmapRings(s: Sys, rings: readonly XskRing[]): void {
  for (const ring of rings) s.munmap(ring.mapping.address, ring.mapping.length);
}
