import { defineStruct, type Region, type RegionMemory, type TextArena } from '@bpf-dispatcher/text-poke';
import { toAddress } from '@bpf-dispatcher/x86';
import { initXdpBuff, XDP_ACTION_NAMES, XDP_BUFF_RXQ_SIZE, XDP_HEADROOM } from '@bpf-dispatcher/xdp-call';
import type { Netdev } from './device.js';
import { I40eError } from './errors.js';

/*
 * The rx ring: its native layouts (the ring structure, descriptors, counters, stack-queue
 * entries), defined once with `defineStruct` (offsets for the JIT'd poll loop, checked
 * views for JS), its setup (`i40e_setup_rx_descriptors` and the buffers behind it) and the
 * JS object for it, {@link RxRing}.
 */

/** Receive path flavour: copy mode (`i40e_run_xdp`) or AF_XDP zero-copy (`i40e_run_xdp_zc`, see xsk.ts). */
export type RxMode = 'copy' | 'zc';

/** Bytes per packet buffer (copy mode) and per umem frame (zero-copy): headroom + frame. */
export const BUFFER_STRIDE = 512;
/** log2(BUFFER_STRIDE). */
export const BUFFER_SHIFT = 9;
/** Bytes per template / tx / stack frame slot: the largest frame the shim generates. */
export const FRAME_SLOT = 128;
/** log2(FRAME_SLOT). */
export const FRAME_SHIFT = 7;

/** An rx descriptor (`union i40e_rx_desc`, reduced to 16 bytes): the buffer, the frame length, the status. */
export const RxDescStruct = defineStruct('i40e_rx_desc', { addr: 'ptr', length: 'u16', status: 'u16' }, { size: 16 });
/** log2 of the descriptor size (the poll loop indexes descriptors with a shift). */
export const DESC_SHIFT = 4;
/** Status bit 0: descriptor done (the NIC filled it). */
export const DESC_DD = 1;

/** {@link RxDescStruct}'s offsets and size, with the DD bit (`DESC.addr`, `DESC.size`, `DESC.DD`). */
export const DESC = Object.freeze({ ...RxDescStruct.offsets, size: RxDescStruct.size, DD: DESC_DD });

/**
 * Per-ring counters (u64 each). The verdict counters `aborted` .. `redirect` are
 * consecutive, in XDP action order, so the poll loop indexes them with the verdict.
 */
export const RingCountersStruct = defineStruct(
  'i40e_ring_counters',
  {
    packets: 'u64',
    bytes: 'u64',
    aborted: 'u64',
    drop: 'u64',
    pass: 'u64',
    tx: 'u64',
    redirect: 'u64',
    /** Verdicts outside 0..4. */
    errors: 'u64',
    stackEnqueued: 'u64',
    stackDropped: 'u64',
    txPackets: 'u64',
    txDropped: 'u64',
    /** Packets seen while no program was attached (they go to the stack). */
    noProg: 'u64',
    polls: 'u64',
    /** Packets whose handler did not sign them with the id of the program the loop ran (verifyHandlers). */
    misrouted: 'u64',
  },
  { size: 128 },
);

/** {@link RingCountersStruct}'s offsets and size; `actions` is where the verdict counters start (actions[verdict]). */
export const COUNTERS = Object.freeze({
  ...RingCountersStruct.offsets,
  actions: RingCountersStruct.offsets.aborted,
  size: RingCountersStruct.size,
});

/**
 * The rx ring structure the poll loop works on (its counters follow it, at
 * `RING.counters`). Stack queue: entries ({@link StackEntryStruct}) with FRAME_SLOT
 * buffers after them; tx ring: FRAME_SLOT buffers with their lengths in a parallel u64
 * array; fill ring (zero-copy only, xsk.ts): u64 umem frame addresses.
 */
