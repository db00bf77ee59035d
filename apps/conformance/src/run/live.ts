/**
 * `bpf-dispatcher run --dev`: an XDP program on a real interface, as xdp-bench runs one.
 * One AF_XDP socket per queue (the i40e device in `xsk` mode, whose kernel redirect
 * program feeds them), the program attached with `i40eXdpSetup` and run by the device's
 * JIT'd poll loop through the dispatcher; statistics every interval; on SIGINT, SIGTERM or
 * the `--seconds` limit the program is detached, everything is freed, and the totals are
 * returned. Everything started is cleaned up on every path, errors included.
 */
import { I40eDevice, i40eXdpSetup, type Netdev, type RxRing, XskError } from '@bpf-dispatcher/i40e';
import { NativeArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { CliError } from '../output.js';
import { interfaceIndex } from './interface.js';
import { firstLine, type LoadedProgram, loadProgram } from './program.js';
import {
  formatInterval,
  formatTotals,
  type Interval,
  interval,
  type KernelCounters,
  type RunTotals,
  runTotals,
  type Sample,
  type StopReason,
  VERDICTS,
  type Verdict,
} from './stats.js';

/** Entries of each socket's rings (and frames of its UMEM). */
export const LIVE_RING_SIZE = 2048;
/** UMEM chunk size: frames up to 1792 bytes (2048 less the XDP headroom). */
export const LIVE_FRAME_SIZE = 2048;
/** Packets per native run: control comes back to TypeScript at least this often. */
const RUN_PACKETS = 65_536;
/** Longest wait for packets when none arrived (ms): timers and signals are served at least this often. */
const WAIT_MS = 10;

/** Options of {@link runLive}. */
export interface LiveOptions {
  /** The interface (in the calling thread's network namespace). */
  readonly dev: string;
  /** The BPF object file, and which of its programs (see `selectProgram`). */
  readonly prog: string;
  readonly section?: string;
  /** The rx queues to bind, each with its own socket. */
  readonly queues: readonly number[];
  /** `copy` (every driver, veth among them) or `zc` (drivers with AF_XDP zero-copy). */
  readonly mode: 'copy' | 'zc';
  /** Stop after this many seconds (default: at SIGINT or SIGTERM only). */
  readonly seconds?: number;
  /** Seconds between two statistics blocks. */
  readonly interval: number;
  /** Where the human-readable text goes (one call per line or block). */
  readonly log: (text: string) => void;
}

/** What {@link runLive} reports (also the `--json` document). */
export interface LiveReport {
  readonly mode: 'dev';
  readonly date: string;
  readonly interface: { readonly name: string; readonly ifindex: number };
  readonly program: { readonly file: string; readonly name: string; readonly section: string };
  readonly bind: 'copy' | 'zc';
  readonly queues: readonly { readonly queue: number; readonly zeroCopy: boolean; readonly redirect: string }[];
  readonly intervalSeconds: number;
  readonly maxSeconds: number | null;
  readonly stoppedBy: StopReason;
  readonly totals: RunTotals;
  readonly intervals: readonly Interval[];
}

/** Data memory for `queues` sockets: each one's UMEM and stack-queue slots, plus room for the program's maps. */
export function liveDataSize(queues: number): number {
  return queues * (2 * LIVE_RING_SIZE * LIVE_FRAME_SIZE + (1 << 20)) + (32 << 20);
}

const KERNEL_KEYS = ['rxDropped', 'rxRingFull', 'rxInvalidDescs', 'txInvalidDescs', 'rxFillRingEmptyDescs', 'txRingEmptyDescs'] as const;

/** The device's counters now, as plain numbers. */
function sample(device: I40eDevice, ms: number): Sample {
  const t = device.totals();
  const k = device.xskStats();
  const verdicts = (actions: Readonly<Record<Verdict, bigint>>) =>
    Object.fromEntries(VERDICTS.map((v) => [v, Number(actions[v])])) as Record<Verdict, number>;
  return {
    ms,
    packets: Number(t.packets),
    bytes: Number(t.bytes),
    verdicts: verdicts(t.actions),
    invalidVerdicts: Number(t.errors),
    queues: device.rings.map((ring: RxRing) => {
      const c = ring.counters();
      return { queue: ring.queueIndex, packets: Number(c.packets), verdicts: verdicts(c.actions) };
    }),
    kernel: Object.fromEntries(KERNEL_KEYS.map((key) => [key, Number(k[key])])) as unknown as KernelCounters,
    txPackets: Number(t.txPackets),
    txDropped: Number(t.txDropped),
    completions: Number(k.completions),
    stackEnqueued: Number(t.stackEnqueued),
    stackDropped: Number(t.stackDropped),
    noProg: Number(t.noProg),
  };
}

/** A one-line reason for a device that could not be set up, with a hint where the errno suggests one. */
function deviceError(error: unknown, options: LiveOptions): unknown {
  if (!BpfDispatcherError.isInstance(error)) return error;
  const where = `--dev ${options.dev}`;
  if (error instanceof XskError) {
    const hints: Record<string, string> = {
      EPERM: 'AF_XDP and bpf() need root (CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF)',
      EACCES: 'AF_XDP and bpf() need root (CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF)',
      EAFNOSUPPORT: 'this kernel has no AF_XDP (CONFIG_XDP_SOCKETS)',
      EBUSY: 'another AF_XDP socket or XDP program holds the queue or the interface',
      EINVAL: `does ${options.dev} have queue${options.queues.length > 1 ? 's' : ''} ${options.queues.join(',')}?`,
    };
    // the library's own hint, when it gave one, comes first; ours only where it gave none
    const explained = error.message !== `${error.call}: ${error.errnoName}`;
    const hint =
      options.mode === 'zc' && error.errnoName === 'EOPNOTSUPP' ? 'try --mode copy' : explained ? undefined : hints[error.errnoName];
    const code = error.code === 'UNSUPPORTED' ? 'UNSUPPORTED' : 'INVALID_INPUT';
    const suffix = hint === undefined ? '' : explained ? `; ${hint}` : ` (${hint})`;
    return new CliError(code, `${where}: AF_XDP refused: ${firstLine(error)}${suffix}`, { cause: error });
  }
  return new CliError(error.code === 'UNSUPPORTED' ? 'UNSUPPORTED' : 'INVALID_INPUT', `${where}: ${firstLine(error)}`, { cause: error });
}

/** Run `step`; collect what it throws (cleanup goes on regardless; the first error is rethrown at the end). */
async function settle(errors: unknown[], step: () => unknown): Promise<void> {
  try {
    await step();
  } catch (error) {
    errors.push(error);
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The line that says the program runs: what, where, how, and how to stop it. */
function attachedLine(loaded: LoadedProgram, ifindex: number, queues: LiveReport['queues'], options: LiveOptions): string {
  const list = queues.map((q) => q.queue).join(',');
  const mode = queues.every((q) => q.zeroCopy) ? 'zero-copy' : 'copy';
  const limit = options.seconds === undefined ? '' : ` for ${options.seconds} s`;
  return `attached ${loaded.name} (section ${loaded.section}) to ${options.dev} (ifindex ${ifindex}): queue${queues.length > 1 ? 's' : ''} ${list}, ${mode} mode, kernel redirect ${queues[0]?.redirect ?? 'none'}; every ${options.interval} s${limit}, Ctrl-C to stop`;
}

/**
 * The device loop: native runs of up to {@link RUN_PACKETS} packets, a kick after each, a
 * short wait when nothing arrived, the stack queues released after each run, a statistics
 * block every interval, and a turn of the event loop each time round so that signals are served —
 * until `stopped()` says why, or the `--seconds` deadline passes.
 */
async function pollUntilStopped(
  device: I40eDevice,
  options: LiveOptions,
  stopped: () => StopReason | null,
): Promise<{ first: Sample; end: Sample; intervals: Interval[]; stoppedBy: StopReason }> {
  const start = performance.now();
  const intervalMs = options.interval * 1000;
  const deadline = options.seconds === undefined ? Number.POSITIVE_INFINITY : start + options.seconds * 1000;
  const first = sample(device, 0);
  const intervals: Interval[] = [];
  let last = first;
  let nextAt = start + intervalMs;
  let stoppedBy = stopped();
  while (stoppedBy === null) {
    const processed = Number(device.run(RUN_PACKETS));
    // PASS frames go to the kernel stack in a real driver; here nobody reads them, so the
    // stack queues are released after every run (never per interval: they would fill)
    if (processed > 0) for (const ring of device.rings) ring.discardStack();
    device.kick();
    let now = performance.now();
    if (processed === 0) {
      device.waitForPackets(Math.max(0, Math.min(WAIT_MS, Math.ceil(Math.min(nextAt, deadline) - now))));
      now = performance.now();
    }
    if (now >= nextAt) {
      const cur = sample(device, Math.round(now - start));
      const iv = interval(last, cur);
      intervals.push(iv);
      options.log(formatInterval(iv));
      last = cur;
      nextAt += intervalMs;
      if (nextAt <= now) nextAt = now + intervalMs;
    }
    if (now >= deadline) stoppedBy = 'seconds';
    else {
      await yieldToEventLoop();
      stoppedBy = stopped();
    }
  }
  return { first, end: sample(device, Math.round(performance.now() - start)), intervals, stoppedBy };
}

/**
 * Attach the program to `options.dev` and run it until SIGINT, SIGTERM or `seconds`,
 * logging a statistics block every `interval` seconds; then detach it, free everything
 * and return the report (the caller prints the totals with {@link formatLiveTotals}).
 * SIGINT and SIGTERM are caught once each (`process.once`): a second Ctrl-C kills.
 * @throws CliError UNSUPPORTED off x86-64 Linux or when the kernel refuses AF_XDP or
 *   bpf() (the reason named); INVALID_INPUT for an unknown interface, a program that
 *   does not load, queues the interface does not have. Nothing stays attached or allocated.
 */
export async function runLive(options: LiveOptions): Promise<LiveReport> {
  if (!nativeSupported())
    throw new CliError(
      'UNSUPPORTED',
      `--dev needs x86-64 Linux (the native arena and AF_XDP sockets); this is ${process.platform}/${process.arch}`,
    );
  let stop: StopReason | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    stop ??= signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const errors: unknown[] = [];
  let arena: NativeArena | undefined;
  let loaded: LoadedProgram | undefined;
  let device: I40eDevice | undefined;
  let netdev: Netdev | undefined;
  let report: LiveReport | undefined;
  try {
    const ifindex = interfaceIndex(options.dev);
    try {
      arena = new NativeArena({ textSize: 4 << 20, dataSize: liveDataSize(options.queues.length) });
    } catch (error) {
      if (!BpfDispatcherError.isInstance(error)) throw error;
      throw new CliError('UNSUPPORTED', `--dev: cannot map the native arena: ${firstLine(error)}`, { cause: error });
    }
    loaded = loadProgram(arena, options.prog, options.section);
    try {
      device = new I40eDevice(arena, {
        mode: 'xsk',
        xsk: {
          interfaces: [{ ifindex, name: options.dev, queues: options.queues }],
          bind: options.mode,
          ringSize: LIVE_RING_SIZE,
          frameSize: LIVE_FRAME_SIZE,
        },
      });
    } catch (error) {
      throw deviceError(error, options);
    }
    netdev = device.netdevs[0] as Netdev;
    await i40eXdpSetup(netdev, loaded.prog);
    const queues = device.xskQueues().map((q) => ({ queue: q.queue, zeroCopy: q.zeroCopy, redirect: q.redirect }));
    options.log(attachedLine(loaded, ifindex, queues, options));

    const polled = await pollUntilStopped(device, options, () => stop);
    report = {
      mode: 'dev',
      date: new Date().toISOString(),
      interface: { name: options.dev, ifindex },
      program: { file: options.prog, name: loaded.name, section: loaded.section },
      bind: options.mode,
      queues,
      intervalSeconds: options.interval,
      maxSeconds: options.seconds ?? null,
      stoppedBy: polled.stoppedBy,
      totals: runTotals(polled.first, polled.end),
      intervals: polled.intervals,
    };
  } catch (error) {
    errors.push(error);
  } finally {
    const attachedTo = netdev;
    if (attachedTo !== undefined && attachedTo.xdpProg !== null) await settle(errors, () => i40eXdpSetup(attachedTo, null));
    if (device !== undefined) {
      const d = device;
      await settle(errors, () => d.dispose());
    }
    if (loaded !== undefined) {
      const l = loaded;
      await settle(errors, () => l.dispose());
    }
    if (arena !== undefined && !arena.disposed) {
      const a = arena;
      await settle(errors, () => a.dispose());
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (errors.length > 0) throw errors[0];
  return report as LiveReport;
}

/** The totals of a live run as text (see `formatTotals`). */
export function formatLiveTotals(report: LiveReport): string {
  return formatTotals(report.totals, { stoppedBy: report.stoppedBy, program: report.program.name, iface: report.interface.name });
}
