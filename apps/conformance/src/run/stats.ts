/**
 * The statistics of `bpf-dispatcher run --dev`, as pure functions over counter samples:
 * what changed between two samples (rates per second, as xdp-bench prints them every
 * interval), the totals of a whole run, and their text. The device loop (`live.ts`) takes
 * the samples; nothing here touches a device.
 */
import { XDP_ACTION_NAMES } from '@bpf-dispatcher/xdp-call';

/** An XDP verdict by name: ABORTED, DROP, PASS, TX, REDIRECT. */
export type Verdict = (typeof XDP_ACTION_NAMES)[number];

/** The verdicts in the kernel's order (`enum xdp_action`). */
export const VERDICTS: readonly Verdict[] = XDP_ACTION_NAMES;

/** A count per verdict. */
export type VerdictCounts = Readonly<Record<Verdict, number>>;

/**
 * The kernel's counters of the AF_XDP sockets (`XDP_STATISTICS`), summed over the queues.
 * `rxDropped` and `rxRingFull` are packets the kernel dropped before the poll loop saw them;
 * the others count bad descriptors and empty rings.
 */
export interface KernelCounters {
  readonly rxDropped: number;
  readonly rxRingFull: number;
  readonly rxInvalidDescs: number;
  readonly txInvalidDescs: number;
  readonly rxFillRingEmptyDescs: number;
  readonly txRingEmptyDescs: number;
}

/** One rx queue's counters. */
export interface QueueCounters {
  readonly queue: number;
  readonly packets: number;
  readonly verdicts: VerdictCounts;
}

/** The device's counters at one moment (cumulative since the device was made). */
export interface Sample {
  /** Milliseconds since the program was attached. */
  readonly ms: number;
  /** Packets the program ran on, and their bytes. */
  readonly packets: number;
  readonly bytes: number;
  readonly verdicts: VerdictCounts;
  /** Return values that are no XDP verdict (the driver treats them as ABORTED). */
  readonly invalidVerdicts: number;
  readonly queues: readonly QueueCounters[];
  readonly kernel: KernelCounters;
  /** TX verdicts put on the tx ring, and those the full tx ring refused. */
  readonly txPackets: number;
  readonly txDropped: number;
  /** Transmissions the kernel completed. */
  readonly completions: number;
  /** PASS frames copied to the stack queue, and those that found it full. */
  readonly stackEnqueued: number;
  readonly stackDropped: number;
  /** Packets that met no program. */
  readonly noProg: number;
}

/** A rate and the running total it belongs to. */
export interface Rate {
  /** Per second over the interval. */
  readonly pps: number;
  /** Since the program was attached. */
  readonly total: number;
}

/** What happened between two samples. */
export interface Interval {
  /** When the interval ended, in seconds since the program was attached. */
  readonly atSeconds: number;
  /** Its length in seconds. */
  readonly seconds: number;
  /** Packets received (the program ran on). */
  readonly rx: Rate;
  readonly verdicts: Readonly<Record<Verdict, Rate>>;
  readonly invalidVerdicts: Rate;
  readonly queues: readonly (Rate & { readonly queue: number })[];
  /** Packets the kernel dropped (`rxDropped + rxRingFull`). */
  readonly kernelDrops: Rate;
  /** The kernel's counters at the end of the interval. */
  readonly kernel: KernelCounters;
}

/** Packets the kernel dropped before the poll loop saw them: no fill-ring frame or a frame too large, and a full rx ring. */
export function kernelDrops(kernel: KernelCounters): number {
  return kernel.rxDropped + kernel.rxRingFull;
}

const KERNEL_KEYS = Object.freeze([
  'rxDropped',
  'rxRingFull',
  'rxInvalidDescs',
  'txInvalidDescs',
  'rxFillRingEmptyDescs',
  'txRingEmptyDescs',
] as const satisfies readonly (keyof KernelCounters)[]);

