/**
 * Importing `@bpf-dispatcher/dispatcher` must not load iced-x86 (a WebAssembly decoder):
 * only `Dispatcher.disassemble()` needs it. Checked in a fresh Node process on the
 * package's sources, compiled to JavaScript beside them (so that the workspace packages
 * resolve as they do for a user).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));
const cache = join(src, '..', 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const out = mkdtempSync(join(cache, 'import-check-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

for (const name of readdirSync(src)) {
  if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
  const { outputText } = ts.transpileModule(readFileSync(join(src, name), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  });
  writeFileSync(join(out, name.replace(/\.ts$/, '.js')), outputText);
}
writeFileSync(join(out, 'package.json'), '{ "type": "module" }');

const probe = `
import { createRequire } from 'node:module';
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('iced-x86'));
const m = await import('./index.js');
const before = loaded();
const { SimulatedArena } = await import('@bpf-dispatcher/text-poke');
const arena = new SimulatedArena();
const d = new m.Dispatcher(arena, m.createTrampoline(arena, { fallback: 'indirect' }));
await d.changeProg(null, 0x1000);
const text = d.disassemble();
console.log(JSON.stringify({ before, after: loaded(), text }));
`;

describe('import cost', () => {
  it('importing the package does not load iced-x86; disassemble() loads it on first use', () => {
    writeFileSync(join(out, 'probe.mjs'), probe);
    const stdout = execFileSync(process.execPath, [join(out, 'probe.mjs')], { encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { before: boolean; after: boolean; text: string };
    expect(result.before).toBe(false);
    expect(result.after).toBe(true);
    expect(result.text).toMatch(/cmp\s+rdx,0x1000/);
  }, 90_000);
});
