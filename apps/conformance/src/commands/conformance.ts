import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { CHECKS } from '../checks/index.js';
import { humanLog, writeOutput } from '../output.js';
import { type ArenaKind, formatTable, runSuite } from '../suite.js';

export interface ConformanceOptions {
  readonly arena: 'simulated' | 'native' | 'both';
  /** Also write the results as JSON to this file (`-`: standard output, the table then goes to stderr). */
  readonly json?: string;
}

/** Run the conformance suite; returns the process exit code (1 on any failure). */
export async function conformance(options: ConformanceOptions): Promise<number> {
  const kinds: ArenaKind[] = options.arena === 'both' ? ['simulated', 'native'] : [options.arena];
  const log = humanLog(options);
  log(`bpf-dispatcher conformance: ${CHECKS.length} checks on ${kinds.join(' + ')} (native ${nativeSupported() ? 'supported' : 'unsupported'} here)`);
  const results = await runSuite(CHECKS, kinds, (r) => {
    if (process.stdout.isTTY && options.json !== '-') log(`  ${r.status === 'pass' ? 'ok  ' : r.status === 'skip' ? 'skip' : 'FAIL'} ${r.id} [${r.arena}]`);
  });
  log('');
  log(formatTable(results, kinds));
  if (options.json !== undefined) writeOutput(options.json, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
