/**
 * The fixture objects in `fixtures/` are committed beside their C sources (built by
 * `pnpm build:bpf`): this fails when one is older than its source or the header (content
 * hashes in `fixtures/objects.json`), and, where the installed clang is the recorded
 * version, when a rebuild gives other bytes.
 */
import { describe, expect, it } from 'vitest';
import { checkBpfObjects, findWorkspaceRoot } from '../../../tooling/bpf-build/index.js';

describe('fixture objects', () => {
  it('are up to date with their sources and the header', () => {
    const result = checkBpfObjects(findWorkspaceRoot(import.meta.dirname), { dirs: ['packages/bpf-object/fixtures'] });
    for (const line of result.rebuild.skipped) console.log(`byte-for-byte rebuild skipped: ${line}`);
    expect(result.problems.map((p) => `${p.kind} ${p.path}`), 'stale fixture objects: run `pnpm build:bpf`').toEqual([]);
    expect(result.sources.length).toBeGreaterThanOrEqual(9);
  });
});
