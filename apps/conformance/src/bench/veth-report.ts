/**
 * The veth benchmark's results: per case the rate over rounds (median, min–max), the
 * ratio to `kernel-native` measured round by round, the drops; then where the time goes —
 * the generator's CPU (its CPU time per frame, split into system-call and softirq time by
 * the scheduler's ticks), by difference between cases: the generator itself
 * (`generator-only`), veth and xsk0's NAPI (`veth-xdp-drop` over it), xdp_rxq_info in the
 * kernel (`kernel-native` over `veth-xdp-drop`), the kernel redirect into the socket (our
 * cases over `veth-xdp-drop`); our loop (busy time per packet while streaming, the loop
 * alone draining bursts, how many of its calls found nothing) — and the stage that bounds
 * the rate. Plain text, Markdown, and the JSON document.
 */
import { addTicks, type CpuTicks } from './veth-cpu.js';
import type { ThreadTime, VethCaseName, VethConfig, VethRun, VethSample } from './veth-run.js';

/** A value over rounds. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** One case's summary. */
export interface VethCaseResult {
  readonly case: VethCaseName;
  /** `breakdown`: a kernel case measured only to split the time. */
  readonly kind: 'kernel' | 'ours' | 'breakdown';
  readonly description: string;
  /** Dispatcher entries (null: no dispatcher, or a kernel case). */
  readonly entries: number | null;
  readonly runs: number;
  /** Frames sent per round. */
  readonly per_run: number;
  readonly mpps_median: number;
  readonly mpps_min: number;
  readonly mpps_max: number;
  readonly ns_per_packet_median: number;
  /** This case's rate over kernel-native's, round by round. */
  readonly vs_kernel_native: Spread | null;
  /** Frames the kernel dropped, percent of those sent. */
  readonly drops_pct: Spread;
  /** The generator thread's wall time per frame sent (its CPU does the generator and xsk0's softirq). */
  readonly generator_ns_per_frame: Spread;
  /**
   * CPU time per frame of the generator thread (schedstat: running, the softirqs it served
   * included) plus its CPU's `ksoftirqd` (the NAPI work deferred to it); time other tasks
   * took is not in it.
   */
  readonly generator_cpu_ns_per_frame: Spread;
  /** The part of it `ksoftirqd` ran, percent. */
  readonly ksoftirqd_pct: Spread;
  /** Share of the generator thread's time spent runnable but waiting for its CPU (other tasks on it), percent. */
  readonly generator_wait_pct: Spread;
  /** The generator CPU's ticks summed over rounds: system call and softirq as shares of its kernel ticks; other tasks' (user, irq) and idle as shares of all. */
  readonly generator_cpu: {
    readonly system: number;
    readonly softirq: number;
    readonly other: number;
    readonly idle: number;
    readonly ticks: number;
  };
  /** Our cases: the poll loop. */
  readonly loop: {
    readonly busy_ns_per_packet: Spread;
    readonly busy_fraction: Spread;
    /** Calls that found the ring empty, percent. */
    readonly idle_calls_pct: Spread;
    /** Packets per call that found some. */
    readonly packets_per_busy_call: Spread;
    /** The loop thread's CPU time per packet (schedstat; it spins, so this includes its idle polling). */
    readonly thread_cpu_ns_per_packet: Spread;
    /** Share of the loop thread's time spent runnable but waiting for its CPU, percent. */
    readonly thread_wait_pct: Spread;
    /** The loop alone, draining bursts of `drain_frames` from the kernel's ring: ns per packet over every complete burst. */
    readonly drain_ns_per_packet: Spread | null;
    readonly drain_bursts: number;
    readonly drain_incomplete: number;
    /** UMEM frames lost over every round (see `VethSample.lost_umem_frames`). */
    readonly lost_umem_frames: number;
  } | null;
  readonly samples: readonly VethSample[];
}

