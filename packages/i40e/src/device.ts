import { type Reader, type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import type { CodeBuffer } from '@bpf-dispatcher/x86';
import {
  XDP_ACTION_NAMES,
  XDP_BUFF,
  XDP_HEADROOM,
  XDP_RXQ,
  type UdpFlow,
  type XdpCall,
  type XdpCallClaim,
  type XdpProg,
  buildUdpFrame,
  claimXdpCall,
  defineXdpCall,
} from '@bpf-dispatcher/xdp-call';
import { I40eError } from './errors.js';
import { assertArena, describe, freeRegions, optionsObject } from './validate.js';
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

/**
 * `count` distinct UDP flows: 10.0.0.(i+1):(1024+i) -> 10.0.1.1:(1000 + i).
 * @throws I40eError EINVAL unless `count` is an integer from 1 to 4096.
 */
export function defaultFlows(count = 8): UdpFlow[] {
  if (!Number.isInteger(count) || count < 1 || count > 4096) throw new I40eError('EINVAL', `defaultFlows: count must be an integer from 1 to 4096, got ${describe(count)}`);
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
  if (!Number.isInteger(v) || v < min || v > max) throw new I40eError('EINVAL', `I40eDevice: ${name} must be an integer from ${min} to ${max}, got ${describe(v)}`);
  return v;
}

/** Only this module makes netdevs and rings (their constructors take this token). */
const TOKEN = Symbol('i40e');

/** Devices, netdevs and rings this package made (recognised by identity, not by shape). */
const devices = new WeakSet<object>();
const netdevSet = new WeakSet<object>();
const ringSet = new WeakSet<object>();

/** True if `value` is a netdev of an I40eDevice (made by this package). */
export function isNetdev(value: unknown): value is Netdev {
  return typeof value === 'object' && value !== null && netdevSet.has(value);
}

/** True if `value` is an I40eDevice (made by this package). */
export function isI40eDevice(value: unknown): value is I40eDevice {
  return typeof value === 'object' && value !== null && devices.has(value);
}

/** One rx queue of a netdev, with its descriptor ring, buffers and counters in native memory. */
export class RxRing {
  /** Address of the ring structure the poll loop takes. */
  readonly address: bigint;
  readonly #arena: TextArena;
  readonly #view: DataView;
  readonly #words: BigInt64Array;

  /** @internal made by I40eDevice only. @throws I40eError EINVAL otherwise. */
  constructor(
    readonly netdev: Netdev,
    readonly queueIndex: number,
    arena: TextArena,
    region: Region,
    readonly size: number,
    token?: symbol,
  ) {
    if (token !== TOKEN) throw new I40eError('EINVAL', 'RxRing: rings are made by I40eDevice');
    this.#arena = arena;
    this.address = region.address;
    const bytes = arena.dataView(region);
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    this.#words = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
    ringSet.add(this);
  }

  /** The ring's memory, once checked to be still there. @throws I40eError DISPOSED. */
  #live(what: string): DataView {
    this.netdev.device.check(`ring.${what}`);
    return this.#view;
  }

  /** The ring's counters now (a snapshot). @throws I40eError DISPOSED after the device or its arena is disposed. */
  counters(): RingCounters {
    const view = this.#live('counters');
    const at = (offset: number) => view.getBigUint64(RING.counters + offset, true);
    const actions = Object.fromEntries(XDP_ACTION_NAMES.map((name, i) => [name, at(COUNTERS.actions + 8 * i)])) as RingCounters['actions'];
    return {
      packets: at(COUNTERS.packets),
      bytes: at(COUNTERS.bytes),
      actions,
      errors: at(COUNTERS.errors),
      stackEnqueued: at(COUNTERS.stackEnqueued),
      stackDropped: at(COUNTERS.stackDropped),
      txPackets: at(COUNTERS.txPackets),
      txDropped: at(COUNTERS.txDropped),
      noProg: at(COUNTERS.noProg),
      polls: at(COUNTERS.polls),
      misrouted: at(COUNTERS.misrouted),
    };
  }

  /** Zero the counters. @throws I40eError DISPOSED like {@link counters}. */
  resetCounters(): void {
    const view = this.#live('resetCounters');
    for (let off = 0; off < COUNTERS.size; off += 8) view.setBigUint64(RING.counters + off, 0n, true);
  }

  /** @internal READ_ONCE-safe store of the ring's program (`struct bpf_prog *` or 0). */
  static setProgStruct(ring: RxRing, struct: bigint): void {
    ring.#live('setProgStruct');
    Atomics.store(ring.#words, RING.xdpProg / 8, BigInt.asIntN(64, struct));
  }

  /** The ring's program struct address now (0 when none). @throws I40eError DISPOSED like {@link counters}. */
  progStruct(): bigint {
    this.#live('progStruct');
    return BigInt.asUintN(64, Atomics.load(this.#words, RING.xdpProg / 8));
  }

  /**
   * Take the frames the stack queue holds (PASS verdicts): their data address and length,
   * and a copy of their bytes (`frame`), taken now — the buffer is the NIC's again.
   * @throws I40eError DISPOSED like {@link counters}.
   */
  drainStack(): { data: bigint; length: number; frame: Uint8Array }[] {
    const view = this.#live('drainStack');
    const head = view.getUint32(RING.stackHead, true);
    let tail = view.getUint32(RING.stackTail, true);
    const mask = view.getUint32(RING.stackMask, true);
    const base = view.getBigUint64(RING.stack, true);
    const out: { data: bigint; length: number; frame: Uint8Array }[] = [];
    while (tail !== head) {
      const entry = new DataView(this.#arena.read(base + BigInt((tail & mask) * 16), 16).buffer);
      const data = entry.getBigUint64(0, true);
      const length = Number(entry.getBigUint64(8, true));
      out.push({ data, length, frame: this.#arena.read(data, length) });
      tail = (tail + 1) >>> 0;
    }
    view.setUint32(RING.stackTail, tail, true);
    return out;
  }

  /** Take the frames transmitted (TX verdicts), as copied bytes. @throws I40eError DISPOSED like {@link counters}. */
  drainTx(): Uint8Array[] {
    const view = this.#live('drainTx');
    const head = view.getUint32(RING.txHead, true);
    let tail = view.getUint32(RING.txTail, true);
    const mask = view.getUint32(RING.txMask, true);
    const base = view.getBigUint64(RING.tx, true);
    const lengths = view.getBigUint64(RING.txLengths, true);
    const out: Uint8Array[] = [];
    while (tail !== head) {
      const slot = tail & mask;
      const length = Number(new DataView(this.#arena.read(lengths + BigInt(slot * 8), 8).buffer).getBigUint64(0, true));
      out.push(this.#arena.read(base + BigInt(slot * FRAME_SLOT), length));
      tail = (tail + 1) >>> 0;
    }
    view.setUint32(RING.txTail, tail, true);
    return out;
  }
}

/** A network device (port) of the driver: its ifindex, rx rings and attached program. */
export class Netdev {
  readonly rings: readonly RxRing[];
  #prog: XdpProg | null = null;
  #release: (() => void) | null = null;

  /** @internal made by I40eDevice only. @throws I40eError EINVAL otherwise. */
  constructor(
    readonly device: I40eDevice,
    readonly ifindex: number,
    readonly name: string,
    token?: symbol,
    rings?: RxRing[],
  ) {
    if (token !== TOKEN) throw new I40eError('EINVAL', 'Netdev: netdevs are made by I40eDevice');
    this.rings = rings ?? [];
    netdevSet.add(this);
  }

  /** The program attached with i40eXdpSetup, or null. */
  get xdpProg(): XdpProg | null {
    return this.#prog;
  }

  /** @internal record the attached program and its retention (releasing the previous one). */
  static setProg(netdev: Netdev, prog: XdpProg | null, release: (() => void) | null): void {
    netdev.#release?.();
    netdev.#prog = prog;
    netdev.#release = release;
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
  /** Every region the device allocated (rings, tables, poll code), freed by dispose(). */
  readonly #owned: Region[] = [];
  readonly #claim: XdpCallClaim;
  #setupQueue: Promise<unknown> = Promise.resolve();
  #disposing: Promise<void> | null = null;

  /**
   * Validates every option before allocating; if an allocation fails part-way, everything
   * allocated so far is freed. {@link dispose} frees it all again. The device's xdp_call is
   * claimed by the device: a netdev's program is detached only by {@link i40eXdpSetup}
   * (xdpCallUpdate of it fails with EPERM), so the netdevs' state always matches the
   * dispatcher's.
   * @throws I40eError EINVAL for a bad arena or options; DISPOSED for a disposed arena;
   *   DispatcherError / TextPokeError ENOMEM when the arena is too small (nothing stays
   *   allocated).
   */
  constructor(
    readonly arena: TextArena,
    options: I40eDeviceOptions = {},
  ) {
    assertArena(arena, 'I40eDevice');
    const opts = optionsObject(options, 'I40eDevice');
    const netdevs = intOption(opts.netdevs, 1, 1, 16, 'netdevs');
    const queues = intOption(opts.queues, 1, 1, 64, 'queues');
    this.ringSize = intOption(opts.ringSize, 256, 8, 4096, 'ringSize');
    if (!isPow2(this.ringSize)) throw new I40eError('EINVAL', `I40eDevice: ringSize must be a power of two, got ${this.ringSize}`);
    this.frameLength = intOption(opts.frameLength, 64, 42, FRAME_SLOT, 'frameLength');
    const mode = opts.mode ?? 'copy';
    if (mode !== 'copy' && mode !== 'zc') throw new I40eError('EINVAL', `I40eDevice: mode must be 'copy' or 'zc', got ${describe(mode)}`);
    this.mode = mode;
    const flows = opts.flows ?? defaultFlows();
    if (!Array.isArray(flows) || flows.length === 0 || flows.length > 4096) throw new I40eError('EINVAL', 'I40eDevice: flows must be an array of 1 to 4096 flows');
    this.flows = Object.freeze([...flows]);
    const templates = this.flows.map((flow, i) => buildUdpFrame(flow, this.frameLength, i));
    for (const [name, value] of [['stats', opts.stats], ['dispatcher', opts.dispatcher], ['retpoline', opts.retpoline], ['verifyHandlers', opts.verifyHandlers]] as const) {
      if (value !== undefined && typeof value !== 'boolean') throw new I40eError('EINVAL', `I40eDevice: ${name} must be a boolean, got ${describe(value)}`);
    }
    this.statsOn = opts.stats ?? false;
    this.useDispatcher = opts.dispatcher ?? true;
    const verify = opts.verifyHandlers ?? false;
    // validates maxProgs / syncTimeoutMs before it allocates
    this.xdpCall = defineXdpCall(arena, 'i40e_xdp_call', {
      ...(opts.retpoline === undefined ? {} : { retpoline: opts.retpoline }),
      ...(opts.maxProgs === undefined ? {} : { max: opts.maxProgs }),
      ...(opts.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: opts.syncTimeoutMs }),
    });
    this.#claim = claimXdpCall(this.xdpCall, 'an i40e device');
    try {
      this.code = { plain: this.emitCode(false, verify), stats: this.emitCode(true, verify) };
      const list: Netdev[] = [];
      for (let n = 0; n < netdevs; n++) {
        const rings: RxRing[] = [];
        const netdev = new Netdev(this, 2 + n, `eth${n}`, TOKEN, rings);
        for (let q = 0; q < queues; q++) rings.push(this.createRing(netdev, q, templates));
        Object.freeze(rings);
        list.push(netdev);
      }
      this.netdevs = Object.freeze(list);
      this.allRings = this.ringTable(this.rings);
    } catch (error) {
      freeRegions(arena, this.#owned);
      this.#claim.discard();
      throw error;
    }
    devices.add(this);
  }

  private emitCode(stats: boolean, verifyHandlers: boolean): PollCode {
    const emit = (size: number, fn: (buf: CodeBuffer) => void) => {
      const region = emitText(this.arena, size, fn, { align: 64 });
      this.#owned.push(region);
      return region.address;
    };
    const napiPoll = emit(4096, (buf) => emitNapiPoll(buf, this.xdpCall.trampoline.entry, { mode: this.mode, stats, verifyHandlers }));
    const driverLoop = emit(256, (buf) => emitDriverLoop(buf, napiPoll));
    return { napiPoll, driverLoop };
  }

  private createRing(netdev: Netdev, queueIndex: number, templates: Uint8Array[]): RxRing {
    const arena = this.arena;
    const R = this.ringSize;
    const frames = this.mode === 'zc' ? 2 * R : R;
    const alloc = (size: number, align: number): Region => {
      const r = arena.allocData(size, { align });
      this.#owned.push(r);
      return r;
    };
    const region = alloc(RING.size, 64);
    const ring = new RxRing(netdev, queueIndex, arena, region, R, TOKEN);
    const buff = alloc(XDP_BUFF.size + XDP_RXQ.size, 64);
    const descs = alloc(DESC.size * R, 64);
    const buffers = alloc(BUFFER_STRIDE * frames, 4096);
    const templateRegion = alloc(FRAME_SLOT * frames, 64);
    const stack = alloc(16 * R + FRAME_SLOT * R, 64);
    const tx = alloc(FRAME_SLOT * R, 64);
    const txLengths = alloc(8 * R, 64);
    const fill = this.mode === 'zc' ? alloc(8 * frames, 64) : null;

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
    this.#owned.push(table);
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

  /** Turn program stats on or off (selects the poll loop variant). @throws I40eError EINVAL / DISPOSED. */
  setStats(on: boolean): void {
    this.check();
    if (typeof on !== 'boolean') throw new I40eError('EINVAL', 'setStats: expected a boolean');
    this.statsOn = on;
  }

  /** @internal @throws I40eError DISPOSED after dispose() or once the arena is disposed. */
  check(what = 'i40e device'): void {
    if (this.isDisposed || this.#disposing !== null) throw new I40eError('DISPOSED', `${what}: the i40e device was disposed`);
    if (this.arena.disposed) throw new I40eError('DISPOSED', `${what}: the i40e device's arena was disposed`);
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Entry points of the current poll-loop variant (for calls from other threads). */
  get entries(): PollCode {
    return this.statsOn ? this.code.stats : this.code.plain;
  }

  private checkRing(ring: unknown, what: string): asserts ring is RxRing {
    if (typeof ring !== 'object' || ring === null || !ringSet.has(ring) || (ring as RxRing).netdev.device !== this) {
      throw new I40eError('UNKNOWN_NETDEV', `${what}: the ring does not belong to this device`);
    }
  }

  /**
   * The quiescent-state counter of `reader`, after checking that it is a reader of this
   * arena that is still registered (its counter lies in this arena's allocated data).
   */
  private readerCounter(options: { reader?: Reader } | undefined, what: string): bigint {
    const opts = optionsObject(options, what);
    const reader = opts.reader;
    if (reader === undefined) return 0n;
    if (typeof reader !== 'object' || reader === null || typeof reader.counterAddress !== 'bigint') {
      throw new I40eError('EINVAL', `${what}: reader must come from arena.registerReader(), got ${describe(reader)}`);
    }
    if ((reader as { disposed?: unknown }).disposed === true) throw new I40eError('DISPOSED', `${what}: the reader is unregistered or its arena was disposed`);
    const address = reader.counterAddress;
    const [start, end] = this.arena.dataRange;
    let inArena = address % 8n === 0n && address >= start && address + 8n <= end;
    if (inArena) {
      try {
        this.arena.read(address, 8);
      } catch {
        inArena = false;
      }
    }
    if (!inArena) throw new I40eError('EINVAL', `${what}: the reader belongs to another arena`);
    return address;
  }

  /**
   * One NAPI poll of `ring` (one JS→native call, up to `budget` packets).
   * @returns packets processed.
   * @throws I40eError UNKNOWN_NETDEV for a ring of another device; EINVAL for a bad budget
   *   or reader; DISPOSED.
   */
  napiPoll(ring: RxRing, budget = 64, options: { reader?: Reader } = {}): number {
    this.check('napiPoll');
    this.checkRing(ring, 'napiPoll');
    intOption(budget, 64, 1, 1 << 20, 'budget');
    const counter = this.readerCounter(options, 'napiPoll');
    return Number(this.arena.call(this.entries.napiPoll, ring.address, budget, counter));
  }

  /**
   * The arguments of the native driver loop that processes `packets` packets over `rings`
   * (default all) — for running it on a worker thread with `callNative(entry, ...args)`.
   * @throws I40eError EINVAL for a bad packet count (a non-negative safe integer or a
   *   bigint below 2^63), budget, ring list or reader; UNKNOWN_NETDEV for a ring of another
   *   device; DISPOSED.
   */
  driverLoopCall(packets: bigint | number, options: { budget?: number; rings?: readonly RxRing[]; reader?: Reader } = {}): { entry: bigint; args: bigint[] } {
    this.check('run');
    const opts = optionsObject(options, 'run');
    const budget = intOption(opts.budget, 64, 1, 1 << 20, 'budget');
    const valid = typeof packets === 'bigint' ? packets >= 0n && packets < 1n << 63n : Number.isSafeInteger(packets) && packets >= 0;
    if (!valid) throw new I40eError('EINVAL', `run: packets must be a non-negative safe integer or a bigint below 2^63, got ${describe(packets)}`);
    const target = BigInt(packets);
    let table = this.allRings;
    let count = this.rings.length;
    if (opts.rings !== undefined) {
      if (!Array.isArray(opts.rings) || opts.rings.length === 0) throw new I40eError('EINVAL', 'run: rings must be a non-empty array of this device\'s rings');
      for (const ring of opts.rings) this.checkRing(ring, 'run');
      table = this.ringTable(opts.rings);
      count = opts.rings.length;
    }
    const counter = this.readerCounter(opts, 'run');
    return { entry: this.entries.driverLoop, args: [table, BigInt(count), target, BigInt(budget), counter] };
  }

  /**
   * The native driver loop: poll the rings round robin until `packets` packets have been
   * processed — no JS per packet or per poll. Returns the packets processed.
   * @throws I40eError like {@link driverLoopCall}.
   */
  run(packets: bigint | number, options: { budget?: number; rings?: readonly RxRing[]; reader?: Reader } = {}): bigint {
    const { entry, args } = this.driverLoopCall(packets, options);
    return this.arena.call(entry, ...args);
  }

  /**
   * Counters summed over rings (default all), as a snapshot of plain bigints.
   * @throws I40eError EINVAL / UNKNOWN_NETDEV for rings that are not this device's; DISPOSED.
   */
  totals(rings: readonly RxRing[] = this.rings): RingCounters {
    this.check('totals');
    if (!Array.isArray(rings)) throw new I40eError('EINVAL', 'totals: rings must be an array of this device\'s rings');
    for (const ring of rings) this.checkRing(ring, 'totals');
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

  /** @internal run `fn` after every earlier i40eXdpSetup of this device has settled. */
  static serialise<T>(device: I40eDevice, fn: () => Promise<T>): Promise<T> {
    const run = device.#setupQueue.then(fn);
    device.#setupQueue = run.catch(() => undefined);
    return run;
  }

  /** @internal the device's private access to its xdp_call. */
  static claimOf(device: I40eDevice): XdpCallClaim {
    return device.#claim;
  }

  /**
   * Detach everything and free everything the device allocated: the xdp_call (trampoline
   * back to the nop, image, trampoline, thunk, stubs), the poll loops' code, every ring's
   * memory and the ring tables — after grace periods. The programs attached to the netdevs
   * are released (they can be disposed). Driver loops running on other threads must have
   * stopped. Idempotent; once the arena is disposed there is nothing left to free.
   * @throws DispatcherError / XdpError SYNC_TIMEOUT or POKE_FAILED if the xdp_call cannot be
   *   taken down (nothing is freed; the device stays usable; retry later).
   */
  dispose(): Promise<void> {
    if (this.isDisposed) return Promise.resolve();
    if (this.#disposing !== null) return this.#disposing;
    const run = (async () => {
      try {
        await this.#setupQueue;
        await this.#claim.dispose();
      } catch (error) {
        this.#disposing = null;
        throw error;
      }
      if (!this.arena.disposed) {
        // the xdp_call's grace periods are over: no registered reader runs the poll code
        freeRegions(this.arena, this.#owned);
      }
      for (const netdev of this.netdevs) Netdev.setProg(netdev, null, null);
      this.#owned.length = 0;
      this.isDisposed = true;
    })();
    this.#disposing = run;
    return run;
  }
}
