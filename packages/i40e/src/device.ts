import { type DispatcherLayout, Mutex } from '@bpf-dispatcher/dispatcher';
import { runtimeOf } from '@bpf-dispatcher/runtime';
import { emitText, type Reader, type Region, type TextArena } from '@bpf-dispatcher/text-poke';
import type { CodeBuffer } from '@bpf-dispatcher/x86';
import { claimXdpCall, defineXdpCall, RECORD_META_SIZE, type XdpCall, type XdpCallClaim, type XdpProg } from '@bpf-dispatcher/xdp-call';
import { CaptureNic } from './afxdp/capture-nic.js';
import { planXsk, type XskDeviceOptions, type XskDeviceStats, type XskPlan, XskPorts } from './afxdp/ports.js';
import { type ReplayOutput, replayFrames } from './afxdp/replay.js';
import { emitXskPoll } from './afxdp/xsk-poll.js';
import { createXskRing } from './afxdp/xsk-ring.js';
import { emitDriverLoop } from './driver-loop.js';
import { I40eError } from './errors.js';
import { emitNapiPoll } from './napi-poll.js';
import { type DispatcherProfile, type ProfileEveryOptions, callCounters, measureCalls } from './profile.js';
import { createRxRing, FRAME_SLOT, isRxRing, type RingCounters, type RxMode, type RxRing, sumRingCounters } from './ring.js';
import { defaultFlows, MAX_FLOWS } from './traffic/flows.js';
import { buildUdpFrame, type UdpFlow } from './traffic/packet.js';
import { assertArena, describe, freeRegions, optionsObject } from './validate.js';
import { setupFillRing, umemFrames } from './xsk.js';

/** Options of {@link I40eDevice}. */
export interface I40eDeviceOptions {
  /** Netdevs (ports), 1..16 (default 1). */
  readonly netdevs?: number;
  /** Rx queues per netdev, 1..64 (default 1). */
  readonly queues?: number;
  /** Descriptors per rx ring, a power of two 8..4096 (default 256). */
  readonly ringSize?: number;
  /**
   * Where packets come from: `copy` (i40e_run_xdp, default) and `zc` (i40e_run_xdp_zc over
   * a simulated UMEM) replay generated frames at line rate; `xsk` receives real packets
   * through AF_XDP sockets on real interfaces ({@link I40eDeviceOptions.xsk}); `capture`
   * runs over frames given to {@link I40eDevice.replay} (a capture file's), through rings
   * of the AF_XDP layout in arena memory. `xsk` and `capture` run the AF_XDP poll loop.
   */
  readonly mode?: DeviceMode;
  /** Mode `xsk`: the interfaces and queues to bind, and the sockets' settings. */
  readonly xsk?: XskDeviceOptions;
  /** Mode `capture`: the UMEM chunk size, 2048 (default; frames up to 1792 bytes) or 4096 (up to 3840). */
  readonly captureFrameSize?: 2048 | 4096;
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
   * Layout of the shared xdp_call's dispatcher image: `kernel` (default; the kernel's image
   * byte for byte) or `profile`, ordered by measured call frequencies — see
   * {@link I40eDevice.profileDispatcher}. `profile` goes beyond the kernel.
   */
  readonly layout?: DispatcherLayout;
  /**
   * Check every packet's handler (default false): programs must sign packets as
   * `xdp_record` does; packets handled by any other program count as `misrouted`.
   */
  readonly verifyHandlers?: boolean;
}

/** Where a device's packets come from (see {@link I40eDeviceOptions.mode}). */
export type DeviceMode = RxMode | 'xsk' | 'capture';

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

function intOption(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new I40eError('EINVAL', `I40eDevice: ${name} must be an integer from ${min} to ${max}, got ${describe(v)}`);
  return v;
}

/** Only this module makes netdevs (their constructor takes this token). */
const TOKEN = Symbol('i40e');

