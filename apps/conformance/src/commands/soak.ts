import { humanLog, usesStdout, writeOutput } from '../output.js';
import { eta, formatDuration, progressLine } from '../progress.js';
import { FAULT_KINDS, type SoakReport, runSoak } from '../soak/soak.js';

export interface SoakCommandOptions {
  /** Stop after this many seconds... */
  readonly seconds: number;
  /** ...or this many updates, whichever comes first. */
  readonly updates: number;
  readonly faults: boolean;
  /** Write the report as JSON to this file (`-`: standard output, the summary then goes to stderr). */
  readonly json?: string;
}

const n = (x: number | bigint) => x.toLocaleString('en-US');

/** Print a soak report: what ran, why it stopped, what was checked, each fault kind injected and recovered, and the verdict. */
export function formatSoak(r: SoakReport): string {
  const stopped =
    r.stoppedBy === 'updates' ? `the update limit (${n(r.maxUpdates)}) came first` : `the time limit (${n(r.maxSeconds)} s) came first`;
  const lines = [
    `updates                ${n(r.updates)} in ${r.seconds.toFixed(1)} s (${n(Math.round(r.updatesPerSecond))} updates/s); stopped: ${stopped}`,
    `packets generated      ${n(r.packetsGenerated)}`,
    `packets processed      ${n(r.packetsProcessed)}`,
    `misrouted              ${r.misrouted}`,
    `foreign handlers       ${r.foreignHandled}`,
    `unaccounted            ${r.unaccounted}`,
    `Mpps during churn      ${r.mppsDuringChurn.toFixed(1)}`,
    `grace periods          ${n(r.graceWaits)} (longest update that waited: ${r.maxGraceWaitMs.toFixed(2)} ms)`,
    `placements             ${Object.entries(r.placements)
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(', ')}`,
  ];
  if (!r.faultsRequested) lines.push('faults                 none (--no-faults)');
  else {
    const injectedKinds = r.faults.filter((f) => f.injected > 0).length;
    lines.push(`faults                 ${r.faultRounds} round(s); ${injectedKinds} of ${FAULT_KINDS.length} kinds injected`);
    for (const f of r.faults) {
      const verdict = f.injected === 0 ? '  NOT INJECTED' : f.typedErrors === f.injected && f.recovered === f.injected ? '' : '  FAILED';
      lines.push(
        `  ${f.fault.padEnd(42)} injected ${n(f.injected)}, typed ${f.code} ${n(f.typedErrors)}, recovered ${n(f.recovered)}${verdict}`,
      );
    }
  }
  lines.push(r.ok ? 'soak: OK' : 'soak: FAILED');
  return lines.join('\n');
}

/** `bpf-dispatcher soak`: returns the exit code (0 when every check held, 1 otherwise). */
export async function soak(options: SoakCommandOptions): Promise<number> {
  const log = humanLog(options);
  log(
    `bpf-dispatcher soak: up to ${n(options.seconds)} s or ${n(options.updates)} updates under traffic, whichever comes first; ${
      options.faults ? `every kind of fault (${FAULT_KINDS.length}) injected` : 'no faults'
    }`,
  );
  const line = progressLine(!usesStdout(options));
  const report = await runSoak({
    seconds: options.seconds,
    updates: options.updates,
    faults: options.faults,
    onProgress: (p) => {
      const left = eta(p.updates, p.maxUpdates, p.elapsedMs, p.maxSeconds);
      const percent = Math.min(100, Math.max((100 * p.updates) / p.maxUpdates, (100 * p.elapsedMs) / (p.maxSeconds * 1000)));
      line.update(
        `  ${percent.toFixed(0).padStart(3)}%  ${n(p.updates)} / ${n(p.maxUpdates)} updates, ${formatDuration(p.elapsedMs / 1000)} / ${formatDuration(p.maxSeconds)}, ${p.faultRounds} fault round(s)  ETA ${formatDuration(left.seconds)}`,
      );
    },
  });
  line.done();
  log(formatSoak(report));
  writeOutput(options.json, `${JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  return report.ok ? 0 : 1;
}
