/**
 * Test code's access to an AF_XDP ring: the producer/consumer indexes with atomic loads
 * and stores, and the entries. The real consumer is the native poll loop; tests use this
 * to drive a socket from TypeScript. Valid only while the socket is open (the ring's
 * mapping goes away with `close()`).
 */
import type { XskRing } from '../afxdp/rings.js';
import { sys } from '../afxdp/sys.js';
import { XDP_DESC, XDP_RING_NEED_WAKEUP } from '../afxdp/uapi.js';

/** An rx/tx descriptor. */
export interface XskDesc {
  /** UMEM offset of the packet's first byte. */
  readonly addr: bigint;
  readonly len: number;
  readonly options: number;
}

/** Loads, stores and entries of one ring. */
export class XskRingView {
  readonly #words: Uint32Array;
  readonly #entries: DataView;
  readonly #producer: number;
  readonly #consumer: number;
  readonly #flags: number;
  readonly mask: number;
  readonly size: number;

  constructor(readonly ring: XskRing) {
    const buffer = sys().view(ring.mapping.address, ring.mapping.length);
    const base = ring.mapping.address;
    this.#words = new Uint32Array(buffer, 0, ring.mapping.length >> 2);
    this.#entries = new DataView(buffer, Number(ring.descs - base), ring.size * ring.entrySize);
    this.#producer = Number(ring.producer - base) >> 2;
    this.#consumer = Number(ring.consumer - base) >> 2;
    this.#flags = Number(ring.flags - base) >> 2;
    this.mask = ring.mask;
    this.size = ring.size;
  }

  producer(): number {
    return Atomics.load(this.#words, this.#producer);
  }

  consumer(): number {
    return Atomics.load(this.#words, this.#consumer);
  }

  /** Publish entries up to `index` (a release store). */
  setProducer(index: number): void {
    Atomics.store(this.#words, this.#producer, index >>> 0);
  }

  /** Release entries up to `index`. */
  setConsumer(index: number): void {
    Atomics.store(this.#words, this.#consumer, index >>> 0);
  }

  /** True when the kernel asks for a wakeup (`XDP_RING_NEED_WAKEUP`). */
  needsWakeup(): boolean {
    return (Atomics.load(this.#words, this.#flags) & XDP_RING_NEED_WAKEUP) !== 0;
  }

  /** The rx/tx descriptor at free-running index `index`. */
  desc(index: number): XskDesc {
    const at = (index & this.mask) * XDP_DESC.size;
    return {
      addr: this.#entries.getBigUint64(at + XDP_DESC.addr, true),
      len: this.#entries.getUint32(at + XDP_DESC.len, true),
      options: this.#entries.getUint32(at + XDP_DESC.options, true),
    };
  }

  /** The fill/completion entry at `index`. */
  address(index: number): bigint {
    return this.#entries.getBigUint64((index & this.mask) * 8, true);
  }

  /** Write the fill/completion entry at `index` (publish it with {@link setProducer}). */
  setAddress(index: number, address: bigint): void {
    this.#entries.setBigUint64((index & this.mask) * 8, address, true);
  }
}
