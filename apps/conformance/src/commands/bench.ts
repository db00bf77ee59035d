import { machine } from '@bpf-dispatcher/bench-kit';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { type CallCase, callCase } from '../bench/call-cases.js';
import {
  type PacketCase,
  type PacketCaseKind,
  instructionsPerPacket,
  mixedCase,
  packetCase,
  packetCaseName,
} from '../bench/packet-cases.js';
import { pinToCpu } from '../bench/pin.js';
import { type KernelCase, kernelRxqInfoCase } from '../bench/kernel-case.js';
import { KERNEL_DISPATCHER_SLOTS, kernelDispatcherCases } from '../bench/kernel-dispatcher.js';
import { profileCases } from '../bench/profile-cases.js';
import { measureLoadTimes } from '../bench/load-times.js';
import { benchJson } from '../bench/bench-json.js';
import { renderChart } from '../bench/chart.js';
import {
  type BenchReport,
  type CaseGroup,
  type CaseResult,
  checkExitCode,
  evaluateTargets,
  formatMarkdown,
  formatText,
  missedTargets,
  summarise,
  type TargetResult,
  withBaseline,
} from '../bench/report.js';
import { humanLog, usesStdout, writeOutput } from '../output.js';
import { formatDuration, progressLine } from '../progress.js';

export interface BenchOptions {
  readonly quick?: boolean;
  readonly json?: string;
  readonly markdown?: string;
  readonly svg?: string;
  /** Exit with code 1 when a target is missed (and say which). */
  readonly check?: boolean;
  /** The CLI's version, for the JSON's `tool` (the CLI passes what `--version` prints). */
  readonly toolVersion?: string;
}

/** What is measured: a case runs `n` packets (calls, kernel runs) and returns the wall nanoseconds. */
interface Runnable {
  readonly name: string;
  readonly entries: number | null;
  run(n: number): number;
  /** Kernel cases: the kernel's own duration (ns per repeat) of the last run. */
  lastKernelNs?(): number;
}

interface Timings {
  /** Wall nanoseconds of every run, by case. */
  readonly wall: Map<string, number[]>;
  /** Kernel cases: the kernel's own duration of every run, by case. */
  readonly kernel: Map<string, number[]>;
}

/** Run cases interleaved (round by round), so slow drifts of a shared machine hit all alike. */
function measure(cases: readonly Runnable[], runs: number, perRun: number, progress: (done: number) => void): Timings {
  const wall = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const kernel = new Map<string, number[]>();
  let done = 0;
  for (let round = 0; round < runs; round++) {
    for (const c of cases) {
      wall.get(c.name)?.push(c.run(perRun));
      if (c.lastKernelNs !== undefined) {
        const durations = kernel.get(c.name) ?? [];
        durations.push(c.lastKernelNs());
        kernel.set(c.name, durations);
      }
      progress(++done);
    }
  }
  return { wall, kernel };
}

/** A progress bar with an ETA on a terminal's stderr (nothing otherwise, or with an output on stdout). */
function progressBar(total: number, enabled: boolean): (done: number) => void {
  const line = progressLine(enabled);
  const start = performance.now();
  return (done) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    const elapsed = (performance.now() - start) / 1000;
    const eta = done > 0 ? `, ETA ${formatDuration((elapsed / done) * (total - done))}` : '';
    line.update(`  [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} runs${eta}`);
    if (done === total) line.done();
  };
}

/**
 * The running kernel's cases (group `kernel`) and how to release them, or why they cannot
 * run here (no bpf()): `kernel-dispatcher-N` (the measured program and N-1 others in the
 * kernel's dispatcher) for N = 1..16 and 48, and `kernel-full` (48 others: the call walks
 * the full dispatcher and falls back through the retpoline), in the order to run. Where
 * namespaces cannot be made but bpf() works, `kernel-test-run` alone (one entry).
 */
