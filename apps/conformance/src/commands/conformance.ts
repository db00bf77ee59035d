import { writeFileSync } from 'node:fs';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { CHECKS } from '../checks/index.js';
import { type ArenaKind, formatTable, runSuite } from '../suite.js';

export interface ConformanceOptions {
  readonly arena: 'simulated' | 'native' | 'both';
  readonly json?: string;
}

/** Run the conformance suite; returns the process exit code (1 on any failure). */
export async function conformance(options: ConformanceOptions): Promise<number> {
  const kinds: ArenaKind[] = options.arena === 'both' ? ['simulated', 'native'] : [options.arena];
  console.log(`bpf-dispatcher conformance: ${CHECKS.length} checks on ${kinds.join(' + ')} (native ${nativeSupported() ? 'supported' : 'unsupported'} here)`);
  const results = await runSuite(CHECKS, kinds, (r) => {
    if (process.stdout.isTTY) process.stdout.write(`  ${r.status === 'pass' ? 'ok  ' : r.status === 'skip' ? 'skip' : 'FAIL'} ${r.id} [${r.arena}]\n`);
  });
  console.log('');
  console.log(formatTable(results, kinds));
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
  }
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