export const RxRingStruct = defineStruct(
  'i40e_ring',
  {
    descs: 'ptr',
    /** Descriptors - 1 (a power of two). */
    mask: 'u32',
    /** Next descriptor to clean. */
    nextToClean: 'u32',
    /** `struct bpf_prog *` or 0 (READ_ONCE per packet, WRITE_ONCE by i40eXdpSetup). */
    xdpProg: 'ptr',
    /** This ring's `struct xdp_buff` scratch (its `xdp_rxq_info` right after it). */
    xdpBuff: 'ptr',
    /** FRAME_SLOT-byte template frames (copy mode: per descriptor; zero-copy: per umem frame). */
    templates: 'ptr',
    /** Base of the buffers (copy) or the umem (zero-copy). */
    buffers: 'ptr',
    stack: 'ptr',
    stackMask: 'u32',
    stackHead: 'u32',
    stackTail: 'u32',
    tx: 'ptr',
    txLengths: 'ptr',
    txMask: 'u32',
    txHead: 'u32',
    txTail: 'u32',
    fill: 'ptr',
    fillMask: 'u32',
    fillProd: 'u32',
    fillCons: 'u32',
  },
  { size: 128, align: 64 },
);

/** {@link RxRingStruct}'s offsets, `counters` (where {@link RingCountersStruct} sits) and the size of both. */
export const RING = Object.freeze({
  ...RxRingStruct.offsets,
  counters: RxRingStruct.size,
  size: RxRingStruct.size + RingCountersStruct.size,
});

/** An entry of the stack queue: the frame's data address and length. */
export const StackEntryStruct = defineStruct('i40e_stack_entry', { data: 'ptr', length: 'u64' });
/** log2 of the stack entry size (the poll loop indexes entries with a shift). */
export const STACK_ENTRY_SHIFT = 4;

/** Counters of one rx ring (or a sum of rings). */
export interface RingCounters {
  readonly packets: bigint;
  readonly bytes: bigint;
  /** Verdict counts by name: ABORTED, DROP, PASS, TX, REDIRECT. */
  readonly actions: Readonly<Record<(typeof XDP_ACTION_NAMES)[number], bigint>>;
  /** Verdicts outside the defined ones. */
  readonly errors: bigint;
  readonly stackEnqueued: bigint;
  readonly stackDropped: bigint;
  readonly txPackets: bigint;
  readonly txDropped: bigint;
  /** Packets that met no program (they went to the stack). */
  readonly noProg: bigint;
  readonly polls: bigint;
  /** Packets not signed by the program the loop ran (only with verifyHandlers). */
  readonly misrouted: bigint;
}

/** @internal The sum of ring counter snapshots (all zero for none). */
export function sumRingCounters(all: readonly RingCounters[]): RingCounters {
  const sum = (f: (c: RingCounters) => bigint) => all.reduce((acc, c) => acc + f(c), 0n);
  return {
    packets: sum((c) => c.packets),
    bytes: sum((c) => c.bytes),
    actions: Object.fromEntries(XDP_ACTION_NAMES.map((n) => [n, sum((c) => c.actions[n])])) as RingCounters['actions'],
    errors: sum((c) => c.errors),
    stackEnqueued: sum((c) => c.stackEnqueued),
    stackDropped: sum((c) => c.stackDropped),
    txPackets: sum((c) => c.txPackets),
    txDropped: sum((c) => c.txDropped),
    noProg: sum((c) => c.noProg),
    polls: sum((c) => c.polls),
    misrouted: sum((c) => c.misrouted),
  };
}

type ActionField = 'aborted' | 'drop' | 'pass' | 'tx' | 'redirect';
const actionField = (name: (typeof XDP_ACTION_NAMES)[number]) => name.toLowerCase() as ActionField;

/** Rings this module made (recognised by identity, not by shape). */
const ringSet = new WeakSet<object>();
/** Only this module makes rings (the constructor takes this token). */
const TOKEN = Symbol('i40e ring');

/** @internal True if `value` is a ring made by {@link createRxRing}. */
export function isRxRing(value: unknown): value is RxRing {
  return typeof value === 'object' && value !== null && ringSet.has(value);
}