function kernelCases(): { readonly cases: readonly KernelCase[]; dispose(): void } | { readonly skipped: string } {
  // 1..16 as ours, and 48: the kernel's own slot count, the last that still finds a slot
  const set = kernelDispatcherCases({ entries: [...Array.from({ length: 16 }, (_, i) => i + 1), KERNEL_DISPATCHER_SLOTS] });
  if (!('skipped' in set)) return set;
  // no namespaces here, but perhaps bpf(): the kernel's dispatcher with one entry only
  const one = kernelRxqInfoCase();
  return 'skipped' in one ? { skipped: set.skipped } : { cases: [one], dispose: () => one.dispose() };
}

/** Dispatcher entries of a kernel case, from its name (`kernel-test-run` has 1; `kernel-full`: null, as the table's `full` row). */
function kernelEntries(name: string): number | null {
  if (name === 'kernel-test-run') return 1;
  const m = /^kernel-dispatcher-(\d+)$/.exec(name);
  return m === null ? null : Number(m[1]);
}

/** What a run sets up; released at the end, also when a step fails. */
interface Held {
  readonly packetCases: PacketCase[];
  readonly mixedCases: PacketCase[];
  readonly callCases: CallCase[];
  profileCases: readonly PacketCase[];
  kernel?: { dispose(): void };
}

async function release(held: Held): Promise<void> {
  for (const c of [...held.packetCases, ...held.mixedCases, ...held.callCases, ...held.profileCases]) await c.dispose();
  held.kernel?.dispose();
}

/** The cover letter's performance table, measured natively, with the kernel's beside it. Returns the exit code. */
export async function bench(options: BenchOptions): Promise<number> {
  if (!nativeSupported()) {
    console.error(`bench: the native arena is needed (x86-64 Linux); this is ${process.platform}/${process.arch}`);
    return 2;
  }
  const held: Held = { packetCases: [], mixedCases: [], callCases: [], profileCases: [] };
  try {
    const report = await measureAll(options, held);
    return options.check === true ? checkReport(report.targets, humanLog(options)) : 0;
  } finally {
    await release(held);
  }
}