/** `a - b`, counter by counter. */
function kernelDelta(a: KernelCounters, b: KernelCounters): KernelCounters {
  return Object.fromEntries(KERNEL_KEYS.map((k) => [k, a[k] - b[k]])) as unknown as KernelCounters;
}

const perSecond = (count: number, seconds: number): number => (seconds > 0 ? count / seconds : 0);

function queueOf(sample: Sample, queue: number): QueueCounters | undefined {
  return sample.queues.find((q) => q.queue === queue);
}

/**
 * The rates between `prev` and `cur` (samples of one device, `cur` later), with `cur`'s
 * running totals. A zero-length interval has rates of 0.
 */
export function interval(prev: Sample, cur: Sample): Interval {
  const seconds = Math.max(0, (cur.ms - prev.ms) / 1000);
  const rate = (now: number, before: number): Rate => ({ pps: perSecond(now - before, seconds), total: now });
  return {
    atSeconds: cur.ms / 1000,
    seconds,
    rx: rate(cur.packets, prev.packets),
    verdicts: Object.fromEntries(VERDICTS.map((v) => [v, rate(cur.verdicts[v], prev.verdicts[v])])) as Record<Verdict, Rate>,
    invalidVerdicts: rate(cur.invalidVerdicts, prev.invalidVerdicts),
    queues: cur.queues.map((q) => ({ queue: q.queue, ...rate(q.packets, queueOf(prev, q.queue)?.packets ?? 0) })),
    kernelDrops: rate(kernelDrops(cur.kernel), kernelDrops(prev.kernel)),
    kernel: cur.kernel,
  };
}

/** The totals of a run, between its first and last sample. */
export interface RunTotals {
  readonly seconds: number;
  readonly packets: number;
  readonly bytes: number;
  /** Average packets per second. */
  readonly pps: number;
  readonly verdicts: VerdictCounts;
  readonly invalidVerdicts: number;
  readonly perQueue: readonly (QueueCounters & { readonly pps: number })[];
  /** Packets the kernel dropped (`rxDropped + rxRingFull`). */
  readonly kernelDrops: number;
  readonly kernel: KernelCounters;
  readonly txPackets: number;
  readonly txDropped: number;
  readonly completions: number;
  readonly stackEnqueued: number;
  readonly stackDropped: number;
  readonly noProg: number;
}

/** The totals between `first` (taken when the program was attached) and `last`. */
export function runTotals(first: Sample, last: Sample): RunTotals {
  const seconds = Math.max(0, (last.ms - first.ms) / 1000);
  const packets = last.packets - first.packets;
  const kernel = kernelDelta(last.kernel, first.kernel);
  const verdictDelta = (a: VerdictCounts, b: VerdictCounts | undefined): VerdictCounts =>
    Object.fromEntries(VERDICTS.map((v) => [v, a[v] - (b?.[v] ?? 0)])) as Record<Verdict, number>;
  return {
    seconds,
    packets,
    bytes: last.bytes - first.bytes,
    pps: perSecond(packets, seconds),
    verdicts: verdictDelta(last.verdicts, first.verdicts),
    invalidVerdicts: last.invalidVerdicts - first.invalidVerdicts,
    perQueue: last.queues.map((q) => {
      const before = queueOf(first, q.queue);
      const n = q.packets - (before?.packets ?? 0);
      return { queue: q.queue, packets: n, pps: perSecond(n, seconds), verdicts: verdictDelta(q.verdicts, before?.verdicts) };
    }),
    kernelDrops: kernelDrops(kernel),
    kernel,
    txPackets: last.txPackets - first.txPackets,
    txDropped: last.txDropped - first.txDropped,
    completions: last.completions - first.completions,
    stackEnqueued: last.stackEnqueued - first.stackEnqueued,
    stackDropped: last.stackDropped - first.stackDropped,
    noProg: last.noProg - first.noProg,
  };
}

/** A count with thousands separators (rounded to an integer). */
export const count = (x: number): string => Math.round(x).toLocaleString('en-US');