/** Where the time goes, ns per frame (medians over rounds). CPU time, not wall time: what other tasks on a shared machine took is left out. */
export interface VethBreakdown {
  /** The generator itself (`generator-only`): BPF_PROG_TEST_RUN building live frames and running its program. */
  readonly generator_ns: number;
  /** veth's transmit to xsk0, xsk0's NAPI and an XDP_DROP there: `veth-xdp-drop` − `generator-only`. */
  readonly veth_ns: number;
  /** Generator + veth + XDP_DROP (`veth-xdp-drop`): the floor of every case. */
  readonly floor_ns: number;
  /** ... split by the CPU's ticks: the system call (test-run, XDP_TX, veth xmit) and softirq (xsk0's NAPI and its XDP). */
  readonly floor_split: { readonly syscall_ns: number; readonly softirq_ns: number };
  /** Generator + veth + xdp_rxq_info natively. */
  readonly kernel_native_ns: number;
  /** xdp_rxq_info's own cost in the kernel: kernel-native − veth-xdp-drop. */
  readonly kernel_program_ns: number;
  /** Per our case: the generator thread's CPU per frame, split; the kernel redirect (over veth-xdp-drop); our loop. */
  readonly ours: readonly {
    readonly case: VethCaseName;
    readonly generator_ns: number;
    readonly syscall_ns: number;
    readonly softirq_ns: number;
    /** generator_ns − floor_ns: the redirect program (bpf_redirect_map), the copy into the UMEM, the rx ring. */
    readonly redirect_ns: number;
    /** Our loop alone, draining bursts (null without drains). */
    readonly loop_alone_ns: number | null;
    /** Our loop while streaming: time in calls that processed packets, per packet. */
    readonly loop_busy_ns: number;
    readonly loop_busy_fraction: number;
  }[];
}

/** The stage that bounds our cases' rate. */
export interface VethBottleneck {
  readonly stage: 'generator CPU (generator + kernel redirect)' | 'our loop';
  /** 1000 / the generator thread's CPU ns per frame in our cases (median over them). */
  readonly kernel_side_mpps: number;
  /** 1000 / our loop's ns per packet draining alone (median over our cases; busy time while streaming without drains). */
  readonly loop_mpps: number;
  /** Our cases' measured rate (median over them). */
  readonly measured_mpps: number;
  readonly text: string;
}

/** One round across cases: how far apart the CPUs were, and what the cases did. */
export interface VethRound {
  readonly round: number;
  /** A cache line's round trip between the two CPUs, ns (JSON: null where not measured). */
  readonly cross_cpu_round_trip_ns: number;
  readonly kernel_native_mpps: number;
  /** Median over our cases. */
  readonly ours_mpps: number;
  /** Median over our cases: the generator thread's CPU per frame. */
  readonly ours_generator_cpu_ns: number;
  /** Median over our cases of their drains' medians. */
  readonly loop_alone_ns: number;
}

/** The JSON document. */
export interface VethReport {
  readonly benchmark: 'bench-veth';
  readonly date: string;
  readonly quick: boolean;
  readonly machine: Record<string, unknown>;
  readonly pinned: { readonly loop_cpu: number | null; readonly generator_cpu: number | null };
  readonly config: VethConfig;
  readonly testbed: string;
  readonly cases: readonly VethCaseResult[];
  readonly rounds: readonly VethRound[];
  readonly breakdown: VethBreakdown;
  readonly bottleneck: VethBottleneck;
}

const DESCRIPTION: Readonly<Record<VethCaseName, string>> = Object.freeze({
  'kernel-native': "the kernel's own XDP: xdp_rxq_info.bpf.o attached to xsk0 in driver mode",
  'dispatcher-1': 'our loop, xdp_rxq_info alone in the dispatcher',
  'dispatcher-16': 'our loop, xdp_rxq_info and 15 others in the dispatcher',
  full: 'our loop, dispatcher full (16 others): the call falls back through the retpoline',
  'no-dispatcher': 'our loop, no dispatcher: every call indirect through the retpoline',
  'veth-xdp-drop': 'breakdown: the generator into xsk0, XDP_DROP there (generator + veth + the least XDP)',
  'generator-only': 'breakdown: the generator alone (its program drops every frame on peer0; nothing reaches xsk0)',
});

