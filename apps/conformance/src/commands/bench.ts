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
import { kernelRxqInfoCase } from '../bench/kernel-case.js';
import { measureLoadTimes } from '../bench/load-times.js';
import { type CaseResult, type EbpfReport, evaluateTargets, formatMarkdown, formatSvg, formatText, summarise, withBaseline } from '../bench/report.js';
import { humanLog, usesStdout, writeOutput } from '../output.js';
import { formatDuration, progressLine } from '../progress.js';

export interface BenchOptions {
  readonly quick?: boolean;
  readonly json?: string;
  readonly markdown?: string;
  readonly svg?: string;
}

type Runnable = Pick<PacketCase, 'name' | 'entries' | 'run'>;

/** Run cases interleaved (round by round), so slow drifts of a shared machine hit all alike. */
function measure(cases: readonly Runnable[], runs: number, perRun: number, progress: (done: number) => void): Map<string, number[]> {
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  let done = 0;
  for (let round = 0; round < runs; round++) {
    for (const c of cases) {
      times.get(c.name)?.push(c.run(perRun));
      progress(++done);
    }
  }
  return times;
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

/** The cover letter's performance table, measured natively. Returns the exit code. */
export async function bench(options: BenchOptions): Promise<number> {
  if (!nativeSupported()) {
    console.error(`bench: the native arena is needed (x86-64 Linux); this is ${process.platform}/${process.arch}`);
    return 2;
  }
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
  const packetCases: PacketCase[] = [];
  const instructions = new Map<string, number>();
  for (const spec of specs) {
    packetCases.push(await packetCase(spec));
    instructions.set(packetCaseName(spec), await instructionsPerPacket(spec));
  }
  const mixedCases: PacketCase[] = [await mixedCase(false), await mixedCase(true)];
  const callCases: CallCase[] = [await callCase('direct'), await callCase('indirect'), await callCase('retpoline')];
  for (let n = 1; n <= 16; n++) callCases.push(await callCase({ dispatcher: n }));
  callCases.push(await callCase('full'));
  const kernel = kernelRxqInfoCase();
  if ('skipped' in kernel) log(`kernel-test-run skipped: ${kernel.skipped}`);
  const kernelCases = 'skipped' in kernel ? [] : [{ name: kernel.name, entries: null, run: (n: number) => kernel.run(n) }];
  log('measuring load times…');
  const loads = await measureLoadTimes(quick ? 5 : 20);

  const total = runs * (packetCases.length + mixedCases.length + callCases.length + kernelCases.length);
  const tick = progressBar(total, !usesStdout(options));
  let done = 0;
  const step = (base: number) => (d: number) => tick(base + d);
  const packetTimes = measure(packetCases, runs, packets, step(done));
  done += runs * packetCases.length;
  const mixedTimes = measure(mixedCases, runs, packets, step(done));
  done += runs * mixedCases.length;
  const callTimes = measure(callCases, runs, calls, step(done));
  done += runs * callCases.length;
  const kernelTimes = measure(kernelCases, runs, packets, step(done));

  // every packet must have been handled as it should: exact counters
  for (const c of [...packetCases, ...mixedCases]) c.verify(BigInt(runs * packets));
  if (!('skipped' in kernel)) kernel.verify(BigInt(runs * packets));

  const results = (
    cases: readonly Runnable[],
    times: Map<string, number[]>,
    group: CaseResult['group'],
    perRun: number,
    baseline: string,
  ) =>
    withBaseline(
      cases.map((c) => summarise(c.name, group, c.entries, perRun, times.get(c.name) ?? [])),
      baseline,
    );
  const packetResults = results(packetCases, packetTimes, 'packets', packets, 'baseline').map((r) => ({
    ...r,
    instructions_per_packet: instructions.get(r.case) ?? null,
  }));
  const mixedResults = results(mixedCases, mixedTimes, 'mixed', packets, 'mixed-baseline');
  const callResults = results(callCases, callTimes, 'calls', calls, 'call-retpoline');
  const kernelResults = results(kernelCases, kernelTimes, 'kernel', packets, '');
  const ebpf: EbpfReport = {
    loads,
    kernel: 'skipped' in kernel ? { skipped: kernel.skipped } : { ...(kernelResults[0] as CaseResult), kernel_reported_ns: kernel.lastKernelNs() },
  };
  const targets = evaluateTargets(packetResults);

  log('');
  log(formatText(packetResults, mixedResults, callResults, targets, ebpf));
  const machineText = `${info.cpu} (${info.cores} cores), Linux, Node ${info.node}`;
  const doc = {
    date: new Date().toISOString(),
    quick,
    pinnedCpu: cpu,
    machine: info,
    cases: [...packetResults, ...mixedResults, ...callResults, ...kernelResults].map((r) => ({ ...r, machine: machineText })),
    targets,
    ebpf,
  };
  writeOutput(options.json, `${JSON.stringify(doc, null, 2)}\n`);
  writeOutput(options.markdown, formatMarkdown(packetResults, mixedResults, callResults, targets, machineText, ebpf));
  writeOutput(options.svg, formatSvg(packetResults));
  for (const c of [...packetCases, ...mixedCases, ...callCases]) await c.dispose();
  if (!('skipped' in kernel)) kernel.dispose();
  return 0;
}
