/**
 * An rx ring of the i40e device whose buffers come through AF_XDP rings
 * (`i40e_xsk_pool_enable` as far as the ring is concerned): the ring structure and its
 * counters, the xdp_buff of the UMEM's frames, the stack queue that PASS copies into,
 * and the queue structure the JIT'd `xsk_poll` reads the four rings through. The rings
 * themselves belong to whatever feeds the queue — a socket ({@link Xsk}) or a capture
 * file's NIC ({@link CaptureNic}).
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { initXdpBuff, XDP_BUFF_RXQ_SIZE } from '@bpf-dispatcher/xdp-call';
import type { Netdev } from '../device.js';
import { newRxRing, RxRing, RxRingStruct, StackEntryStruct } from '../ring.js';
import { initXskQueue, XSK_RING_BYTES, type XskRingEndpoints, xskQueueView } from './xsk-queue.js';

/** What feeds an AF_XDP ring: its four rings and its UMEM. */
export interface XskSource {
  readonly rings: {
    readonly rx: XskRingEndpoints;
    readonly fill: XskRingEndpoints;
    readonly tx: XskRingEndpoints;
    readonly completion: XskRingEndpoints;
  };
  readonly umem: { readonly address: bigint; readonly frameSize: number };
}

/** What {@link createXskRing} needs from the device. */
export interface XskRingSetup {
  readonly arena: TextArena;
  readonly source: XskSource;
  /** Stack-queue entries (a power of two). */
  readonly stackSize: number;
  /** Allocate data memory that the device owns (and frees on dispose or failure). */
  readonly alloc: (size: number, align: number) => Region;
}

/** Counters only an AF_XDP ring has. */
export interface XskRingCounters {
  /** Completion-ring entries reaped: frames the kernel finished transmitting, refilled. */
  readonly completions: bigint;
  /** Frames that found the fill ring full (0 while every frame is accounted for). */
  readonly fillFull: bigint;
}

/**
 * @internal Set up rx queue `queueIndex` of `netdev` over `setup.source`'s rings: the
 * ring structure with its counters and queue structure, an xdp_buff whose `frame_sz` is
 * the UMEM's chunk size, and the stack queue with one chunk-sized slot per entry. Every
 * region comes from `setup.alloc`.
 * @throws TextPokeError ENOMEM when the arena is too small.
 */
export function createXskRing(netdev: Netdev, queueIndex: number, setup: XskRingSetup): RxRing {
  const { arena, source, stackSize, alloc } = setup;
  const frameSize = source.umem.frameSize;
  const region = alloc(XSK_RING_BYTES, 64);
  const buff = alloc(XDP_BUFF_RXQ_SIZE, 64);
  const stack = alloc(StackEntryStruct.size * stackSize, 64);
  const slots = alloc(frameSize * stackSize, 64);
  initXdpBuff(arena, buff, { frameSize, ifindex: netdev.ifindex, queueIndex });
  const memory = arena.memory(region);
  const ring = RxRingStruct.view(memory);
  ring.set('xdpBuff', buff.address);
  ring.set('stack', stack.address);
  ring.set('stackMask', stackSize - 1);
  initXskQueue(memory, { ...source.rings, umem: source.umem.address, frameSize, stackSlots: slots.address });
  return newRxRing(netdev, queueIndex, arena, { ring: region, stack }, stackSize, 'xsk');
}

/** @internal The AF_XDP counters of an xsk ring (a snapshot). */
export function xskRingCounters(ring: RxRing): XskRingCounters {
  const q = xskQueueView(RxRing.memoryOf(ring));
  return { completions: q.get('completions'), fillFull: q.get('fillFull') };
}