/** Devices and netdevs this package made (recognised by identity, not by shape). */
const devices = new WeakSet<object>();
const netdevSet = new WeakSet<object>();

/** True if `value` is a netdev of an I40eDevice (made by this package). */
export function isNetdev(value: unknown): value is Netdev {
  return typeof value === 'object' && value !== null && netdevSet.has(value);
}

/** True if `value` is an I40eDevice (made by this package). */
export function isI40eDevice(value: unknown): value is I40eDevice {
  return typeof value === 'object' && value !== null && devices.has(value);
}

/**
 * A network device (port) of the driver: its ifindex, rx rings and attached program.
 *
 * Ownership, as in the kernel: the netdev owns its prog pointer (`vsi->xdp_prog`) and the
 * one reference on the program that goes with it (`retainXdpProg`, released when the
 * pointer changes); its rings hold copies of that pointer for the poll loop's READ_ONCE.
 * It does not count users: the dispatcher's slots own the count of netdevs sharing a
 * program (`xdp_call_update` adds and removes one), and the device owns the lock under
 * which both change ({@link i40eXdpSetup}).
 */
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

  /** @internal record the attached program and its retention (releasing the previous one); only i40eXdpSetup calls it, under the device's lock. */
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
 *
 * Ownership: the device owns its xdp_call (claimed: a netdev's program is detached only
 * through `i40eXdpSetup`), its lock (private; `i40eXdpSetup` and `dispose` run under it,
 * one at a time), and every region it allocated (rings, ring tables, poll-loop code). Each
 * netdev owns its prog pointer; the dispatcher's slots own the users count.
 */
