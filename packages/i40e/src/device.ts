import { type Reader, type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import type { CodeBuffer } from '@bpf-dispatcher/x86';
import { XDP_ACTION_NAMES, XDP_BUFF, XDP_HEADROOM, XDP_RXQ, type UdpFlow, type XdpCall, type XdpProg, buildUdpFrame, defineXdpCall } from '@bpf-dispatcher/xdp-call';
import { I40eError } from './errors.js';
import { BUFFER_STRIDE, COUNTERS, DESC, FRAME_SLOT, RING } from './layout.js';
import { type RxMode, emitDriverLoop, emitNapiPoll } from './napi-poll.js';

/** Options of {@link I40eDevice}. */
export interface I40eDeviceOptions {
  /** Netdevs (ports), 1..16 (default 1). */
  readonly netdevs?: number;
  /** Rx queues per netdev, 1..64 (default 1). */
  readonly queues?: number;
  /** Descriptors per rx ring, a power of two 8..4096 (default 256). */
  readonly ringSize?: number;
  /** `copy` (i40e_run_xdp, default) or `zc` (AF_XDP zero-copy, i40e_run_xdp_zc). */
  readonly mode?: RxMode;
  /** Retpoline fallback in the shared xdp_call (default true). */
  readonly retpoline?: boolean;
  /** Program stats on (time-stamp counter around each run) (default false). */
  readonly stats?: boolean;
  /** Generated frame length, 42..128 bytes (default 64). */
  readonly frameLength?: number;
  /** The traffic: packet k of a ring carries flow k mod flows.length (default: 8 flows). */
  readonly flows?: readonly UdpFlow[];
  /** Dispatcher slots of the shared xdp_call (default 16). */
  readonly maxProgs?: number;
  /** Grace-period timeout of the dispatcher, ms. */
  readonly syncTimeoutMs?: number;
  /**
   * Install programs in the dispatcher (default true). `false` models the driver before the
   * dispatcher existed: i40eXdpSetup only swaps the rings' programs and every call goes
   * through the trampoline's indirect jump (the benchmark's baseline).
   */
  readonly dispatcher?: boolean;
  /**
   * Check every packet's handler (default false): programs must sign packets as
   * `xdp_record` does; packets handled by any other program count as `misrouted`.
   */
  readonly verifyHandlers?: boolean;
}

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

/** `count` distinct UDP flows: 10.0.0.(i+1):(1024+i) -> 10.0.1.1:(1000 + i). */
export function defaultFlows(count = 8): UdpFlow[] {
  return Array.from({ length: count }, (_, i) => ({
    srcMac: [0x02, 0x00, 0x00, 0x00, 0x01, i & 0xff],
    dstMac: [0x02, 0x00, 0x00, 0x00, 0x02, 0x01],
    srcIp: (0x0a000000 + i + 1) >>> 0,
    dstIp: 0x0a000101,
    srcPort: 1024 + i,
    dstPort: 1000 + i,
  }));
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

function intOption(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw new I40eError('EINVAL', `I40eDevice: ${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  return v;
}

/** One rx queue of a netdev, with its descriptor ring, buffers and counters in native memory. */
export class RxRing {
  /** Address of the ring structure the poll loop takes. */
  readonly address: bigint;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly words: BigInt64Array;

  constructor(
    readonly netdev: Netdev,
    readonly queueIndex: number,
    private readonly arena: TextArena,
    region: Region,
    readonly size: number,
  ) {
    this.address = region.address;
    this.bytes = arena.dataView(region);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    this.words = new BigInt64Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length / 8);
  }

  private counter(field: keyof typeof COUNTERS): bigint {
    return this.view.getBigUint64(RING.counters + COUNTERS[field], true);
  }

  /** The ring's counters now. */
  counters(): RingCounters {
    const actions = Object.fromEntries(XDP_ACTION_NAMES.map((name, i) => [name, this.view.getBigUint64(RING.counters + COUNTERS.actions + 8 * i, true)])) as RingCounters['actions'];
    return {
      packets: this.counter('packets'),
      bytes: this.counter('bytes'),
      actions,
      errors: this.counter('errors'),
      stackEnqueued: this.counter('stackEnqueued'),
      stackDropped: this.counter('stackDropped'),
      txPackets: this.counter('txPackets'),
      txDropped: this.counter('txDropped'),
      noProg: this.counter('noProg'),
      polls: this.counter('polls'),
      misrouted: this.counter('misrouted'),
    };
  }

  /** Zero the counters. */
  resetCounters(): void {
    this.bytes.fill(0, RING.counters, RING.counters + COUNTERS.size);
  }

  /** @internal READ_ONCE-safe store of the ring's program (`struct bpf_prog *` or 0). */
  setProgStruct(struct: bigint): void {
    Atomics.store(this.words, RING.xdpProg / 8, BigInt.asIntN(64, struct));
  }

  /** The ring's program struct address now (0 when none). */
  progStruct(): bigint {
    return BigInt.asUintN(64, Atomics.load(this.words, RING.xdpProg / 8));
  }

  /** Take the frames the stack queue holds (PASS verdicts): their data address and length. */
  drainStack(): { data: bigint; length: number }[] {
    const head = this.view.getUint32(RING.stackHead, true);
    let tail = this.view.getUint32(RING.stackTail, true);
    const mask = this.view.getUint32(RING.stackMask, true);
    const base = this.view.getBigUint64(RING.stack, true);
    const out: { data: bigint; length: number }[] = [];
    while (tail !== head) {
      const entry = new DataView(this.arena.read(base + BigInt((tail & mask) * 16), 16).buffer);
      out.push({ data: entry.getBigUint64(0, true), length: Number(entry.getBigUint64(8, true)) });
      tail = (tail + 1) >>> 0;
    }
    this.view.setUint32(RING.stackTail, tail, true);
    return out;
  }

  /** Take the frames transmitted (TX verdicts), as bytes. */
  drainTx(): Uint8Array[] {
    const head = this.view.getUint32(RING.txHead, true);
    let tail = this.view.getUint32(RING.txTail, true);
    const mask = this.view.getUint32(RING.txMask, true);
    const base = this.view.getBigUint64(RING.tx, true);
    const lengths = this.view.getBigUint64(RING.txLengths, true);
    const out: Uint8Array[] = [];
    while (tail !== head) {
      const slot = tail & mask;
      const length = Number(new DataView(this.arena.read(lengths + BigInt(slot * 8), 8).buffer).getBigUint64(0, true));
      out.push(this.arena.read(base + BigInt(slot * FRAME_SLOT), length));
      tail = (tail + 1) >>> 0;
    }
    this.view.setUint32(RING.txTail, tail, true);
    return out;
  }
}

/** A network device (port) of the driver: its ifindex, rx rings and attached program. */
export class Netdev {
  readonly rings: RxRing[] = [];
  /** @internal */
  prog: XdpProg | null = null;

  constructor(
    readonly device: I40eDevice,
    readonly ifindex: number,
    readonly name: string,
  ) {}

  /** The program attached with i40eXdpSetup, or null. */
  get xdpProg(): XdpProg | null {
    return this.prog;
  }
}

interface PollCode {
  readonly napiPoll: bigint;
  readonly driverLoop: bigint;
}

/**
 * The device: several netdevs with rx rings, one `i40e_xdp_call` shared by all of them
 * (as the driver's single `DEFINE_XDP_CALL`), and the JIT'd NAPI poll loops.
 */
export class I40eDevice {
  readonly xdpCall: XdpCall;
  readonly netdevs: readonly Netdev[];
  readonly mode: RxMode;
  readonly ringSize: number;
  readonly frameLength: number;
  readonly flows: readonly UdpFlow[];
  /** Whether i40eXdpSetup updates the dispatcher (see {@link I40eDeviceOptions.dispatcher}). */
  readonly useDispatcher: boolean;
  private statsOn: boolean;
  private readonly code: { plain: PollCode; stats: PollCode };
  private readonly allRings: bigint;
  private isDisposed = false;
  /** @internal serialises i40eXdpSetup */
  setupQueue: Promise<unknown> = Promise.resolve();

  /** @throws I40eError EINVAL for bad options; TextPokeError when the arena is too small. */
  constructor(
    readonly arena: TextArena,
    options: I40eDeviceOptions = {},
  ) {
    const netdevs = intOption(options.netdevs, 1, 1, 16, 'netdevs');
    const queues = intOption(options.queues, 1, 1, 64, 'queues');
    this.ringSize = intOption(options.ringSize, 256, 8, 4096, 'ringSize');
    if (!isPow2(this.ringSize)) throw new I40eError('EINVAL', `I40eDevice: ringSize must be a power of two, got ${this.ringSize}`);
    this.frameLength = intOption(options.frameLength, 64, 42, FRAME_SLOT, 'frameLength');
    const mode = options.mode ?? 'copy';
    if (mode !== 'copy' && mode !== 'zc') throw new I40eError('EINVAL', `I40eDevice: mode must be 'copy' or 'zc', got ${String(mode)}`);
    this.mode = mode;
    this.flows = options.flows ?? defaultFlows();
    if (!Array.isArray(this.flows) || this.flows.length === 0) throw new I40eError('EINVAL', 'I40eDevice: flows must be a non-empty array');
    const templates = this.flows.map((flow, i) => buildUdpFrame(flow, this.frameLength, i));
    this.statsOn = options.stats ?? false;
    this.useDispatcher = options.dispatcher ?? true;
    if (typeof this.useDispatcher !== 'boolean') throw new I40eError('EINVAL', 'I40eDevice: dispatcher must be a boolean');
    this.xdpCall = defineXdpCall(arena, 'i40e_xdp_call', {
      ...(options.retpoline === undefined ? {} : { retpoline: options.retpoline }),
      ...(options.maxProgs === undefined ? {} : { max: options.maxProgs }),
      ...(options.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: options.syncTimeoutMs }),
    });
    const verify = options.verifyHandlers ?? false;
    if (typeof verify !== 'boolean') throw new I40eError('EINVAL', 'I40eDevice: verifyHandlers must be a boolean');
    this.code = { plain: this.emitCode(false, verify), stats: this.emitCode(true, verify) };
    const list: Netdev[] = [];
    for (let n = 0; n < netdevs; n++) {
      const netdev = new Netdev(this, 2 + n, `eth${n}`);
      for (let q = 0; q < queues; q++) netdev.rings.push(this.createRing(netdev, q, templates));
      list.push(netdev);
    }
    this.netdevs = Object.freeze(list);
    this.allRings = this.ringTable(this.rings);
  }

  private emitCode(stats: boolean, verifyHandlers: boolean): PollCode {
    const emit = (size: number, fn: (buf: CodeBuffer) => void) => emitText(this.arena, size, fn, { align: 64 }).address;
    const napiPoll = emit(4096, (buf) => emitNapiPoll(buf, this.xdpCall.trampoline.entry, { mode: this.mode, stats, verifyHandlers }));
    const driverLoop = emit(256, (buf) => emitDriverLoop(buf, napiPoll));
    return { napiPoll, driverLoop };
  }

  private createRing(netdev: Netdev, queueIndex: number, templates: Uint8Array[]): RxRing {
    const arena = this.arena;
    const R = this.ringSize;
    const frames = this.mode === 'zc' ? 2 * R : R;
    const region = arena.allocData(RING.size, { align: 64 });
    const ring = new RxRing(netdev, queueIndex, arena, region, R);
    const buff = arena.allocData(XDP_BUFF.size + XDP_RXQ.size, { align: 64 });
    const descs = arena.allocData(DESC.size * R, { align: 64 });
    const buffers = arena.allocData(BUFFER_STRIDE * frames, { align: 4096 });
    const templateRegion = arena.allocData(FRAME_SLOT * frames, { align: 64 });
    const stack = arena.allocData(16 * R + FRAME_SLOT * R, { align: 64 });
    const tx = arena.allocData(FRAME_SLOT * R, { align: 64 });
    const txLengths = arena.allocData(8 * R, { align: 64 });
    const fill = this.mode === 'zc' ? arena.allocData(8 * frames, { align: 64 }) : null;

    const b = new DataView(arena.dataView(buff).buffer, arena.dataView(buff).byteOffset, XDP_BUFF.size + XDP_RXQ.size);
    b.setBigUint64(XDP_BUFF.rxq, buff.address + BigInt(XDP_BUFF.size), true);
    b.setUint32(XDP_BUFF.frameSize, BUFFER_STRIDE, true);
    b.setUint32(XDP_BUFF.ingressIfindex, netdev.ifindex, true);
    b.setUint32(XDP_BUFF.rxQueueIndex, queueIndex, true);
    b.setUint32(XDP_BUFF.size + XDP_RXQ.ifindex, netdev.ifindex, true);
    b.setUint32(XDP_BUFF.size + XDP_RXQ.queueIndex, queueIndex, true);

    // frames: frame k carries flow k mod flows; its template is kept for TX refills
    const bufferBytes = arena.dataView(buffers);
    const templateBytes = arena.dataView(templateRegion);
    for (let k = 0; k < frames; k++) {
      const frame = templates[k % templates.length] as Uint8Array;
      bufferBytes.set(frame, k * BUFFER_STRIDE + XDP_HEADROOM);
      templateBytes.set(frame, k * FRAME_SLOT);
    }
    const d = new DataView(arena.dataView(descs).buffer, arena.dataView(descs).byteOffset, DESC.size * R);
    for (let i = 0; i < R; i++) {
      d.setBigUint64(i * DESC.size + DESC.addr, buffers.address + BigInt(i * BUFFER_STRIDE), true);
      d.setUint16(i * DESC.size + DESC.length, this.frameLength, true);
      d.setUint16(i * DESC.size + DESC.status, DESC.DD, true);
    }
    const r = new DataView(arena.dataView(region).buffer, arena.dataView(region).byteOffset, RING.size);
    r.setBigUint64(RING.descs, descs.address, true);
    r.setUint32(RING.mask, R - 1, true);
    r.setBigUint64(RING.xdpBuff, buff.address, true);
    r.setBigUint64(RING.templates, templateRegion.address, true);
    r.setBigUint64(RING.buffers, buffers.address, true);
    r.setBigUint64(RING.stack, stack.address, true);
    r.setUint32(RING.stackMask, R - 1, true);
    r.setBigUint64(RING.tx, tx.address, true);
    r.setBigUint64(RING.txLengths, txLengths.address, true);
    r.setUint32(RING.txMask, R - 1, true);
    if (fill !== null) {
      const f = new DataView(arena.dataView(fill).buffer, arena.dataView(fill).byteOffset, 8 * frames);
      for (let i = 0; i < R; i++) f.setBigUint64(i * 8, buffers.address + BigInt((R + i) * BUFFER_STRIDE), true);
      r.setBigUint64(RING.fill, fill.address, true);
      r.setUint32(RING.fillMask, frames - 1, true);
      r.setUint32(RING.fillProd, R, true);
      r.setUint32(RING.fillCons, 0, true);
    }
    return ring;
  }

  private readonly tables = new Map<string, bigint>();

  /** The native array of ring addresses for `rings` (made once per distinct list). */
  private ringTable(rings: readonly RxRing[]): bigint {
    const key = rings.map((r) => r.address.toString(16)).join(',');
    const known = this.tables.get(key);
    if (known !== undefined) return known;
    const table = this.arena.allocData(8 * rings.length, { align: 64 });
    this.tables.set(key, table.address);
    const v = new DataView(this.arena.dataView(table).buffer, this.arena.dataView(table).byteOffset, 8 * rings.length);
    rings.forEach((ring, i) => {
      v.setBigUint64(i * 8, ring.address, true);
    });
    return table.address;
  }

  /** Every rx ring, netdev by netdev. */
  get rings(): RxRing[] {
    return this.netdevs.flatMap((n) => n.rings);
  }

  /** Whether program stats are collected. */
  get stats(): boolean {
    return this.statsOn;
  }

  /** Turn program stats on or off (selects the poll loop variant). */
  setStats(on: boolean): void {
    this.check();
    if (typeof on !== 'boolean') throw new I40eError('EINVAL', 'setStats: expected a boolean');
    this.statsOn = on;
  }

  /** @internal */
  check(): void {
    if (this.isDisposed) throw new I40eError('DISPOSED', 'i40e device used after dispose()');
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Entry points of the current poll-loop variant (for calls from other threads). */
  get entries(): PollCode {
    return this.statsOn ? this.code.stats : this.code.plain;
  }

  private checkRing(ring: RxRing): void {
    if (!(ring instanceof RxRing) || ring.netdev.device !== this) throw new I40eError('UNKNOWN_NETDEV', 'napiPoll: the ring does not belong to this device');
  }

  /**
   * One NAPI poll of `ring` (one JS→native call, up to `budget` packets).
   * @returns packets processed.
   */
  napiPoll(ring: RxRing, budget = 64, options: { reader?: Reader } = {}): number {
    this.check();
    this.checkRing(ring);
    intOption(budget, 64, 1, 1 << 20, 'budget');
    return Number(this.arena.call(this.entries.napiPoll, ring.address, budget, options.reader?.counterAddress ?? 0n));
  }

  /**
   * The arguments of the native driver loop that processes `packets` packets over `rings`
   * (default all) — for running it on a worker thread with `callNative(entry, ...args)`.
   */
  driverLoopCall(packets: bigint | number, options: { budget?: number; rings?: readonly RxRing[]; reader?: Reader } = {}): { entry: bigint; args: bigint[] } {
    this.check();
    const budget = intOption(options.budget, 64, 1, 1 << 20, 'budget');
    const target = BigInt(packets);
    if (target < 0n) throw new I40eError('EINVAL', 'run: packets must be >= 0');
    let table = this.allRings;
    let count = this.rings.length;
    if (options.rings !== undefined) {
      if (options.rings.length === 0) throw new I40eError('EINVAL', 'run: rings must not be empty');
      for (const ring of options.rings) this.checkRing(ring);
      table = this.ringTable(options.rings);
      count = options.rings.length;
    }
    return { entry: this.entries.driverLoop, args: [table, BigInt(count), target, BigInt(budget), options.reader?.counterAddress ?? 0n] };
  }

  /**
   * The native driver loop: poll the rings round robin until `packets` packets have been
   * processed — no JS per packet or per poll. Returns the packets processed.
   */
  run(packets: bigint | number, options: { budget?: number; rings?: readonly RxRing[]; reader?: Reader } = {}): bigint {
    const { entry, args } = this.driverLoopCall(packets, options);
    return this.arena.call(entry, ...args);
  }

  /** Counters summed over rings (default all). */
  totals(rings: readonly RxRing[] = this.rings): RingCounters {
    const all = rings.map((r) => r.counters());
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

  /** Detach the xdp_call (trampoline back to the nop). Idempotent. */
  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    await this.setupQueue;
    await this.xdpCall.dispose();
    this.isDisposed = true;
  }
}
