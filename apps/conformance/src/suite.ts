import { type TextArena, createArena, nativeSupported } from '@bpf-dispatcher/text-poke';

/** An arena kind a check runs on. */
export type ArenaKind = 'simulated' | 'native';

/** One conformance check. `run` throws (e.g. an AssertionError) to fail. */
export interface Check {
  readonly id: string;
  readonly title: string;
  /** Arenas it applies to (default both). */
  readonly arenas?: readonly ArenaKind[];
  run(arena: TextArena, kind: ArenaKind): Promise<void> | void;
}

/** The outcome of one check on one arena. */
export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly arena: ArenaKind;
  readonly status: 'pass' | 'fail' | 'skip';
  /** One line: why it failed or was skipped. */
  readonly reason?: string;
  readonly ms: number;
}

/** Run every check on every selected arena, each on a fresh arena. */
export async function runSuite(checks: readonly Check[], kinds: readonly ArenaKind[], onResult?: (result: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    for (const kind of kinds) {
      if (check.arenas !== undefined && !check.arenas.includes(kind)) continue;
      let result: CheckResult;
      if (kind === 'native' && !nativeSupported()) {
        result = { id: check.id, title: check.title, arena: kind, status: 'skip', reason: `native arena unsupported on ${process.platform}/${process.arch}`, ms: 0 };
      } else {
        const start = performance.now();
        let arena: TextArena | undefined;
        try {
          arena = createArena(kind, kind === 'native' ? { textSize: 1 << 20, dataSize: 4 << 20 } : {});
          await check.run(arena, kind);
          result = { id: check.id, title: check.title, arena: kind, status: 'pass', ms: performance.now() - start };
        } catch (error) {
          const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'failed';
          result = { id: check.id, title: check.title, arena: kind, status: 'fail', reason, ms: performance.now() - start };
        } finally {
          arena?.dispose();
        }
      }
      results.push(result);
      onResult?.(result);
    }
  }
  return results;
}

/** The pass/fail table: one row per check, one column per arena, reasons below. */
export function formatTable(results: readonly CheckResult[], kinds: readonly ArenaKind[]): string {
  const ids = [...new Set(results.map((r) => r.id))];
  const titleWidth = Math.max(5, ...results.map((r) => r.title.length));
  const cell = (r: CheckResult | undefined) => (r === undefined ? '-' : r.status === 'pass' ? 'pass' : r.status === 'skip' ? 'skip' : 'FAIL');
  const lines = [`${'check'.padEnd(titleWidth)}  ${kinds.map((k) => k.padEnd(9)).join('  ')}`, `${'-'.repeat(titleWidth)}  ${kinds.map(() => '-'.repeat(9)).join('  ')}`];
  for (const id of ids) {
    const row = results.filter((r) => r.id === id);
    const title = row[0]?.title ?? id;
    lines.push(`${title.padEnd(titleWidth)}  ${kinds.map((k) => cell(row.find((r) => r.arena === k)).padEnd(9)).join('  ')}`);
  }
  const failures = results.filter((r) => r.status !== 'pass');
  if (failures.length > 0) {
    lines.push('');
    for (const r of failures) lines.push(`${r.status === 'fail' ? 'FAIL' : 'skip'} ${r.id} [${r.arena}]: ${r.reason}`);
  }
  const passed = results.filter((r) => r.status === 'pass').length;
  const failed = results.filter((r) => r.status === 'fail').length;
  const skipped = results.filter((r) => r.status === 'skip').length;
  lines.push('');
  lines.push(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  return lines.join('\n');
}