/** @internal The regions behind a ring that its JS methods read (an AF_XDP ring has no tx lengths: the kernel's tx ring holds them). */
export interface RingRegions {
  readonly ring: Region;
  readonly stack: Region;
  readonly txLengths?: Region;
}

/**
 * How a ring's buffers come and go: `replay` (the line-rate replay NIC of copy and `zc`
 * mode: descriptors in arena memory, always ready) or `xsk` (an AF_XDP ring pair: the
 * kernel's rings, or rings of the same layout fed from a capture file; afxdp/).
 */
export type RxRingKind = 'replay' | 'xsk';

/** A frame taken from a ring's stack queue (PASS). */
export interface StackFrame {
  /** Where the copy was (copy mode: the buffer itself). */
  readonly data: bigint;
  readonly length: number;
  /** The bytes, copied when drained. */
  readonly frame: Uint8Array;
  /** AF_XDP rings: the UMEM offset of the frame the packet arrived in. */
  readonly umemOffset?: bigint;
}

/** One rx queue of a netdev, with its descriptor ring, buffers and counters in native memory. */
export class RxRing {
  /** Address of the ring structure the poll loop takes. */
  readonly address: bigint;
  readonly #arena: TextArena;
  readonly #memory: RegionMemory;
  readonly #ring: ReturnType<typeof RxRingStruct.view>;
  readonly #counters: ReturnType<typeof RingCountersStruct.view>;
  readonly #stack: RegionMemory;
  readonly #txLengths: RegionMemory | undefined;
  /** The ring structure as u64 words, for the atomic program-pointer store and load. */
  readonly #words: BigInt64Array;

  /** @internal made by createRxRing only. @throws I40eError EINVAL otherwise. */
  constructor(
    readonly netdev: Netdev,
    readonly queueIndex: number,
    arena: TextArena,
    regions: RingRegions,
    readonly size: number,
    token?: symbol,
    /** How its buffers come and go (see {@link RxRingKind}). */
    readonly kind: RxRingKind = 'replay',
  ) {
    if (token !== TOKEN) throw new I40eError('EINVAL', 'RxRing: rings are made by I40eDevice');
    this.#arena = arena;
    this.address = regions.ring.address;
    const memory = arena.memory(regions.ring);
    this.#memory = memory;
    this.#ring = RxRingStruct.view(memory);
    this.#counters = RingCountersStruct.view(memory, RING.counters);
    this.#stack = arena.memory(regions.stack);
    this.#txLengths = regions.txLengths === undefined ? undefined : arena.memory(regions.txLengths);
    const bytes = arena.dataBytes(regions.ring);
    this.#words = new BigInt64Array(bytes.buffer, bytes.byteOffset, RxRingStruct.size / 8);
    ringSet.add(this);
  }