const LABEL = 24;
const RATE = 13;
const TOTAL = 17;

/** One row: label, rate per second, running total and an optional note. */
function row(label: string, pps: number, total: number, note = ''): string {
  return `  ${label.padEnd(LABEL)}${count(pps).padStart(RATE)} pkt/s${count(total).padStart(TOTAL)}${note === '' ? '' : `  ${note}`}`;
}

/** The kernel's bad-descriptor counters, as xdp-bench names them. */
function kernelNote(k: KernelCounters): string {
  return `rx_dropped ${count(k.rxDropped)}, rx_ring_full ${count(k.rxRingFull)}, rx_invalid_descs ${count(k.rxInvalidDescs)}, tx_invalid_descs ${count(k.txInvalidDescs)}`;
}

/**
 * One interval as xdp-bench prints it: a summary line (time since attach, rx rate, running
 * total), then one row per verdict, per queue and for the kernel's drops, each with its
 * rate and running total. Invalid verdicts get a row only once there are some.
 */
export function formatInterval(iv: Interval): string {
  const head =
    `Summary ${iv.atSeconds.toFixed(1)} s`.padEnd(2 + LABEL) +
    `${count(iv.rx.pps).padStart(RATE)} rx/s ${count(iv.rx.total).padStart(TOTAL)} total`;
  const lines = [head];
  for (const v of VERDICTS) lines.push(row(`XDP_${v}`, iv.verdicts[v].pps, iv.verdicts[v].total));
  if (iv.invalidVerdicts.total > 0) lines.push(row('invalid verdict', iv.invalidVerdicts.pps, iv.invalidVerdicts.total));
  for (const q of iv.queues) lines.push(row(`queue ${q.queue}`, q.pps, q.total));
  lines.push(row('kernel drops', iv.kernelDrops.pps, iv.kernelDrops.total, kernelNote(iv.kernel)));
  return lines.join('\n');
}

/** Why a run stopped: a signal, or the `--seconds` limit. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'seconds';

/** What {@link formatTotals} says besides the counts. */
export interface TotalsContext {
  readonly stoppedBy: StopReason;
  /** The program's name. */
  readonly program: string;
  /** The interface's name. */
  readonly iface: string;
}

/** One totals row: label, count and an optional note. */
function totalRow(label: string, n: number, note = ''): string {
  return `  ${label.padEnd(LABEL)}${count(n).padStart(RATE)}${note === '' ? '' : `  ${note}`}`;
}

/**
 * The totals of a run, as xdp-bench prints them on exit: packets with the average rate,
 * each verdict, each queue, the kernel's drops, what TX and PASS became.
 */
export function formatTotals(t: RunTotals, context: TotalsContext): string {
  const stopped = context.stoppedBy === 'seconds' ? 'the --seconds limit' : context.stoppedBy;
  const lines = [
    `Totals after ${t.seconds.toFixed(1)} s (stopped by ${stopped}); ${context.program} detached from ${context.iface}`,
    totalRow('packets', t.packets, `${count(t.pps)} pkt/s on average, ${count(t.bytes)} bytes`),
  ];
  for (const v of VERDICTS) lines.push(totalRow(`XDP_${v}`, t.verdicts[v]));
  if (t.invalidVerdicts > 0) lines.push(totalRow('invalid verdict', t.invalidVerdicts));
  for (const q of t.perQueue) lines.push(totalRow(`queue ${q.queue}`, q.packets, `${count(q.pps)} pkt/s on average`));
  lines.push(totalRow('kernel drops', t.kernelDrops, kernelNote(t.kernel)));
  lines.push(totalRow('transmitted', t.txPackets, `${count(t.completions)} completed, ${count(t.txDropped)} refused by a full tx ring`));
  lines.push(
    totalRow('to the stack', t.stackEnqueued, `${count(t.stackDropped)} more found the stack queue full (it is released after every run)`),
  );
  return lines.join('\n');
}