const ENTRIES: Readonly<Record<VethCaseName, number | null>> = Object.freeze({
  'kernel-native': null,
  'dispatcher-1': 1,
  'dispatcher-16': 16,
  full: 16,
  'no-dispatcher': null,
  'veth-xdp-drop': null,
  'generator-only': null,
});

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Median, min and max. */
export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: xs.length === 0 ? Number.NaN : Math.min(...xs), max: xs.length === 0 ? Number.NaN : Math.max(...xs) };
}

const waitPct = (t: ThreadTime) => (t.run_ns + t.wait_ns === 0 ? 0 : (t.wait_ns / (t.run_ns + t.wait_ns)) * 100);

const dropsOf = (s: VethSample) => s.drops.veth + s.drops.xsk_no_fill_frame + s.drops.xsk_rx_ring_full;

/**
 * The generator CPU's ticks as shares: `system` and `softirq` of the kernel ticks (the
 * generator thread runs only in the kernel; user ticks there are other tasks'), `other`
 * (user, irq) and `idle` of all ticks.
 */
function cpuShares(ticks: CpuTicks): VethCaseResult['generator_cpu'] {
  const kernel = ticks.system + ticks.softirq;
  const all = kernel + ticks.user + ticks.irq + ticks.idle + ticks.steal;
  const share = (v: number, of: number) => (of === 0 ? 0 : v / of);
  return {
    system: share(ticks.system, kernel),
    softirq: share(ticks.softirq, kernel),
    other: share(ticks.user + ticks.irq, all),
    idle: share(ticks.idle, all),
    ticks: all,
  };
}

function caseResult(name: VethCaseName, samples: readonly VethSample[], kernel: readonly VethSample[] | undefined): VethCaseResult {
  const ours = samples.some((s) => s.loop !== undefined);
  const breakdownCase = name === 'veth-xdp-drop' || name === 'generator-only';
  const ratios =
    kernel === undefined || !ours
      ? null
      : samples.flatMap((s) => {
          const k = kernel.find((x) => x.round === s.round);
          return k === undefined || k.mpps === 0 ? [] : [s.mpps / k.mpps];
        });
  const loops = samples.flatMap((s) => (s.loop === undefined ? [] : [{ s, l: s.loop }]));
  const drains = samples.flatMap((s) => s.drain?.ns_per_packet ?? []);
  return {
    case: name,
    kind: ours ? 'ours' : breakdownCase ? 'breakdown' : 'kernel',
    description: DESCRIPTION[name],
    entries: ENTRIES[name],
    runs: samples.length,
    per_run: samples[0]?.sent ?? 0,
    mpps_median: median(samples.map((s) => s.mpps)),
    mpps_min: Math.min(...samples.map((s) => s.mpps)),
    mpps_max: Math.max(...samples.map((s) => s.mpps)),
    ns_per_packet_median: median(samples.map((s) => (s.mpps > 0 ? 1e3 / s.mpps : Number.POSITIVE_INFINITY))),
    vs_kernel_native: ratios === null || ratios.length === 0 ? null : spread(ratios),
    drops_pct: spread(samples.map((s) => (s.sent === 0 ? 0 : (dropsOf(s) / s.sent) * 100))),
    generator_ns_per_frame: spread(samples.map((s) => s.generator_ns / Math.max(1, s.sent))),
    generator_cpu_ns_per_frame: spread(samples.map((s) => (s.generator_thread.run_ns + s.ksoftirqd_ns) / Math.max(1, s.sent))),
    ksoftirqd_pct: spread(samples.map((s) => (s.ksoftirqd_ns / Math.max(1, s.generator_thread.run_ns + s.ksoftirqd_ns)) * 100)),
    generator_wait_pct: spread(samples.map((s) => waitPct(s.generator_thread))),
    generator_cpu: cpuShares(addTicks(samples.map((s) => s.cpu.generator))),
    loop: !ours
      ? null
      : {
          busy_ns_per_packet: spread(loops.map(({ l }) => l.busy_ns_per_packet)),
          busy_fraction: spread(loops.map(({ l }) => l.busy_fraction)),
          idle_calls_pct: spread(loops.map(({ l }) => (l.calls === 0 ? 0 : (l.idle_calls / l.calls) * 100))),
          packets_per_busy_call: spread(loops.map(({ s, l }) => s.processed / Math.max(1, l.calls - l.idle_calls))),
          thread_cpu_ns_per_packet: spread(loops.map(({ s, l }) => l.thread.run_ns / Math.max(1, s.processed))),
          thread_wait_pct: spread(loops.map(({ l }) => waitPct(l.thread))),
          drain_ns_per_packet: drains.length === 0 ? null : spread(drains),
          drain_bursts: drains.length,
          drain_incomplete: samples.reduce((n, s) => n + (s.drain?.incomplete ?? 0), 0),
          lost_umem_frames: samples.reduce((n, s) => n + (s.lost_umem_frames ?? 0), 0),
        },
    samples,
  };
}

