/**
 * A NIC that receives the frames of a capture file: it plays the kernel's side of an
 * AF_XDP socket over rings of the kernel's layout in arena memory (producer, consumer,
 * flags words and entries), so the same JIT'd `xsk_poll` that serves a real socket runs
 * programs over a capture. TypeScript writes each frame into a UMEM frame taken from the
 * fill ring and posts an rx descriptor (what `xsk_rcv` does); it takes what the program
 * transmitted off the tx ring and completes it (what `xsk_generic_xmit` and the skb
 * destructor do). The poll loop does the rest, in native code.
 *
 * Single-threaded: the poll loop that consumes these rings runs on the thread that feeds
 * them (between `receive` and `transmit` calls), so plain loads and stores suffice.
 */
import type { Region, RegionMemory, TextArena } from '@bpf-dispatcher/text-poke';
import { XDP_HEADROOM } from '@bpf-dispatcher/xdp-call';
import { I40eError } from '../errors.js';
import { XDP_DESC } from './uapi.js';
import type { XskRingEndpoints } from './xsk-queue.js';
import type { XskSource } from './xsk-ring.js';

/** Where the words of an emulated ring sit in its region (each on its own cache line, as the kernel lays them out). */
const WORD = Object.freeze({ producer: 0, consumer: 64, flags: 128, descs: 192 });

/** One emulated ring: its region, memory and entry size. */
interface EmulatedRing extends XskRingEndpoints {
  readonly memory: RegionMemory;
  readonly entrySize: 8 | 16;
  readonly size: number;
}

function emulatedRing(arena: TextArena, alloc: (size: number, align: number) => Region, size: number, entrySize: 8 | 16): EmulatedRing {
  const region = alloc(WORD.descs + size * entrySize, 64);
  const memory = arena.memory(region);
  return {
    producer: region.address + BigInt(WORD.producer),
    consumer: region.address + BigInt(WORD.consumer),
    descs: region.address + BigInt(WORD.descs),
    mask: size - 1,
    memory,
    entrySize,
    size,
  };
}

/** A frame the program transmitted: the UMEM offset of its frame and a copy of its bytes. */
export interface TransmittedFrame {
  /** The UMEM offset of the frame's chunk (which received frame it was). */
  readonly frameOffset: bigint;
  readonly frame: Uint8Array;
}

/** What {@link CaptureNic.receive} took. */
export interface Received {
  /** Frames posted to the rx ring, from the start of the list given. */
  readonly count: number;
  /** The UMEM offset of each one's chunk, in order. */
  readonly frameOffsets: readonly bigint[];
}

/** Options of {@link CaptureNic}. */
export interface CaptureNicOptions {
  /** Entries of each ring and frames of the UMEM (a power of two). */
  readonly ringSize: number;
  /** UMEM chunk size: 2048 or 4096. */
  readonly frameSize: 2048 | 4096;
  /** Allocate data memory that the caller owns (and frees). */
  readonly alloc: (size: number, align: number) => Region;
}

/** @internal The NIC behind a capture-fed ring. */
export class CaptureNic implements XskSource {
  readonly rings: { readonly rx: EmulatedRing; readonly fill: EmulatedRing; readonly tx: EmulatedRing; readonly completion: EmulatedRing };
  readonly umem: { readonly address: bigint; readonly frameSize: number; readonly frames: number };
  /** The largest frame a chunk holds behind the headroom. */
  readonly maxFrame: number;
  readonly #arena: TextArena;

  constructor(arena: TextArena, options: CaptureNicOptions) {
    const { ringSize, frameSize, alloc } = options;
    this.#arena = arena;
    const umem = alloc(ringSize * frameSize, 4096);
    this.umem = Object.freeze({ address: umem.address, frameSize, frames: ringSize });
    this.maxFrame = frameSize - XDP_HEADROOM;
    this.rings = Object.freeze({
      rx: emulatedRing(arena, alloc, ringSize, XDP_DESC.size as 16),
      fill: emulatedRing(arena, alloc, ringSize, 8),
      tx: emulatedRing(arena, alloc, ringSize, XDP_DESC.size as 16),
      completion: emulatedRing(arena, alloc, ringSize, 8),
    });
    // the application's side starts with every frame in the fill ring (as openXsk does)
    const fill = this.rings.fill;
    for (let i = 0; i < ringSize; i++) fill.memory.setU64(WORD.descs + i * 8, BigInt(i * frameSize));
    fill.memory.setU32(WORD.producer, ringSize);
  }

