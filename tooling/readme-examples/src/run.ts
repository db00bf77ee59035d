import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import type { Example } from './extract.js';

/** What running one example did. */
export interface ExampleRun {
  /** The example as written (`.mts`/`.mjs`) and the file Node ran (types stripped). */
  readonly source: string;
  readonly ran: string;
  /** Exit code (null when killed, e.g. on the timeout). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Strip the types of a TypeScript example: the ES module Node runs (top-level await kept). */
export function stripTypes(code: string, fileName: string): string {
  const out = ts.transpileModule(code, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, removeComments: false },
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0)
    throw new Error(`${fileName}: ${errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
  return out.outputText;
}

/**
 * Write `example` into `dir` (a folder inside the workspace, so that its imports resolve to
 * the workspace packages, as they would for a user who installed them) as `NAME.mts`
 * (`.mjs` for JavaScript), strip its types into `NAME.run.mjs`, and run that with plain
 * Node in `dir`. Never throws for a failing example: the exit code tells.
 */
export function runExample(example: Example, dir: string, name: string, timeoutMs = 120_000): ExampleRun {
  mkdirSync(dir, { recursive: true });
  const source = join(dir, `${name}.${example.language === 'ts' ? 'mts' : 'mjs'}`);
  const ran = join(dir, `${name}.run.mjs`);
  writeFileSync(source, example.code);
  writeFileSync(ran, example.language === 'ts' ? stripTypes(example.code, source) : example.code);
  const r = spawnSync(process.execPath, [ran], {
    cwd: dir,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { source, ran, code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** A file name for an example: its README's path and line (`packages-x86-README.md-26`). */
export function exampleName(example: Example): string {
  return `${example.readme.replace(/[^A-Za-z0-9.]+/g, '-')}-${example.line}`;
}

/**
 * Type-check the TypeScript examples as written, with the workspace's strict settings
 * (`@bpf-dispatcher/tsconfig/base.json`: strict, noUncheckedIndexedAccess, ...), as a user's
 * editor would: each is written to `dir` as `NAME.mts` and `tsc` runs once over all of them.
 * Returns tsc's exit code and its messages.
 */
export function typecheckExamples(examples: readonly Example[], dir: string, timeoutMs = 300_000): { code: number | null; output: string } {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = examples.filter((e) => e.language === 'ts').map((e) => `${exampleName(e)}.mts`);
  for (const e of examples.filter((x) => x.language === 'ts')) writeFileSync(join(dir, `${exampleName(e)}.mts`), e.code);
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify({ extends: '@bpf-dispatcher/tsconfig/base.json', files }, null, 2)}\n`);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
