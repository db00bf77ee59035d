// Run a probe module in a fresh Node process over a package's sources, to check what
// importing the package loads (e.g. that iced-x86 or koffi stay unloaded). The sources are
// transpiled with the package's own TypeScript into <package>/node_modules/.cache, so that
// workspace dependencies resolve as they do for a user.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

function transpile(ts, src, dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'test-support') transpile(ts, src, path, out);
      continue;
    }
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts') || entry.name.endsWith('.d.ts')) continue;
    const { outputText } = ts.transpileModule(readFileSync(path, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    const target = join(out, relative(src, path)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
}

/**
 * Transpile `src` (a package's src folder), run `probe` (an ES module beside the
 * transpiled `index.js`) with plain Node, and return the JSON it printed on its last line.
 */
export function probeFreshImport(src, probe, { timeoutMs = 60_000 } = {}) {
  const ts = createRequire(join(src, 'probe.js'))('typescript');
  const cache = join(src, '..', 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'import-check-'));
  try {
    transpile(ts, src, src, out);
    writeFileSync(join(out, 'package.json'), '{ "type": "module" }');
    writeFileSync(join(out, 'probe.mjs'), probe);
    const stdout = execFileSync(process.execPath, [join(out, 'probe.mjs')], { encoding: 'utf8', timeout: timeoutMs });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Source of a probe helper: `loaded(name)` is true once a module of package `name` was required. */
export const LOADED_HELPER = `
import { createRequire } from 'node:module';
const loaded = (name) => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/' + name + '/'));
`;