  /** Entries in `ring` (producer - consumer). */
  #used(ring: EmulatedRing): number {
    return (ring.memory.getU32(WORD.producer) - ring.memory.getU32(WORD.consumer)) >>> 0;
  }

  /** Rx descriptors posted that the poll loop has not consumed yet. */
  get pending(): number {
    return this.#used(this.rings.rx);
  }

  /**
   * Post frames from the start of `frames` to the rx ring, each in a chunk taken from the
   * fill ring, `XDP_HEADROOM` bytes in; stops when the fill ring is empty or the rx ring
   * full.
   * @throws I40eError EINVAL for a frame longer than {@link maxFrame} (nothing posted for it).
   */
  receive(frames: readonly Uint8Array[]): Received {
    const { rx, fill } = this.rings;
    const room = Math.min(this.#used(fill), rx.size - this.#used(rx), frames.length);
    let fillCons = fill.memory.getU32(WORD.consumer);
    let rxProd = rx.memory.getU32(WORD.producer);
    const offsets: bigint[] = [];
    const umem = this.umem.address;
    const chunkMask = BigInt.asUintN(64, ~BigInt(this.umem.frameSize - 1));
    for (let i = 0; i < room; i++) {
      const frame = frames[i] as Uint8Array;
      if (frame.length > this.maxFrame)
        throw new I40eError(
          'EINVAL',
          `capture NIC: a frame of ${frame.length} bytes does not fit a ${this.umem.frameSize}-byte UMEM chunk behind ${XDP_HEADROOM} bytes of headroom`,
        );
      const chunk = fill.memory.getU64(WORD.descs + (fillCons & fill.mask) * 8) & chunkMask;
      fillCons = (fillCons + 1) >>> 0;
      const addr = chunk + BigInt(XDP_HEADROOM);
      this.#arena.write(umem + addr, frame);
      const at = WORD.descs + (rxProd & rx.mask) * XDP_DESC.size;
      rx.memory.setU64(at + XDP_DESC.addr, addr);
      rx.memory.setU32(at + XDP_DESC.len, frame.length);
      rx.memory.setU32(at + XDP_DESC.options, 0);
      rxProd = (rxProd + 1) >>> 0;
      offsets.push(chunk);
    }
    fill.memory.setU32(WORD.consumer, fillCons);
    rx.memory.setU32(WORD.producer, rxProd);
    return { count: room, frameOffsets: offsets };
  }

  /** Take every frame on the tx ring (copied) and complete it: its chunk returns through the completion ring. */
  transmit(): TransmittedFrame[] {
    const { tx, completion } = this.rings;
    const out: TransmittedFrame[] = [];
    let txCons = tx.memory.getU32(WORD.consumer);
    const txProd = tx.memory.getU32(WORD.producer);
    let compProd = completion.memory.getU32(WORD.producer);
    const chunkMask = BigInt.asUintN(64, ~BigInt(this.umem.frameSize - 1));
    while (txCons !== txProd) {
      if ((compProd - completion.memory.getU32(WORD.consumer)) >>> 0 >= completion.size) break;
      const at = WORD.descs + (txCons & tx.mask) * XDP_DESC.size;
      const addr = tx.memory.getU64(at + XDP_DESC.addr);
      const len = tx.memory.getU32(at + XDP_DESC.len);
      out.push({ frameOffset: addr & chunkMask, frame: this.#arena.read(this.umem.address + addr, len) });
      completion.memory.setU64(WORD.descs + (compProd & completion.mask) * 8, addr);
      compProd = (compProd + 1) >>> 0;
      txCons = (txCons + 1) >>> 0;
    }
    tx.memory.setU32(WORD.consumer, txCons);
    completion.memory.setU32(WORD.producer, compProd);
    return out;
  }
}
