import { writeFileSync } from 'node:fs';
import { type SoakReport, runSoak } from '../soak/soak.js';

export interface SoakCommandOptions {
  readonly seconds: number;
  readonly updates: number;
  readonly faults: boolean;
  readonly json?: string;
}

/** Print a soak report. */
export function formatSoak(r: SoakReport): string {
  const lines = [
    `updates                ${r.updates.toLocaleString('en-US')} in ${r.seconds.toFixed(1)} s (${Math.round(r.updatesPerSecond).toLocaleString('en-US')} updates/s)`,
    `packets generated      ${r.packetsGenerated.toLocaleString('en-US')}`,
    `packets processed      ${r.packetsProcessed.toLocaleString('en-US')}`,
    `misrouted              ${r.misrouted}`,
    `foreign handlers       ${r.foreignHandled}`,
    `unaccounted            ${r.unaccounted}`,
    `Mpps during churn      ${r.mppsDuringChurn.toFixed(1)}`,
    `grace periods          ${r.graceWaits.toLocaleString('en-US')} (longest update that waited: ${r.maxGraceWaitMs.toFixed(2)} ms)`,
    `placements             ${Object.entries(r.placements)
      .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
      .join(', ')}`,
  ];
  for (const f of r.faults) lines.push(`fault: ${f.fault.padEnd(42)} injected ${f.injected}, typed ${f.code} ${f.typedErrors}, recovered ${f.recovered}`);
  lines.push(r.ok ? 'soak: OK' : 'soak: FAILED');
  return lines.join('\n');
}

/** `bpf-dispatcher soak`: returns the exit code. */
export async function soak(options: SoakCommandOptions): Promise<number> {
  console.log(`bpf-dispatcher soak: at least ${options.seconds} s and ${options.updates.toLocaleString('en-US')} updates under traffic${options.faults ? ', with faults' : ''}`);
  const report = await runSoak({
    seconds: options.seconds,
    minUpdates: options.updates,
    faults: options.faults,
    onProgress: (updates, ms) => {
      if (process.stderr.isTTY) process.stderr.write(`\r  ${updates.toLocaleString('en-US')} updates, ${(ms / 1000).toFixed(0)} s`);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(formatSoak(report));
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  }
  return report.ok ? 0 : 1;
}