/** Summarise a run into the JSON document. */
export function vethReport(run: VethRun, info: { quick: boolean; machine: Record<string, unknown> }): VethReport {
  const kernel = run.samples.get('kernel-native');
  const cases = [...run.samples.entries()].map(([name, samples]) => caseResult(name, samples, kernel));
  const get = (name: VethCaseName) => cases.find((c) => c.case === name);
  const cpuNs = (c: VethCaseResult | undefined) => c?.generator_cpu_ns_per_frame.median ?? Number.NaN;
  const floor = get('veth-xdp-drop');
  const floorNs = cpuNs(floor);
  const generatorNs = cpuNs(get('generator-only'));
  const ours = cases.filter((c) => c.kind === 'ours');
  const breakdown: VethBreakdown = {
    generator_ns: generatorNs,
    veth_ns: floorNs - generatorNs,
    floor_ns: floorNs,
    floor_split: {
      syscall_ns: floorNs * (floor?.generator_cpu.system ?? Number.NaN),
      softirq_ns: floorNs * (floor?.generator_cpu.softirq ?? Number.NaN),
    },
    kernel_native_ns: cpuNs(get('kernel-native')),
    kernel_program_ns: cpuNs(get('kernel-native')) - floorNs,
    ours: ours.map((c) => ({
      case: c.case,
      generator_ns: cpuNs(c),
      syscall_ns: cpuNs(c) * c.generator_cpu.system,
      softirq_ns: cpuNs(c) * c.generator_cpu.softirq,
      redirect_ns: cpuNs(c) - floorNs,
      loop_alone_ns: c.loop?.drain_ns_per_packet?.median ?? null,
      loop_busy_ns: c.loop?.busy_ns_per_packet.median ?? Number.NaN,
      loop_busy_fraction: c.loop?.busy_fraction.median ?? Number.NaN,
    })),
  };
  const kernelNs = median(breakdown.ours.map((o) => o.generator_ns));
  const loopNs = median(breakdown.ours.map((o) => o.loop_alone_ns ?? o.loop_busy_ns));
  const redirectNs = median(breakdown.ours.map((o) => o.redirect_ns));
  const busy = median(breakdown.ours.map((o) => o.loop_busy_fraction));
  const measured = median(ours.map((c) => c.mpps_median));
  const stage = kernelNs >= loopNs ? 'generator CPU (generator + kernel redirect)' : 'our loop';
  const bottleneck: VethBottleneck = {
    stage,
    kernel_side_mpps: 1e3 / kernelNs,
    loop_mpps: 1e3 / loopNs,
    measured_mpps: measured,
    text:
      stage === 'our loop'
        ? `our loop: it needs ${f1(loopNs)} ns per packet (${f1(1e3 / loopNs)} Mpps) while the generator's CPU turns out a frame every ${f1(kernelNs)} ns of CPU (${f1(1e3 / kernelNs)} Mpps); measured ${f1(measured)} Mpps`
        : `the generator's CPU: the generator and the kernel's redirect into the socket take ${f1(kernelNs)} ns of CPU per frame (${f1(1e3 / kernelNs)} Mpps), ${f1(redirectNs)} ns of it the redirect (over veth-xdp-drop's ${f1(floorNs)} ns); our loop needs ${f1(loopNs)} ns per packet alone (${f1(1e3 / loopNs)} Mpps) and was busy ${pct0(busy)} of the time; measured ${f1(measured)} Mpps`,
  };
  return {
    benchmark: 'bench-veth',
    date: new Date().toISOString(),
    quick: info.quick,
    machine: info.machine,
    pinned: { loop_cpu: run.cpus.loop, generator_cpu: run.cpus.generator },
    config: run.config,
    testbed:
      "private netns, veth xsk0/peer0 (1 queue); generator: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES of XDP_TX on peer0 (xsk0's NAPI runs in its softirq, on its CPU); our cases: AF_XDP copy mode on xsk0 queue 0, the kernel's XSKMAP redirect in driver mode, our JIT'd poll loop on the other CPU",
    cases,
    rounds: byRound(run, cases),
    breakdown,
    bottleneck,
  };
}