  /** Check that the ring's memory is still there. @throws I40eError DISPOSED. */
  #live(what: string): void {
    this.netdev.device.check(`ring.${what}`);
  }

  /** The ring's counters now (a snapshot). @throws I40eError DISPOSED after the device or its arena is disposed. */
  counters(): RingCounters {
    this.#live('counters');
    const c = this.#counters;
    const actions = Object.fromEntries(XDP_ACTION_NAMES.map((name) => [name, c.get(actionField(name))])) as RingCounters['actions'];
    return {
      packets: c.get('packets'),
      bytes: c.get('bytes'),
      actions,
      errors: c.get('errors'),
      stackEnqueued: c.get('stackEnqueued'),
      stackDropped: c.get('stackDropped'),
      txPackets: c.get('txPackets'),
      txDropped: c.get('txDropped'),
      noProg: c.get('noProg'),
      polls: c.get('polls'),
      misrouted: c.get('misrouted'),
    };
  }

  /** Zero the counters. @throws I40eError DISPOSED like {@link counters}. */
  resetCounters(): void {
    this.#live('resetCounters');
    this.#counters.clear();
  }

  /** @internal The checked view of the ring structure (for its setup, e.g. xsk.ts's fill ring). */
  static structOf(ring: RxRing): ReturnType<typeof RxRingStruct.view> {
    return ring.#ring;
  }

  /** @internal The checked memory of the ring's region (structures that follow the counters, e.g. afxdp's queue). */
  static memoryOf(ring: RxRing): RegionMemory {
    ring.#live('memoryOf');
    return ring.#memory;
  }

  /** @internal WRITE_ONCE of the ring's program (`struct bpf_prog *` or 0): one atomic 8-byte store. */
  static setProgStruct(ring: RxRing, struct: bigint): void {
    ring.#live('setProgStruct');
    Atomics.store(ring.#words, RING.xdpProg / 8, BigInt.asIntN(64, struct));
  }

  /** The ring's program struct address now (0 when none). @throws I40eError DISPOSED like {@link counters}. */
  progStruct(): bigint {
    this.#live('progStruct');
    return toAddress(Atomics.load(this.#words, RING.xdpProg / 8));
  }

  /**
   * Take the frames the stack queue holds (PASS verdicts): their data address and length,
   * and a copy of their bytes (`frame`), taken now — the buffer is the NIC's again. On an
   * AF_XDP ring each also says which UMEM frame it arrived in (`umemOffset`).
   * @throws I40eError DISPOSED like {@link counters}.
   */
  drainStack(): StackFrame[] {
    this.#live('drainStack');
    const ring = this.#ring;
    const head = ring.get('stackHead');
    const mask = ring.get('stackMask');
    let tail = ring.get('stackTail');
    const out: StackFrame[] = [];
    while (tail !== head) {
      const at = (tail & mask) * StackEntryStruct.size;
      const data = this.#stack.getU64(at);
      if (this.kind === 'xsk') {
        // i40e_xsk_stack_entry: data, u32 length, u32 UMEM offset of the source frame
        const length = this.#stack.getU32(at + 8);
        out.push({ data, length, frame: this.#arena.read(data, length), umemOffset: BigInt(this.#stack.getU32(at + 12)) });
      } else {
        const length = Number(this.#stack.getU64(at + 8));
        out.push({ data, length, frame: this.#arena.read(data, length) });
      }
      tail = (tail + 1) >>> 0;
    }
    ring.set('stackTail', tail);
    return out;
  }

  /**
   * Let the stack have every frame its queue holds, without reading them (one store, no
   * per-frame work): what a consumer that only counts PASS frames does after each poll, so
   * that the queue never fills. Returns how many frames were released.
   * @throws I40eError DISPOSED like {@link counters}.
   */
  discardStack(): number {
    this.#live('discardStack');
    const ring = this.#ring;
    const head = ring.get('stackHead');
    const released = (head - ring.get('stackTail')) >>> 0;
    ring.set('stackTail', head);
    return released;
  }

  /**
   * Take the frames transmitted (TX verdicts), as copied bytes.
   * @throws I40eError DISPOSED like {@link counters}; EINVAL on an AF_XDP ring (its TX
   *   frames go to the socket's tx ring: the kernel sends them).
   */
  drainTx(): Uint8Array[] {
    this.#live('drainTx');
    if (this.#txLengths === undefined)
      throw new I40eError('EINVAL', "ring.drainTx: an AF_XDP ring transmits through its socket's tx ring, not a replay tx ring");
    const ring = this.#ring;
    const head = ring.get('txHead');
    const mask = ring.get('txMask');
    const base = ring.get('tx');
    let tail = ring.get('txTail');
    const out: Uint8Array[] = [];
    while (tail !== head) {
      const slot = tail & mask;
      const length = Number((this.#txLengths as RegionMemory).getU64(slot * 8));
      out.push(this.#arena.read(base + BigInt(slot * FRAME_SLOT), length));
      tail = (tail + 1) >>> 0;
    }
    ring.set('txTail', tail);
    return out;
  }
}

/** @internal Make a ring object over `regions` (its structure already set up): for rx paths outside this file (afxdp/). */
export function newRxRing(
  netdev: Netdev,
  queueIndex: number,
  arena: TextArena,
  regions: RingRegions,
  size: number,
  kind: RxRingKind,
): RxRing {
  return new RxRing(netdev, queueIndex, arena, regions, size, TOKEN, kind);
}

/** What {@link createRxRing} needs from the device. */
export interface RxRingSetup {
  readonly arena: TextArena;
  /** Descriptors (a power of two). */
  readonly size: number;
  /** Buffers behind the ring: `size` in copy mode, the umem's frames in zero-copy (xsk.ts). */
  readonly frames: number;
  /** Length of every generated frame. */
  readonly frameLength: number;
  /** One template frame per flow; frame k carries template k mod templates.length. */
  readonly templates: readonly Uint8Array[];
  /** Allocate data memory that the device owns (and frees on dispose or failure). */
  readonly alloc: (size: number, align: number) => Region;
}

/**
 * @internal Set up rx queue `queueIndex` of `netdev` (`i40e_setup_rx_descriptors` plus the
 * buffers): the ring structure, its `xdp_buff` and `xdp_rxq_info` (xdp-call's
 * `initXdpBuff`, the kernel's `xdp_init_buff`), the descriptors (all ready: DD set), the
 * `frames` buffers (copy mode) or umem frames (zero-copy; the fill ring is xsk.ts's
 * `setupFillRing`) holding the generated frames, the template frames TX refills from, the
 * stack queue and the tx ring. Every region comes from `setup.alloc` (the device owns them).
 * @throws TextPokeError ENOMEM when the arena is too small.
 */
export function createRxRing(netdev: Netdev, queueIndex: number, setup: RxRingSetup): RxRing {
  const { arena, size: R, frames, frameLength, templates, alloc } = setup;
  const region = alloc(RING.size, 64);
  const buff = alloc(XDP_BUFF_RXQ_SIZE, 64);
  const descs = alloc(RxDescStruct.size * R, 64);
  const buffers = alloc(BUFFER_STRIDE * frames, 4096);
  const templateRegion = alloc(FRAME_SLOT * frames, 64);
  const stack = alloc(StackEntryStruct.size * R + FRAME_SLOT * R, 64);
  const tx = alloc(FRAME_SLOT * R, 64);
  const txLengths = alloc(8 * R, 64);

  // the poll loop sets the data pointers per packet
  initXdpBuff(arena, buff, { frameSize: BUFFER_STRIDE, ifindex: netdev.ifindex, queueIndex });

  // frames: frame k carries flow k mod flows; its template is kept for TX refills
  const bufferMemory = arena.memory(buffers);
  const templateMemory = arena.memory(templateRegion);
  for (let k = 0; k < frames; k++) {
    const frame = templates[k % templates.length] as Uint8Array;
    bufferMemory.write(k * BUFFER_STRIDE + XDP_HEADROOM, frame);
    templateMemory.write(k * FRAME_SLOT, frame);
  }
  const descMemory = arena.memory(descs);
  for (let i = 0; i < R; i++) {
    const desc = RxDescStruct.view(descMemory, i * RxDescStruct.size);
    desc.set('addr', buffers.address + BigInt(i * BUFFER_STRIDE));
    desc.set('length', frameLength);
    desc.set('status', DESC_DD);
  }
  const ring = RxRingStruct.view(arena, region);
  ring.set('descs', descs.address);
  ring.set('mask', R - 1);
  ring.set('xdpBuff', buff.address);
  ring.set('templates', templateRegion.address);
  ring.set('buffers', buffers.address);
  ring.set('stack', stack.address);
  ring.set('stackMask', R - 1);
  ring.set('tx', tx.address);
  ring.set('txLengths', txLengths.address);
  ring.set('txMask', R - 1);
  return new RxRing(netdev, queueIndex, arena, { ring: region, stack, txLengths }, R, TOKEN);
}