export class I40eDevice {
  readonly xdpCall: XdpCall;
  readonly netdevs: readonly Netdev[];
  readonly mode: DeviceMode;
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
  /** The device's lock: serialises i40eXdpSetup of its netdevs and dispose (private; only the device queues on it). */
  readonly #setupLock = new Mutex();
  #disposing: Promise<void> | null = null;
  /** Mode `xsk`: the sockets and redirect programs. */
  readonly #xsk: XskPorts | undefined;
  /** Mode `capture`: the NIC behind each ring. */
  readonly #nics = new Map<RxRing, CaptureNic>();
  /** Each ring's calls (packets that met a program) at the last successful profileDispatcher. */
  #profiled = new Map<RxRing, bigint>();
  /** Stops the running profileDispatcherEvery trigger, if any. */
  #stopProfiling: (() => void) | null = null;

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
    if (mode !== 'copy' && mode !== 'zc' && mode !== 'xsk' && mode !== 'capture')
      throw new I40eError('EINVAL', `I40eDevice: mode must be 'copy', 'zc', 'xsk' or 'capture', got ${describe(mode)}`);
    this.mode = mode;
    const xskPlan: XskPlan | undefined = mode === 'xsk' ? planXsk(opts.xsk) : undefined;
    if (mode !== 'xsk' && opts.xsk !== undefined) throw new I40eError('EINVAL', `I40eDevice: options.xsk is for mode 'xsk', not '${mode}'`);
    const captureFrameSize = opts.captureFrameSize ?? 2048;
    if (captureFrameSize !== 2048 && captureFrameSize !== 4096)
      throw new I40eError('EINVAL', `I40eDevice: captureFrameSize must be 2048 or 4096, got ${describe(captureFrameSize)}`);
    const flows = opts.flows ?? defaultFlows();
    if (!Array.isArray(flows) || flows.length === 0 || flows.length > MAX_FLOWS)
      throw new I40eError('EINVAL', `I40eDevice: flows must be an array of 1 to ${MAX_FLOWS} flows`);
    this.flows = Object.freeze([...flows]);
    const templates = this.flows.map((flow, i) => buildUdpFrame(flow, this.frameLength, i));
    for (const [name, value] of [
      ['stats', opts.stats],
      ['dispatcher', opts.dispatcher],
      ['retpoline', opts.retpoline],
      ['verifyHandlers', opts.verifyHandlers],
    ] as const) {
      if (value !== undefined && typeof value !== 'boolean')
        throw new I40eError('EINVAL', `I40eDevice: ${name} must be a boolean, got ${describe(value)}`);
    }
    this.statsOn = opts.stats ?? false;
    this.useDispatcher = opts.dispatcher ?? true;
    const verify = opts.verifyHandlers ?? false;
    if (verify && (mode === 'xsk' || mode === 'capture'))
      throw new I40eError('EINVAL', `I40eDevice: verifyHandlers needs a replay mode ('copy' or 'zc'), not '${mode}'`);
    if (xskPlan !== undefined) this.ringSize = xskPlan.ringSize;
    if (opts.layout !== undefined && opts.layout !== 'kernel' && opts.layout !== 'profile')
      throw new I40eError('EINVAL', `I40eDevice: layout must be 'kernel' or 'profile', got ${describe(opts.layout)}`);
    // validates maxProgs / syncTimeoutMs before it allocates
    this.xdpCall = defineXdpCall(arena, 'i40e_xdp_call', {
      ...(opts.retpoline === undefined ? {} : { retpoline: opts.retpoline }),
      ...(opts.maxProgs === undefined ? {} : { max: opts.maxProgs }),
      ...(opts.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: opts.syncTimeoutMs }),
      ...(opts.layout === undefined ? {} : { layout: opts.layout }),
    });
    this.#claim = claimXdpCall(this.xdpCall, 'an i40e device');
    try {
      this.code = { plain: this.emitCode(false, verify), stats: this.emitCode(true, verify) };
      const list: Netdev[] = [];
      if (xskPlan !== undefined) {
        const targets = xskPlan.interfaces.map((iface) => {
          const rings: RxRing[] = [];
          return { netdev: new Netdev(this, iface.ifindex, iface.name, TOKEN, rings), rings };
        });
        this.#xsk = new XskPorts();
        this.#xsk.open(arena, xskPlan, targets, this.alloc);
        for (const t of targets) {
          Object.freeze(t.rings);
          list.push(t.netdev);
        }
      } else {
        for (let n = 0; n < netdevs; n++) {
          const rings: RxRing[] = [];
          const netdev = new Netdev(this, 2 + n, `eth${n}`, TOKEN, rings);
          for (let q = 0; q < queues; q++)
            rings.push(mode === 'capture' ? this.createCaptureRing(netdev, q, captureFrameSize) : this.createRing(netdev, q, templates));
          Object.freeze(rings);
          list.push(netdev);
        }
      }
      this.netdevs = Object.freeze(list);
      this.allRings = this.ringTable(this.rings);
    } catch (error) {
      this.#xsk?.close();
      freeRegions(arena, this.#owned);
      this.#claim.discard();
      throw error;
    }
    devices.add(this);
  }

  /** The poll loop and driver loop of one variant, each in text sized from its code (the device owns the regions). */
  private emitCode(stats: boolean, verifyHandlers: boolean): PollCode {
    const emit = (fn: (buf: CodeBuffer) => void) => {
      const region = emitText(this.arena, fn, { align: 64 });
      this.#owned.push(region);
      return region.address;
    };
    const entry = this.xdpCall.trampoline.entry;
    const mode = this.mode;
    const napiPoll =
      mode === 'xsk' || mode === 'capture'
        ? emit((buf) => emitXskPoll(buf, entry, { stats }))
        : emit((buf) => emitNapiPoll(buf, entry, { mode, stats, verifyHandlers, signatureOffset: -RECORD_META_SIZE }));
    const driverLoop = emit((buf) => emitDriverLoop(buf, napiPoll));
    return { napiPoll, driverLoop };
  }

  /** Allocate data memory the device owns (freed by dispose, or when the constructor fails). */
  private readonly alloc = (size: number, align: number): Region => {
    const r = this.arena.allocData(size, { align });
    this.#owned.push(r);
    return r;
  };

  /** Mode `capture`: a ring over a {@link CaptureNic} of `ringSize` chunks. */
  private createCaptureRing(netdev: Netdev, queueIndex: number, frameSize: 2048 | 4096): RxRing {
    const nic = new CaptureNic(this.arena, { ringSize: this.ringSize, frameSize, alloc: this.alloc });
    const ring = createXskRing(netdev, queueIndex, { arena: this.arena, source: nic, stackSize: this.ringSize, alloc: this.alloc });
    this.#nics.set(ring, nic);
    return ring;
  }

  /** One rx ring of `netdev` (ring.ts), with its fill ring in zero-copy mode (xsk.ts); the device owns the memory. */
  private createRing(netdev: Netdev, queueIndex: number, templates: readonly Uint8Array[]): RxRing {
    const alloc = this.alloc;
    const R = this.ringSize;
    const frames = this.mode === 'zc' ? umemFrames(R) : R;
    const ring = createRxRing(netdev, queueIndex, { arena: this.arena, size: R, frames, frameLength: this.frameLength, templates, alloc });
    if (this.mode === 'zc') setupFillRing(this.arena, ring, alloc);
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
    const entries = this.arena.memory(table);
    rings.forEach((ring, i) => {
      entries.setU64(i * 8, ring.address);
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
    if (!isRxRing(ring) || ring.netdev.device !== this) {
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
    if ((reader as { disposed?: unknown }).disposed === true)
      throw new I40eError('DISPOSED', `${what}: the reader is unregistered or its arena was disposed`);
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
  napiPoll(ring: RxRing, budget = 64, options: { reader?: Reader; cpu?: number } = {}): number {
    this.check('napiPoll');
    this.checkRing(ring, 'napiPoll');
    intOption(budget, 64, 1, 1 << 20, 'budget');
    const counter = this.readerCounter(options, 'napiPoll');
    const cpu = this.cpuOption(options, 'napiPoll');
    return Number(this.arena.call(this.entries.napiPoll, ring.address, budget, counter, cpu));
  }

  /** The poller's CPU index: 0..cpus-1 of the arena's eBPF runtime (default 0). @throws I40eError EINVAL. */
  private cpuOption(options: { cpu?: number }, what: string): number {
    const cpu = optionsObject(options, what).cpu ?? 0;
    const cpus = runtimeOf(this.arena).cpus;
    if (!Number.isInteger(cpu) || (cpu as number) < 0 || (cpu as number) >= cpus)
      throw new I40eError(
        'EINVAL',
        `${what}: cpu must be a poller index in 0..${cpus - 1} (the runtime's CPU count), got ${describe(cpu)}`,
      );
    return cpu as number;
  }

  /**
   * The arguments of the native driver loop that processes `packets` packets over `rings`
   * (default all) — for running it on a worker thread with `callNative(entry, ...args)`.
   * `cpu` is the poller's index (0..cpus-1 of the arena's eBPF runtime, default 0): what
   * the programs' per-CPU maps and `bpf_get_smp_processor_id()` see; two threads polling at
   * the same time need different indexes.
   * @throws I40eError EINVAL for a bad packet count (a non-negative safe integer or a
   *   bigint below 2^63), budget, ring list or reader; UNKNOWN_NETDEV for a ring of another
   *   device; DISPOSED.
   */
  driverLoopCall(
    packets: bigint | number,
    options: { budget?: number; rings?: readonly RxRing[]; reader?: Reader; cpu?: number } = {},
  ): { entry: bigint; args: bigint[] } {
    this.check('run');
    const opts = optionsObject(options, 'run');
    const budget = intOption(opts.budget, 64, 1, 1 << 20, 'budget');
    const valid = typeof packets === 'bigint' ? packets >= 0n && packets < 1n << 63n : Number.isSafeInteger(packets) && packets >= 0;
    if (!valid)
      throw new I40eError('EINVAL', `run: packets must be a non-negative safe integer or a bigint below 2^63, got ${describe(packets)}`);
    const target = BigInt(packets);
    let table = this.allRings;
    let count = this.rings.length;
    if (opts.rings !== undefined) {
      if (!Array.isArray(opts.rings) || opts.rings.length === 0)
        throw new I40eError('EINVAL', "run: rings must be a non-empty array of this device's rings");
      for (const ring of opts.rings) this.checkRing(ring, 'run');
      table = this.ringTable(opts.rings);
      count = opts.rings.length;
    }
    const counter = this.readerCounter(opts, 'run');
    const cpu = this.cpuOption(opts, 'run');
    return { entry: this.entries.driverLoop, args: [table, BigInt(count), target, BigInt(budget), counter, BigInt(cpu)] };
  }

  /**
   * The native driver loop: poll the rings round robin until `packets` packets have been
   * processed — no JS per packet or per poll. Returns the packets processed.
   * @throws I40eError like {@link driverLoopCall}.
   */
  run(packets: bigint | number, options: { budget?: number; rings?: readonly RxRing[]; reader?: Reader; cpu?: number } = {}): bigint {
    const { entry, args } = this.driverLoopCall(packets, options);
    return this.arena.call(entry, ...args);
  }

  /** The sockets of an `xsk` device. @throws I40eError EINVAL in another mode; DISPOSED. */
  #ports(what: string): XskPorts {
    this.check(what);
    if (this.#xsk === undefined) throw new I40eError('EINVAL', `${what}: the device is in mode '${this.mode}', not 'xsk'`);
    return this.#xsk;
  }

  /**
   * Mode `xsk`: wake the kernel where a socket's ring asks for it (need-wakeup) — the fill
   * ring with `recvfrom`, the tx ring (when it holds frames) with `sendto`. Call it after
   * each native run; it is the only system call the receive path needs. Returns the
   * number of system calls made.
   * @throws I40eError EINVAL in another mode, DISPOSED; XskError for a refusal that is not transient.
   */
  kick(): number {
    return this.#ports('kick').kick();
  }

  /**
   * Mode `xsk`: wait up to `timeoutMs` (an integer, 0 just looks) until a socket's rx ring
   * holds packets (`poll`). True when one does.
   * @throws I40eError EINVAL for a bad timeout or in another mode, DISPOSED; XskError if poll fails.
   */
  waitForPackets(timeoutMs: number): boolean {
    return this.#ports('waitForPackets').wait(timeoutMs);
  }

  /**
   * Mode `xsk`: the kernel's counters of the sockets (`XDP_STATISTICS`: packets it dropped,
   * and why) and the rings' own (completions reaped), summed over `rings` (default all).
   * @throws I40eError EINVAL in another mode or for rings of another device, DISPOSED; XskError if the kernel refuses.
   */
  xskStats(rings?: readonly RxRing[]): XskDeviceStats {
    const ports = this.#ports('xskStats');
    if (rings !== undefined) {
      if (!Array.isArray(rings)) throw new I40eError('EINVAL', "xskStats: rings must be an array of this device's rings");
      for (const ring of rings) this.checkRing(ring, 'xskStats');
    }
    return ports.stats(rings);
  }

  /**
   * Mode `xsk`: each ring's socket as the kernel set it up — the netdev and queue, whether
   * it runs zero-copy, and where the redirect program runs (`native` in the driver,
   * `generic` in the stack, `none` when the caller attaches its own).
   * @throws I40eError EINVAL in another mode, DISPOSED.
   */
  xskQueues(): readonly {
    readonly ring: RxRing;
    readonly ifindex: number;
    readonly queue: number;
    readonly zeroCopy: boolean;
    readonly redirect: 'native' | 'generic' | 'none';
  }[] {
    const ports = this.#ports('xskQueues');
    return ports.sockets.map(({ ring, socket }) => {
      const redirect = ports.redirects.find((r) => r.ifindex === socket.ifindex);
      return Object.freeze({
        ring,
        ifindex: socket.ifindex,
        queue: socket.queue,
        zeroCopy: socket.zeroCopy,
        redirect: redirect?.mode ?? 'none',
      });
    });
  }

  /**
   * Mode `capture`: run the program attached to `ring`'s netdev over `frames` (e.g. a
   * capture file's), each exactly once and in order, through the AF_XDP poll loop —
   * native code per packet, TypeScript per ring's worth. Returns the frames passed and
   * transmitted (with their input index) and the indexes of frames too long for a UMEM
   * chunk (skipped; see `captureFrameSize`). Counters accumulate on the ring as usual.
   * @throws I40eError EINVAL in another mode, for frames that are not Uint8Arrays, or a
   *   bad cpu; UNKNOWN_NETDEV for a ring of another device; DISPOSED.
   */
  replay(frames: readonly Uint8Array[], options: { ring?: RxRing; cpu?: number } = {}): ReplayOutput {
    this.check('replay');
    if (this.mode !== 'capture') throw new I40eError('EINVAL', `replay: the device is in mode '${this.mode}', not 'capture'`);
    const opts = optionsObject(options, 'replay');
    const ring = opts.ring ?? (this.rings[0] as RxRing);
    this.checkRing(ring, 'replay');
    if (!Array.isArray(frames) || !frames.every((f) => f instanceof Uint8Array))
      throw new I40eError('EINVAL', 'replay: frames must be an array of Uint8Array');
    const cpu = this.cpuOption(opts, 'replay');
    const nic = this.#nics.get(ring) as CaptureNic;
    return replayFrames(ring, nic, frames, (count) =>
      count === 0 ? this.napiPoll(ring, 1, { cpu }) : Number(this.run(count, { rings: [ring], cpu })),
    );
  }

  /**
   * Counters summed over rings (default all), as a snapshot of plain bigints.
   * @throws I40eError EINVAL / UNKNOWN_NETDEV for rings that are not this device's; DISPOSED.
   */
  totals(rings: readonly RxRing[] = this.rings): RingCounters {
    this.check('totals');
    if (!Array.isArray(rings)) throw new I40eError('EINVAL', "totals: rings must be an array of this device's rings");
    for (const ring of rings) this.checkRing(ring, 'totals');
    return sumRingCounters(rings.map((r) => r.counters()));
  }

  /**
   * Profile-guided dispatch (goes beyond the kernel): measure how often each program ran
   * since the last call — from the rings' packet counters, as each netdev runs one program
   * (packets that met a program are calls of it; netdevs sharing a program add up) — and
   * hand the counts to the dispatcher as weights (`Dispatcher.setWeights`), which re-lays
   * its image so that the programs carrying most packets are reached first (through the
   * usual update: grace period, poke, flip; nothing when the image would not change).
   * The first call measures from the device's creation. A ring whose counters were reset
   * since counts from zero if they are now lower than at the last profile (a reset cannot
   * be told apart otherwise: reset counters right after a profile, not between two).
   *
   * A period without calls changes nothing (the weights stay). Runs under the device's
   * lock, one at a time with i40eXdpSetup, so each netdev's count goes to the program it
   * runs. If the dispatcher refuses, the error is rethrown and the next call measures from
   * the last successful profile.
   * @throws I40eError EINVAL for a device without a dispatcher (`dispatcher: false`) or
   *   whose layout is not `profile`; DISPOSED. DispatcherError from setWeights
   *   (SYNC_TIMEOUT, POKE_FAILED; the live image stays as it was).
   */
  profileDispatcher(): Promise<DispatcherProfile> {
    try {
      this.checkProfile('profileDispatcher');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#setupLock.run(async () => {
      this.check('profileDispatcher');
      const now = callCounters(this.rings);
      const measured = measureCalls(this.netdevs, this.#profiled, now);
      const outcome = measured.calls === 0n ? null : await this.xdpCall.dispatcher.setWeights(measured.weights);
      this.#profiled = now;
      return Object.freeze({ netdevs: Object.freeze(measured.netdevs), calls: measured.calls, weights: measured.weights, outcome });
    });
  }

  /**
   * Run {@link profileDispatcher} every `intervalMs` milliseconds on an unref'd timer (it
   * keeps no process alive) until the returned function is called or the device is
   * disposed. A tick is skipped while the previous profile still runs. One trigger per
   * device: a new call replaces the running one. Failures go to `options.onError` (the
   * trigger keeps running). Goes beyond the kernel.
   * @throws I40eError EINVAL for an interval that is not a finite number >= 1, callbacks
   *   that are not functions, or a device profileDispatcher refuses; DISPOSED.
   */
  profileDispatcherEvery(intervalMs: number, options: ProfileEveryOptions = {}): () => void {
    this.checkProfile('profileDispatcherEvery');
    if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 1 || intervalMs > 2 ** 31 - 1)
      throw new I40eError('EINVAL', `profileDispatcherEvery: intervalMs must be a number from 1 to 2^31-1, got ${describe(intervalMs)}`);
    const opts = optionsObject(options, 'profileDispatcherEvery');
    for (const name of ['onProfile', 'onError'] as const) {
      if (opts[name] !== undefined && typeof opts[name] !== 'function')
        throw new I40eError('EINVAL', `profileDispatcherEvery: ${name} must be a function, got ${describe(opts[name])}`);
    }
    this.#stopProfiling?.();
    let running = false;
    const tick = async () => {
      try {
        const profile = await this.profileDispatcher();
        opts.onProfile?.(profile);
      } catch (error) {
        try {
          opts.onError?.(error);
        } catch {
          // the callback's own failure has nowhere else to go
        }
      }
    };
    const timer = setInterval(() => {
      if (running || this.isDisposed || this.#disposing !== null) return;
      running = true;
      void tick().finally(() => {
        running = false;
      });
    }, intervalMs);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      if (this.#stopProfiling === stop) this.#stopProfiling = null;
    };
    this.#stopProfiling = stop;
    return stop;
  }

  /** Whether a profileDispatcherEvery trigger runs. */
  get profiling(): boolean {
    return this.#stopProfiling !== null;
  }

  /** @throws I40eError DISPOSED, or EINVAL unless the device has a dispatcher with the `profile` layout. */
  private checkProfile(what: string): void {
    this.check(what);
    if (!this.useDispatcher) throw new I40eError('EINVAL', `${what}: the device runs without a dispatcher (dispatcher: false)`);
    if (this.xdpCall.dispatcher.layout !== 'profile')
      throw new I40eError(
        'EINVAL',
        `${what}: the dispatcher's layout is '${this.xdpCall.dispatcher.layout}' (create the device with { layout: 'profile' })`,
      );
  }

  /**
   * @internal run `fn` under the device's lock, after every earlier i40eXdpSetup of this
   * device has settled (the lock is the device's own; callers cannot reach or replace it).
   */
  static serialise<T>(device: I40eDevice, fn: () => Promise<T>): Promise<T> {
    return device.#setupLock.run(fn);
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
    this.#stopProfiling?.();
    const run = (async () => {
      try {
        await this.#setupLock.run(() => undefined);
        await this.#claim.dispose();
      } catch (error) {
        this.#disposing = null;
        throw error;
      }
      // the xdp_call's grace periods are over: no registered reader runs the poll code
      this.#xsk?.close();
      if (!this.arena.disposed) freeRegions(this.arena, this.#owned);
      for (const netdev of this.netdevs) Netdev.setProg(netdev, null, null);
      this.#owned.length = 0;
      this.isDisposed = true;
    })();
    this.#disposing = run;
    return run;
  }
}