function byRound(run: VethRun, cases: readonly VethCaseResult[]): VethRound[] {
  const ours = cases.filter((c) => c.kind === 'ours');
  return run.rounds.map(({ round, cross_cpu_round_trip_ns }) => {
    const inRound = (c: VethCaseResult) => c.samples.find((s) => s.round === round);
    const oursIn = ours.flatMap((c) => {
      const s = inRound(c);
      return s === undefined ? [] : [s];
    });
    const native = cases.find((c) => c.case === 'kernel-native');
    const nativeSample = native === undefined ? undefined : inRound(native);
    return {
      round,
      cross_cpu_round_trip_ns,
      kernel_native_mpps: nativeSample?.mpps ?? Number.NaN,
      ours_mpps: median(oursIn.map((s) => s.mpps)),
      ours_generator_cpu_ns: median(oursIn.map((s) => (s.generator_thread.run_ns + s.ksoftirqd_ns) / Math.max(1, s.sent))),
      loop_alone_ns: median(
        oursIn.flatMap((s) => (s.drain === undefined || s.drain.ns_per_packet.length === 0 ? [] : [median(s.drain.ns_per_packet)])),
      ),
    };
  });
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
/** Signed, one decimal: `+3.4`, `-1.2`. */
const sf1 = (v: number) => (Number.isFinite(v) && v >= 0 ? `+${f1(v)}` : f1(v));
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const pct0 = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : '–');
const ratio = (s: Spread | null) => (s === null ? '' : `${f2(s.median)}x (${f2(s.min)}–${f2(s.max)})`);

function header(r: VethReport): string {
  const c = r.config;
  return `veth ${c.frameLength}-byte UDP, the kernel's live-frame generator on CPU ${r.pinned.generator_cpu ?? '?'}, our loop on CPU ${r.pinned.loop_cpu ?? '?'}; median of ${c.rounds} rounds of ${(c.calls * c.repeat).toLocaleString('en-US')} frames per case, cases interleaved (order rotated each round); ring ${c.ringSize}`;
}

/** A note on other tasks sharing the CPUs (empty when the threads waited less than 5% of their time). */
function contention(r: VethReport): string {
  const ours = r.cases.filter((c) => c.loop !== null);
  const loopWait = median(ours.map((c) => c.loop?.thread_wait_pct.median ?? 0));
  const generatorWait = median(r.cases.map((c) => c.generator_wait_pct.median));
  if (loopWait < 5 && generatorWait < 5) return '';
  return `other tasks shared the CPUs: our loop thread waited ${f1(loopWait)}% of its time for its CPU, the generator thread ${f1(generatorWait)}% (medians); a loop kept off its CPU for longer than the ring lasts (${r.config.ringSize} frames) makes the kernel drop, and the rates here count only what was processed`;
}

