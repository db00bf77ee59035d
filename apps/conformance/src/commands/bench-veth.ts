import { machine } from '@bpf-dispatcher/bench-kit';
import { formatVethMarkdown, formatVethText, type VethReport, vethReport } from '../bench/veth-report.js';
import { runVeth, VETH_CASES, VETH_FULL, VETH_QUICK, type VethConfig } from '../bench/veth-run.js';
import { humanLog, usesStdout, writeOutput } from '../output.js';
import { formatDuration, progressLine } from '../progress.js';

/** Options of {@link benchVeth}. */
export interface BenchVethOptions {
  readonly quick?: boolean;
  readonly json?: string;
  readonly markdown?: string;
}

/** What {@link vethBench} returns: the report, or why the benchmark did not run. */
export type VethBenchOutcome = { readonly report: VethReport } | { readonly skipped: string };

/**
 * The veth benchmark with an explicit configuration (what {@link benchVeth} runs with the
 * full or quick one; tests use tiny ones): measure, print the table (through `log`,
 * default stdout, or stderr when an output goes to stdout), write the outputs.
 * Where it cannot run (no namespaces, bpf() or AF_XDP, no live-frame generator) it prints
 * the reason and writes `{ skipped }` as the JSON.
 * @throws Error when a frame is unaccounted for or a counter disagrees.
 */
export async function vethBench(
  config: VethConfig,
  options: BenchVethOptions = {},
  log: (text: string) => void = humanLog(options),
): Promise<VethBenchOutcome> {
  const quick = options.quick === true;
  const info = machine();
  log(`bpf-dispatcher bench-veth${quick ? ' --quick' : ''}: ${info.cpu}, ${info.cores} cores, node ${info.node}`);
  const line = progressLine(!usesStdout(options));
  const start = performance.now();
  const run = await runVeth(config, (done, total) => {
    const elapsed = (performance.now() - start) / 1000;
    line.update(`  ${done}/${total} case runs, ETA ${formatDuration((elapsed / done) * (total - done))}`);
    if (done === total) line.done();
  });
  if ('skipped' in run) {
    log(`bench-veth skipped: ${run.skipped}`);
    writeOutput(
      options.json,
      `${JSON.stringify({ benchmark: 'bench-veth', date: new Date().toISOString(), quick, machine: info, skipped: run.skipped }, null, 2)}\n`,
    );
    return { skipped: run.skipped };
  }
  const report = vethReport(run, { quick, machine: { ...info } });
  log('');
  log(formatVethText(report));
  writeOutput(options.json, `${JSON.stringify(report, null, 2)}\n`);
  writeOutput(options.markdown, formatVethMarkdown(report, `${info.cpu} (${info.cores} cores), Linux, Node ${info.node}`));
  return { report };
}

/**
 * `bench-veth`: on the veth test bed, in one run, packets per second our user-space loop
 * receives and processes with xdp_rxq_info (DROP) — dispatcher-1, dispatcher-16, full, no
 * dispatcher — and the kernel's own XDP running the same object natively on the same veth
 * with the same generator; the ratio, and where the time goes (generator, kernel redirect,
 * our loop), measured. Full: 15 rounds of 5,000,000 frames per case (about two minutes);
 * `--quick`: 5 rounds of 1,000,000 (well under a minute). Returns the exit code: 0 (also
 * when skipped, with the reason printed).
 */
export async function benchVeth(options: BenchVethOptions): Promise<number> {
  await vethBench(options.quick === true ? VETH_QUICK : VETH_FULL, options);
  return 0;
}

export { VETH_CASES };
