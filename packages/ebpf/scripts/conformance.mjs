#!/usr/bin/env node
// Dev tool: play the bpf_conformance suite's runner against a plugin.
//
//   node scripts/conformance.mjs <tests-dir> [--mode M] [--plugin CMD] [--jobs N] [--filter TEXT] [--quiet]
//
// Reads every `.data` file of <tests-dir> (sections `-- asm`, `-- raw`, `-- mem`, `-- result`,
// `-- error`), assembles `-- asm` with this package's assembler (`-- raw` replaces it), runs
// the plugin as a child process the way the suite does (argv: the memory as hex bytes, then
// the options; stdin: the program as one line of hex bytes), and compares r0 (unsigned 64
// bit) or expects a refusal. Prints a table and `N passed, M failed`; exits 1 if any failed.
// Uses the BUILT package (dist/): run `pnpm --filter @bpf-dispatcher/ebpf build` first.
// The default plugin is this package's `node dist/plugin.js`.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EbpfError, assemble, encodeProgram, rawInsn } from '../dist/index.js';

const pkg = resolve(import.meta.dirname, '..');

function usage(message) {
  if (message) process.stderr.write(`conformance: ${message}\n`);
  process.stderr.write('usage: node scripts/conformance.mjs <tests-dir> [--mode M] [--plugin CMD] [--jobs N] [--filter TEXT] [--quiet]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let dir;
let mode;
let plugin = `${process.execPath} ${join(pkg, 'dist', 'plugin.js')}`;
let jobs = 2;
let filter = '';
let quiet = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--mode') mode = args[++i];
  else if (a === '--plugin') plugin = args[++i];
  else if (a === '--jobs') jobs = Number(args[++i]);
  else if (a === '--filter') filter = args[++i] ?? '';
  else if (a === '--quiet') quiet = true;
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (dir === undefined) dir = a;
  else usage(`unexpected argument ${a}`);
}
if (dir === undefined) usage('missing <tests-dir>');
if (!plugin || !Number.isInteger(jobs) || jobs < 1) usage('bad --plugin or --jobs');

/** Split a .data file into its sections: { asm: 'text', mem: 'text', ... }. */
function parseDataFile(text) {
  const sections = {};
  let current;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*--\s*(.*?)\s*$/.exec(line);
    if (m) {
      current = m[1];
      sections[current] = [];
    } else if (current !== undefined) sections[current].push(line);
  }
  return Object.fromEntries(Object.entries(sections).map(([k, v]) => [k, v.join('\n')]));
}

const stripComments = (text) =>
  text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '')
    .join(' ');

function hexBytes(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Prepare one test: { name, program?, memory, expected?, error?, problem? }. */
function loadTest(file) {
  const name = file.replace(/\.data$/, '');
  const s = parseDataFile(readFileSync(join(dir, file), 'utf8'));
  const test = { name, memory: s.mem === undefined ? '' : hexBytes(stripComments(s.mem).split(/\s+/).filter(Boolean).map((b) => Number.parseInt(b, 16))) };
  if (s.error !== undefined) test.error = stripComments(s.error);
  if (s.result !== undefined) {
    const r = stripComments(s.result);
    test.expected = BigInt.asUintN(64, BigInt(r));
  }
  try {
    const insns =
      s.raw !== undefined
        ? stripComments(s.raw)
            .split(/\s+/)
            .map((w) => rawInsn(BigInt(w)))
        : assemble(s.asm ?? '');
    if (insns.length === 0) test.problem = 'no instructions';
    else test.program = hexBytes(encodeProgram(insns));
  } catch (err) {
    test.problem = `assembler: ${EbpfError.isInstance(err) ? err.message : String(err)}`;
  }
  return test;
}

function runPlugin(test) {
  const [command, ...prefix] = plugin.split(/\s+/).filter(Boolean);
  const argv = [...prefix, test.memory];
  if (mode !== undefined) argv.push(`--mode ${mode}`);
  return new Promise((done) => {
    const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err) => done({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(`${test.program}\n`);
  });
}

async function judge(test) {
  if (test.problem !== undefined) {
    if (test.error !== undefined) return { status: 'pass', detail: `refused before running (${test.problem})` };
    return { status: 'FAIL', detail: test.problem };
  }
  if (test.expected === undefined && test.error === undefined) return { status: 'skip', detail: 'no result or error section' };
  const out = await runPlugin(test);
  const message = (out.stderr.trim() || out.stdout.trim()).split('\n')[0];
  if (out.code !== 0) {
    if (test.error !== undefined) return { status: 'pass', detail: `refused: ${message}` };
    return { status: 'FAIL', detail: `plugin exited ${out.code}: ${message}` };
  }
  if (test.error !== undefined) return { status: 'FAIL', detail: `expected a refusal (${test.error}), got ${out.stdout.trim()}` };
  let got;
  try {
    got = BigInt.asUintN(64, BigInt(`0x${out.stdout.trim().replace(/^0x/i, '')}`));
  } catch {
    return { status: 'FAIL', detail: `plugin printed '${out.stdout.trim()}', not hex` };
  }
  if (got !== test.expected) return { status: 'FAIL', detail: `r0 = 0x${got.toString(16)}, expected 0x${test.expected.toString(16)}` };
  return { status: 'pass', detail: `r0 = 0x${got.toString(16)}` };
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.data') && f.includes(filter))
  .sort();
const tests = files.map(loadTest);
const results = new Array(tests.length);
let nextIndex = 0;
await Promise.all(
  Array.from({ length: Math.min(jobs, tests.length) }, async () => {
    while (nextIndex < tests.length) {
      const i = nextIndex++;
      results[i] = await judge(tests[i]);
    }
  }),
);

const width = Math.max(4, ...tests.map((t) => t.name.length));
const counts = { pass: 0, FAIL: 0, skip: 0 };
const lines = [`${'test'.padEnd(width)}  result  detail`];
tests.forEach((t, i) => {
  const r = results[i];
  counts[r.status]++;
  if (!quiet || r.status !== 'pass') lines.push(`${t.name.padEnd(width)}  ${r.status.padEnd(6)}  ${r.detail}`);
});
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(
  `${counts.pass} passed, ${counts.FAIL} failed${counts.skip ? `, ${counts.skip} skipped` : ''} (${tests.length} tests, mode ${mode ?? 'plugin default'})\n`,
);
process.exit(counts.FAIL > 0 ? 1 : 0);