/** Notes: contention, lost UMEM frames. */
function notes(r: VethReport): string[] {
  return [contention(r), lostFrames(r)].filter((n) => n !== '');
}

/** A note on UMEM frames our loop lost (empty when none). */
function lostFrames(r: VethReport): string {
  const lost = r.cases.flatMap((c) => (c.loop === null || c.loop.lost_umem_frames === 0 ? [] : [`${c.case} ${c.loop.lost_umem_frames}`]));
  if (lost.length === 0) return '';
  return `UMEM frames the loop could not give back (its fill ring looked full: the kernel publishes its consumer index lazily and the fill ring has exactly as many entries as the UMEM has frames), over all rounds: ${lost.join(', ')}`;
}

/** The rows of the generator table: case, wall ns, CPU ns, system call, softirq, ksoftirqd %, wait %, over veth-xdp-drop. */
function generatorRows(r: VethReport): string[][] {
  return r.cases.map((c) => {
    const cpu = c.generator_cpu_ns_per_frame.median;
    return [
      c.case,
      f1(c.generator_ns_per_frame.median),
      f1(cpu),
      f1(cpu * c.generator_cpu.system),
      f1(cpu * c.generator_cpu.softirq),
      `${f1(c.ksoftirqd_pct.median)}%`,
      `${f1(c.generator_wait_pct.median)}%`,
      c.case === 'veth-xdp-drop' || c.case === 'generator-only' ? '' : sf1(cpu - r.breakdown.floor_ns),
    ];
  });
}

/** The rows of the loop table: case, alone ns, streaming busy ns, busy, idle calls, packets per call, CPU ns, wait %. */
function loopRows(r: VethReport): string[][] {
  return r.cases.flatMap((c) => {
    const l = c.loop;
    if (l === null) return [];
    return [
      [
        c.case,
        l.drain_ns_per_packet === null
          ? ''
          : `${f1(l.drain_ns_per_packet.median)} (${f1(l.drain_ns_per_packet.min)}–${f1(l.drain_ns_per_packet.max)})`,
        f1(l.busy_ns_per_packet.median),
        pct0(l.busy_fraction.median),
        `${f1(l.idle_calls_pct.median)}%`,
        f1(l.packets_per_busy_call.median),
        f1(l.thread_cpu_ns_per_packet.median),
        `${f1(l.thread_wait_pct.median)}%`,
      ],
    ];
  });
}

const GENERATOR_HEAD = ['case', 'wall ns', 'CPU ns', 'system call', 'softirq', 'in ksoftirqd', 'waiting', 'CPU over veth-xdp-drop'];
const LOOP_HEAD = [
  'case',
  'alone ns/pkt (min–max)',
  'streaming busy ns/pkt',
  'busy',
  'idle calls',
  'pkts/busy call',
  'CPU ns/pkt',
  'waiting',
];

function table(head: readonly string[], rows: readonly (readonly string[])[], indent: string): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), ...rows.map(line)];
}

const ROUND_NOTE =
  "the VM's speed and the distance between its two vCPUs move under the benchmark, so the ratio is taken within each round; the cross-CPU round trip is a cache line's, timed before the round";

const ROUND_HEAD = [
  'round',
  'cross-CPU round trip ns',
  'kernel-native Mpps',
  'ours Mpps',
  'ours generator CPU ns/frame',
  'loop alone ns/pkt',
];

function roundRows(r: VethReport): string[][] {
  return r.rounds.map((x) => [
    String(x.round + 1),
    f1(x.cross_cpu_round_trip_ns),
    f1(x.kernel_native_mpps),
    f1(x.ours_mpps),
    f1(x.ours_generator_cpu_ns),
    f1(x.loop_alone_ns),
  ]);
}