/** Set up every case (into `held`), measure them interleaved, verify the counters, and write the outputs. */
async function measureAll(options: BenchOptions, held: Held): Promise<BenchReport> {
  const quick = options.quick === true;
  const runs = quick ? 7 : 15;
  const packets = quick ? 10_000_000 : 40_000_000;
  const calls = quick ? 10_000_000 : 40_000_000;
  const log = humanLog(options);
  const cpu = pinToCpu();
  const info = machine();
  log(
    `bpf-dispatcher bench${quick ? ' --quick' : ''}: ${info.cpu}, ${info.cores} cores, node ${info.node}; pinned to CPU ${cpu ?? '(not pinned)'}`,
  );

  log('setting up cases…');
  const specs: PacketCaseKind[] = [{ kind: 'baseline' }, { kind: 'no-retpoline' }];
  for (let n = 1; n <= 16; n++) specs.push({ kind: 'dispatcher', entries: n });
  specs.push({ kind: 'full' });
  specs.push({ kind: 'x86-rxq-info' });
  const { packetCases, mixedCases, callCases } = held;
  const instructions = new Map<string, number>();
  for (const spec of specs) {
    packetCases.push(await packetCase(spec));
    instructions.set(packetCaseName(spec), await instructionsPerPacket(spec));
  }
  mixedCases.push(await mixedCase(false), await mixedCase(true));
  callCases.push(await callCase('direct'), await callCase('indirect'), await callCase('retpoline'));
  for (let n = 1; n <= 16; n++) callCases.push(await callCase({ dispatcher: n }));
  callCases.push(await callCase('full'));
  const kernel = kernelCases();
  if ('skipped' in kernel) log(`kernel cases skipped: ${kernel.skipped}`);
  else held.kernel = kernel;
  const kernelRunnables: Runnable[] =
    'skipped' in kernel
      ? []
      : kernel.cases.map((k) => ({
          name: k.name,
          entries: kernelEntries(k.name),
          run: (n: number) => k.run(n),
          lastKernelNs: () => k.lastKernelNs(),
        }));
  const profile = await profileCases();
  held.profileCases = profile.cases;
  for (const [name, count] of profile.instructions) instructions.set(name, count);
  log('measuring load times…');
  const loads = await measureLoadTimes(quick ? 5 : 20);

  const groups: readonly (readonly Runnable[])[] = [packetCases, mixedCases, callCases, kernelRunnables, profile.cases];
  const total = runs * groups.reduce((sum, g) => sum + g.length, 0);
  const tick = progressBar(total, !usesStdout(options));
  let done = 0;
  const measureGroup = (cases: readonly Runnable[], perRun: number) => {
    const base = done;
    done += runs * cases.length;
    return measure(cases, runs, perRun, (d) => tick(base + d));
  };
  const packetTimes = measureGroup(packetCases, packets);
  const mixedTimes = measureGroup(mixedCases, packets);
  const callTimes = measureGroup(callCases, calls);
  const kernelTimes = measureGroup(kernelRunnables, packets);
  const profileTimes = measureGroup(profile.cases, packets);

  // every packet must have been handled as it should: exact counters
  for (const c of [...packetCases, ...mixedCases, ...profile.cases]) c.verify(BigInt(runs * packets));
  if (!('skipped' in kernel)) for (const k of kernel.cases) k.verify(BigInt(runs * packets));

  const results = (cases: readonly Runnable[], times: Timings, group: CaseGroup, perRun: number, baseline: string): CaseResult[] =>
    withBaseline(
      cases.map((c) => {
        const r = summarise(c.name, group, c.entries, perRun, times.wall.get(c.name) ?? [], times.kernel.get(c.name));
        return instructions.has(c.name) ? { ...r, instructions_per_packet: instructions.get(c.name) ?? null } : r;
      }),
      baseline,
    );
  const packetResults = results(packetCases, packetTimes, 'packets', packets, 'baseline');
  const profileResults = results(profile.cases, profileTimes, 'profile', packets, '');
  const report: BenchReport = {
    packets: packetResults,
    mixed: results(mixedCases, mixedTimes, 'mixed', packets, 'mixed-baseline'),
    calls: results(callCases, callTimes, 'calls', calls, 'call-retpoline'),
    kernel: 'skipped' in kernel ? { skipped: kernel.skipped } : { cases: results(kernelRunnables, kernelTimes, 'kernel', packets, '') },
    profile: profileResults,
    loads,
    targets: evaluateTargets(packetResults, profileResults),
  };

  log('');
  log(formatText(report));
  const date = new Date().toISOString();
  const machineText = `${info.cpu} (${info.cores} cores), Linux, Node ${info.node}`;
  const json = benchJson(report, { toolVersion: options.toolVersion ?? '0.0.0', date, quick, pinnedCpu: cpu, machine: info, machineText });
  writeOutput(options.json, `${JSON.stringify(json, null, 2)}\n`);
  writeOutput(options.markdown, formatMarkdown(report, machineText));
  if (options.svg !== undefined) writeOutput(options.svg, await renderChart(report, { machine: machineText, date, quick }));
  return report;
}

/** `--check`: say which targets were missed (stderr) and return 1, or say that every one was met and return 0. */
function checkReport(targets: readonly TargetResult[], log: (text: string) => void): number {
  const missed = missedTargets(targets);
  if (missed.length === 0) log(`bench --check: all ${targets.length} targets met`);
  else {
    console.error(`bench --check: ${missed.length} of ${targets.length} targets missed:`);
    for (const t of missed) console.error(`  ${t.name}: ${t.value} (goal ${t.target})`);
  }
  return checkExitCode(targets);
}
