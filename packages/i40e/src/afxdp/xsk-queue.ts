/**
 * The rx queue of an AF_XDP ring pair as the JIT'd poll loop sees it: where the four
 * rings' producer and consumer words and entries are, the UMEM, and the buffers that
 * PASS copies frames into (`i40e_construct_skb_zc`). It sits right after a ring's
 * {@link RxRingStruct} and counters (at `RING.size`), so the ring keeps its program
 * pointer, xdp_buff, stack queue indexes and verdict counters where the copy-mode loop has
 * them and `i40eXdpSetup` swaps programs on it unchanged.
 *
 * The rings may be the kernel's (an {@link Xsk}'s mappings) or rings of the same layout in
 * arena memory that TypeScript fills (capture files, `capture-nic.ts`): the loop cannot
 * tell them apart.
 */
import { defineStruct, type RegionMemory } from '@bpf-dispatcher/text-poke';
import { RING } from '../ring.js';

/**
 * The queue's native structure. Addresses of the u32 producer/consumer words and of the
 * entries of each ring (rx and tx hold `struct xdp_desc`, fill and completion u64 UMEM
 * offsets), the masks, the UMEM and its frame mask, the PASS buffers, and the counters
 * only this path has.
 */
export const XskQueueStruct = defineStruct(
  'i40e_xsk_queue',
  {
    rxProducer: 'ptr',
    rxConsumer: 'ptr',
    rxDescs: 'ptr',
    fillProducer: 'ptr',
    fillConsumer: 'ptr',
    fillDescs: 'ptr',
    txProducer: 'ptr',
    txConsumer: 'ptr',
    txDescs: 'ptr',
    compProducer: 'ptr',
    compConsumer: 'ptr',
    compDescs: 'ptr',
    rxMask: 'u32',
    fillMask: 'u32',
    txMask: 'u32',
    compMask: 'u32',
    /** The UMEM's address: descriptor addresses are offsets from it. */
    umem: 'ptr',
    /** `~(frameSize - 1)`: a UMEM offset masked with it is its frame's start. */
    frameMask: 'u64',
    /** PASS buffers: `stackMask + 1` slots of `1 << slotShift` bytes (the frame size). */
    stackSlots: 'ptr',
    slotShift: 'u32',
    /** Completion-ring entries reaped (frames the kernel finished transmitting, back to the fill ring). */
    completions: 'u64',
    /** Frames that found the fill ring full (never happens while the frame accounting holds; counted, not written). */
    fillFull: 'u64',
  },
  { size: 192, align: 64 },
);

/** Offsets of {@link XskQueueStruct}'s fields from the ring's address (the structure sits at `RING.size`). */
export const XSKQ = Object.freeze(
  Object.fromEntries(Object.entries(XskQueueStruct.offsets).map(([k, v]) => [k, RING.size + v])) as {
    readonly [K in keyof typeof XskQueueStruct.offsets]: number;
  },
);

/** Bytes of a ring region with an AF_XDP queue: the ring, its counters and the queue structure. */
export const XSK_RING_BYTES = RING.size + XskQueueStruct.size;

/**
 * An entry of an AF_XDP ring's stack queue: where the copy is, its length, and the UMEM
 * offset of the frame it was copied from (capture files put frames back in input order by
 * it). 16 bytes, like the copy-mode entry, whose `length` it splits.
 */
export const XskStackEntryStruct = defineStruct('i40e_xsk_stack_entry', { data: 'ptr', length: 'u32', frame: 'u32' });

/** One of the four rings, as the poll loop needs it (an {@link XskRing} is one). */
export interface XskRingEndpoints {
  /** Address of the u32 producer index. */
  readonly producer: bigint;
  /** Address of the u32 consumer index. */
  readonly consumer: bigint;
  /** Address of entry 0. */
  readonly descs: bigint;
  /** Entries - 1 (entries are a power of two). */
  readonly mask: number;
}

/** What {@link initXskQueue} writes. */
export interface XskQueueInit {
  readonly rx: XskRingEndpoints;
  readonly fill: XskRingEndpoints;
  readonly tx: XskRingEndpoints;
  readonly completion: XskRingEndpoints;
  /** The UMEM's address and chunk size (a power of two). */
  readonly umem: bigint;
  readonly frameSize: number;
  /** The PASS buffers (`stackSlots` slots of `frameSize` bytes). */
  readonly stackSlots: bigint;
}

/** @internal Fill in the queue structure of the ring whose region memory is `memory` (at `RING.size`). */
export function initXskQueue(memory: RegionMemory, init: XskQueueInit): void {
  const q = XskQueueStruct.view(memory, RING.size);
  q.clear();
  for (const [name, ring] of [
    ['rx', init.rx],
    ['fill', init.fill],
    ['tx', init.tx],
    ['comp', init.completion],
  ] as const) {
    q.set(`${name}Producer`, ring.producer);
    q.set(`${name}Consumer`, ring.consumer);
    q.set(`${name}Descs`, ring.descs);
    q.set(`${name}Mask`, ring.mask);
  }
  q.set('umem', init.umem);
  q.set('frameMask', BigInt.asUintN(64, ~BigInt(init.frameSize - 1)));
  q.set('stackSlots', init.stackSlots);
  q.set('slotShift', Math.log2(init.frameSize));
}

/** @internal The queue structure's view (its counters, for the ring's JS side). */
export function xskQueueView(memory: RegionMemory): ReturnType<typeof XskQueueStruct.view> {
  return XskQueueStruct.view(memory, RING.size);
}