const LEGEND =
  '"CPU ns": the generator thread and its CPU\'s ksoftirqd running, per frame (schedstat); "waiting": runnable while another task had the CPU, percent of the thread\'s time; "alone": our loop draining bursts the kernel had put on the ring, nothing else running';

function summaryLine(r: VethReport): string {
  const b = r.breakdown;
  return `CPU per frame, by difference: the generator ${f1(b.generator_ns)} ns (generator-only); veth to xsk0, its NAPI and XDP_DROP ${sf1(b.veth_ns)} ns (veth-xdp-drop ${f1(b.floor_ns)}: system call ${f1(b.floor_split.syscall_ns)}, softirq ${f1(b.floor_split.softirq_ns)}); xdp_rxq_info natively ${sf1(b.kernel_program_ns)} ns; the kernel's redirect into the socket ${sf1(median(b.ours.map((o) => o.redirect_ns)))} ns (median of our cases)`;
}

/** The plain-text report. */
export function formatVethText(r: VethReport): string {
  const lines = [header(r)];
  const rows = r.cases.map((c) => [
    c.case,
    f1(c.mpps_median),
    `${f1(c.mpps_min)}–${f1(c.mpps_max)}`,
    f1(c.ns_per_packet_median),
    ratio(c.vs_kernel_native),
    f2(c.drops_pct.median),
  ]);
  lines.push(...table(['case', 'Mpps', 'min–max', 'ns/pkt', 'vs kernel-native (min–max)', 'drops %'], rows, ''));
  lines.push('');
  lines.push(
    "where the time goes, per frame (medians over rounds; CPU time from schedstat, split by the CPU's scheduler ticks summed over rounds)",
  );
  lines.push(`  the generator's CPU ${r.pinned.generator_cpu ?? '?'} (generator thread, xsk0's NAPI in its softirq):`);
  lines.push(...table(GENERATOR_HEAD, generatorRows(r), '    '));
  lines.push(`  our loop, CPU ${r.pinned.loop_cpu ?? '?'}:`);
  lines.push(...table(LOOP_HEAD, loopRows(r), '    '));
  lines.push(`  ${summaryLine(r)}`);
  lines.push(`  ${LEGEND}`);
  lines.push(`by round (${ROUND_NOTE}):`);
  lines.push(...table(ROUND_HEAD, roundRows(r), '    '));
  lines.push(`bottleneck: ${r.bottleneck.text}`);
  for (const note of notes(r)) lines.push(`note: ${note}`);
  return lines.join('\n');
}

const mdTable = (head: readonly string[], rows: readonly (readonly string[])[]) => [
  `| ${head.join(' | ')} |`,
  `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];

/** The Markdown report. */
export function formatVethMarkdown(r: VethReport, machineText: string): string {
  const rows = r.cases.map((c) => [
    c.case,
    f1(c.mpps_median),
    `${f1(c.mpps_min)}–${f1(c.mpps_max)}`,
    f1(c.ns_per_packet_median),
    ratio(c.vs_kernel_native),
    f2(c.drops_pct.median),
  ]);
  return [
    `Measured on ${machineText}. ${header(r)}.`,
    '',
    ...mdTable(['case', 'Mpps', 'min–max', 'ns/packet', 'vs kernel-native (min–max)', 'drops %'], rows),
    '',
    "The generator's CPU (generator thread, xsk0's NAPI in its softirq), ns per frame; CPU time from schedstat, split by the CPU's scheduler ticks:",
    '',
    ...mdTable(GENERATOR_HEAD, generatorRows(r)),
    '',
    'Our loop (the other CPU):',
    '',
    ...mdTable(LOOP_HEAD, loopRows(r)),
    '',
    `${summaryLine(r)}. ${LEGEND}.`,
    '',
    `By round (${ROUND_NOTE}):`,
    '',
    ...mdTable(ROUND_HEAD, roundRows(r)),
    '',
    `Bottleneck: ${r.bottleneck.text}.`,
    '',
    ...notes(r).flatMap((note) => [`Note: ${note}.`, '']),
  ].join('\n');
}
