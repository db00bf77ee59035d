#!/usr/bin/env node
// Packaging check: pack every publishable workspace package, install the tarballs into a
// scratch project outside the workspace, and import each entry point with plain Node
// (no TypeScript loader, no workspace links). Fails on a leftover `workspace:` range, on
// anything publint or @arethetypeswrong/cli (ESM-only profile) reports, on a packed source
// map (or a sourceMappingURL comment: the sources are not packed), and on an `@internal`
// member left in a packed declaration file (the build strips them: stripInternal).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
const scratch = mkdtempSync(join(tmpdir(), 'bpf-dispatcher-pack-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

let failures = 0;
try {
  const packages = readdirSync(packagesDir)
    .map((dir) => ({ dir: join(packagesDir, dir), manifest: JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);

  const tarballs = [];
  for (const { dir, manifest } of packages) {
    try {
      run('pnpm', ['exec', 'publint', dir, '--strict'], root);
    } catch {
      console.error(`FAIL ${manifest.name}: publint reports problems (run pnpm exec publint ${dir})`);
      failures++;
    }
    try {
      run('pnpm', ['exec', 'attw', '--pack', '.', '--profile', 'esm-only', '--format', 'ascii'], dir);
    } catch {
      console.error(`FAIL ${manifest.name}: @arethetypeswrong/cli reports type resolution problems (run pnpm exec attw --pack . --profile esm-only in ${dir})`);
      failures++;
    }
    const out = run('pnpm', ['pack', '--pack-destination', scratch, '--json'], dir);
    const file = JSON.parse(out).filename;
    tarballs.push(file);
    const packed = run('tar', ['-xOzf', file, 'package/package.json'], scratch);
    if (packed.includes('workspace:')) {
      console.error(`FAIL ${manifest.name}: packed package.json still has a workspace: range`);
      failures++;
    }
    const listing = run('tar', ['-tzf', file], scratch);
    if (!listing.includes('package/dist/index.js') || !listing.includes('package/dist/index.d.ts')) {
      console.error(`FAIL ${manifest.name}: tarball lacks dist/index.js or dist/index.d.ts`);
      failures++;
    }
    const entries = listing.split('\n').filter(Boolean);
    const maps = entries.filter((entry) => entry.endsWith('.map'));
    if (maps.length > 0) {
      console.error(`FAIL ${manifest.name}: source maps are packed (their sources are not): ${maps.slice(0, 3).join(', ')}${maps.length > 3 ? ', ...' : ''}`);
      failures++;
    }
    const unpacked = join(scratch, `unpacked-${basename(dir)}`);
    mkdirSync(unpacked);
    run('tar', ['-xzf', file, '-C', unpacked], scratch);
    for (const entry of entries.filter((e) => /\.(d\.ts|js)$/.test(e))) {
      const text = readFileSync(join(unpacked, entry), 'utf8');
      if (entry.endsWith('.d.ts') && text.includes('@internal')) {
        console.error(`FAIL ${manifest.name}: ${entry.slice('package/'.length)} declares an @internal member (build with stripInternal)`);
        failures++;
      }
      if (/^\/\/# sourceMappingURL=/m.test(text)) {
        console.error(`FAIL ${manifest.name}: ${entry.slice('package/'.length)} points at a source map`);
        failures++;
      }
    }
    for (const field of ['repository', 'homepage', 'bugs']) {
      if (manifest[field] === undefined) {
        console.error(`FAIL ${manifest.name}: package.json has no "${field}"`);
        failures++;
      }
    }
    if (manifest.repository !== undefined && manifest.repository.directory !== `packages/${basename(dir)}`) {
      console.error(`FAIL ${manifest.name}: repository.directory should be packages/${basename(dir)}`);
      failures++;
    }
  }

  const project = join(scratch, 'consumer');
  run('mkdir', ['-p', project], scratch);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], project);

  for (const { manifest } of packages) {
    for (const subpath of Object.keys(manifest.exports)) {
      if (subpath === './package.json') continue;
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      const script = `const m = await import(${JSON.stringify(specifier)}); const names = Object.keys(m); if (names.length === 0) throw new Error('no exports'); console.log(${JSON.stringify(specifier)}, names.length, 'exports');`;
      try {
        process.stdout.write(run('node', ['--input-type=module', '-e', script], project));
      } catch {
        console.error(`FAIL ${specifier}: cannot be imported with plain Node from its tarball`);
        failures++;
      }
    }
  }
  const smoke = `import { CodeBuffer, aluImm32, jcc, jmp } from '@bpf-dispatcher/x86';
import { listing } from '@bpf-dispatcher/x86/disasm';
const buf = new CodeBuffer(0xffffffffc0002000n);
aluImm32(buf, 'cmp', 'rdx', -1); jcc(buf, 'e', -1); jmp(buf, 0xffffffff81c00f10n);
const text = listing(buf.finish(), buf.base);
if (!text.startsWith('ffffffffc0002000: cmp rdx,0xffffffffffffffff')) throw new Error(text);
console.log('x86 smoke: ok');`;
  try {
    process.stdout.write(run('node', ['--input-type=module', '-e', smoke], project));
  } catch {
    console.error('FAIL x86 smoke test from the tarball');
    failures++;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`pack-check: ${failures} failure(s)`);
  process.exit(1);
}
console.log('pack-check: all packages install and import from their tarballs');
