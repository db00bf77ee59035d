#!/usr/bin/env node
// Safety fuzzer for the verifier + JIT (issue 12, "Fuzzing for safety"): random and mutated
// eBPF programs are verified (memory program type and XDP); every refusal must be a typed
// EbpfError; accepted programs are JIT'd and run natively on guarded memory (PROT_NONE
// pages on both sides), 1 in 100 memory-type runs compared with the interpreter.
//
// Programs run in child processes (at most --jobs, default 2), in batches of program
// indices. A child killed by a signal is a crash (a stray access hits a guard page:
// SIGSEGV); the parent re-runs the last program the child started on its own to confirm
// the culprit, writes it out, and re-queues the rest of the batch. A child that exceeds
// --batch-timeout is a hang (verification is bounded by the verifier's budget, runtime
// loops by its termination proof).
//
// Program i of seed s is a pure function of (s, i): `--replay i` prints it.
//
// Usage: node scripts/fuzz.mjs [--programs 1000000] [--batch 5000] [--jobs 2] [--seed 1]
//          [--out DIR] [--batch-timeout-s 900] [--compare-every 100] [--json]
//          [--inject-crash I] [--inject-hang I]   (self-tests: program I faults / spins)
//        (build first: `pnpm --filter @bpf-dispatcher/ebpf fuzz` does.)
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);

function parseArgs(argv) {
  const args = { programs: 1_000_000, batch: 5000, jobs: 2, seed: 1, out: undefined, batchTimeoutS: 900, compareEvery: 100 };
  for (let n = 0; n < argv.length; n++) {
    const a = argv[n];
    const v = () => argv[++n];
    if (a === '--') continue; // pnpm may pass its separator through
    if (a === '--programs') args.programs = Number(v());
    else if (a === '--batch') args.batch = Number(v());
    else if (a === '--jobs') args.jobs = Math.max(1, Math.min(2, Number(v())));
    else if (a === '--seed') args.seed = Number(v());
    else if (a === '--out') args.out = v();
    else if (a === '--batch-timeout-s') args.batchTimeoutS = Number(v());
    else if (a === '--compare-every') args.compareEvery = Number(v());
    else if (a === '--child') args.child = true;
    else if (a === '--from') args.from = Number(v());
    else if (a === '--to') args.to = Number(v());
    else if (a === '--replay') args.replay = Number(v());
    else if (a === '--json') args.json = true;
    else if (a === '--inject-crash') args.injectCrash = Number(v());
    else if (a === '--inject-hang') args.injectHang = Number(v());
    else throw new Error(`fuzz: unknown argument ${a}`);
  }
  return args;
}

async function load() {
  const [{ NativeArena }, gen, { Rng }, run, ebpf] = await Promise.all([
    import('@bpf-dispatcher/text-poke'),
    import('../dist/fuzz/generate.js'),
    import('../dist/fuzz/rng.js'),
    import('../dist/fuzz/run.js'),
    import('../dist/index.js'),
  ]);
  return { NativeArena, gen, Rng, run, ebpf };
}

// ---- child: run programs [from, to) and report counts as one JSON line --------------------
async function child(args) {
  // Refusals are thrown errors: their stack traces are not needed here and cost a third of the time.
  Error.stackTraceLimit = 0;
  const { NativeArena, gen, Rng, run } = await load();
  const arena = new NativeArena();
  const fuzzer = new run.Fuzzer(arena, { compareEvery: args.compareEvery });
  const stats = newStats();
  for (let i = args.from; i < args.to; i++) {
    writeSync(1, `p ${i}\n`);
    if (i === args.injectCrash) await strayRead(arena); // self-test of crash detection
    if (i === args.injectHang) for (;;); // self-test of hang detection
    const rng = new Rng(args.seed, i);
    const program = gen.fuzzProgram(rng);
    stats.programs++;
    stats.bySource[program.source] = (stats.bySource[program.source] ?? 0) + 1;
    for (const o of fuzzer.fuzzProgram(program, rng)) record(stats, o, i);
  }
  fuzzer.dispose();
  writeSync(1, `r ${JSON.stringify(stats)}\n`);
}

/** Read the byte after a guarded buffer from hand-written x86: the guard page must fault (SIGSEGV). */
async function strayRead(arena) {
  const [{ emitText }, { byte, movzx, ret }, { GuardedMemory }] = await Promise.all([
    import('@bpf-dispatcher/text-poke'),
    import('@bpf-dispatcher/x86'),
    import('../dist/guarded-memory.js'),
  ]);
  const load = emitText(arena, 16, (b) => {
    movzx(b, 'eax', byte('rdi'));
    ret(b);
  });
  const guarded = GuardedMemory.create(8);
  arena.call(load.address, guarded.address + 8n);
}

function newStats() {
  return {
    programs: 0,
    verifications: 0,
    accepted: 0,
    ran: 0,
    compared: 0,
    acceptedNotRun: {},
    rejected: 0,
    rejectedByClass: {},
    untyped: 0,
    jitErrors: 0,
    runErrors: 0,
    mismatches: 0,
    byTarget: {},
    bySource: {},
    examples: [],
  };
}

function record(stats, o, index) {
  stats.verifications++;
  const t = (stats.byTarget[o.target] ??= { verifications: 0, accepted: 0, ran: 0 });
  t.verifications++;
  if (o.verdict === 'rejected') {
    stats.rejected++;
    stats.rejectedByClass[o.reason] = (stats.rejectedByClass[o.reason] ?? 0) + 1;
    return;
  }
  if (o.verdict === 'untyped') stats.untyped++;
  else if (o.verdict === 'jit-error') stats.jitErrors++;
  else if (o.verdict === 'run-error') stats.runErrors++;
  else if (o.verdict === 'mismatch') stats.mismatches++;
  if (o.verdict !== 'untyped') {
    stats.accepted++;
    t.accepted++;
  }
  if (o.ran) {
    stats.ran++;
    t.ran++;
  }
  if (o.compared) stats.compared++;
  if (o.verdict === 'accepted' && !o.ran && o.reason) stats.acceptedNotRun[o.reason] = (stats.acceptedNotRun[o.reason] ?? 0) + 1;
  if (o.verdict !== 'accepted' && stats.examples.length < 20) stats.examples.push({ index, target: o.target, verdict: o.verdict, reason: o.reason });
}

function merge(into, s) {
  for (const k of ['programs', 'verifications', 'accepted', 'ran', 'compared', 'rejected', 'untyped', 'jitErrors', 'runErrors', 'mismatches'])
    into[k] += s[k];
  for (const k of ['rejectedByClass', 'acceptedNotRun', 'bySource'])
    for (const [c, n] of Object.entries(s[k])) into[k][c] = (into[k][c] ?? 0) + n;
  for (const [target, t] of Object.entries(s.byTarget)) {
    const d = (into.byTarget[target] ??= { verifications: 0, accepted: 0, ran: 0 });
    d.verifications += t.verifications;
    d.accepted += t.accepted;
    d.ran += t.ran;
  }
  for (const e of s.examples) if (into.examples.length < 50) into.examples.push(e);
}

// ---- parent ---------------------------------------------------------------------------------
/** Run [from, to) in a child; resolve { stats } or { signal | timeout, last }. */
function runBatch(args, from, to) {
  return new Promise((resolve) => {
    const proc = spawn(
      process.execPath,
      [
        SCRIPT,
        '--child',
        '--seed',
        String(args.seed),
        '--from',
        String(from),
        '--to',
        String(to),
        '--compare-every',
        String(args.compareEvery),
        ...(args.injectCrash === undefined ? [] : ['--inject-crash', String(args.injectCrash)]),
        ...(args.injectHang === undefined ? [] : ['--inject-hang', String(args.injectHang)]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let last = from - 1;
    let stats;
    let pending = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('p ')) last = Number(line.slice(2));
        else if (line.startsWith('r ')) stats = JSON.parse(line.slice(2));
        nl = pending.indexOf('\n');
      }
    });
    proc.stderr.on('data', (chunk) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, args.batchTimeoutS * 1000);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ timeout: true, last, stderr });
      else if (signal !== null) resolve({ signal, last, stderr });
      else if (code !== 0 || stats === undefined) resolve({ exitCode: code, last, stderr });
      else resolve({ stats });
    });
  });
}

async function describeProgram(args, index) {
  const { gen, Rng, ebpf } = await load();
  const program = gen.fuzzProgram(new Rng(args.seed, index));
  let text;
  try {
    text = ebpf.disassemble(program.insns);
  } catch {
    text = undefined;
  }
  return { seed: args.seed, index, target: program.target, size: program.size, source: program.source, insns: program.insns, disassembly: text };
}

async function parent(args) {
  const out = args.out ?? join(tmpdir(), `ebpf-fuzz-seed${args.seed}`);
  mkdirSync(out, { recursive: true });
  const queue = [];
  for (let from = 0; from < args.programs; from += args.batch) queue.push([from, Math.min(args.programs, from + args.batch)]);
  const total = newStats();
  const crashes = [];
  const hangs = [];
  const failures = [];
  const start = Date.now();
  let done = 0;
  let lastReport = 0;

  async function isolate(kind, result, from, to) {
    // The culprit is the last program the child started: re-run it alone to confirm.
    const culprit = Math.max(from, result.last);
    const alone = await runBatch(args, culprit, culprit + 1);
    const confirmed = kind === 'crash' ? alone.signal !== undefined : alone.timeout === true;
    const entry = { kind, batch: [from, to], index: culprit, signal: result.signal, confirmedAlone: confirmed, stderr: result.stderr.slice(0, 2000) };
    entry.program = await describeProgram(args, culprit);
    writeFileSync(join(out, `${kind}-seed${args.seed}-${culprit}.json`), `${JSON.stringify(entry, null, 2)}\n`);
    (kind === 'crash' ? crashes : hangs).push(entry);
    process.stderr.write(`fuzz: ${kind} at program ${culprit} (batch ${from}..${to}, confirmed alone: ${confirmed}); written to ${out}\n`);
    if (culprit > from) queue.push([from, culprit]);
    if (culprit + 1 < to) queue.push([culprit + 1, to]);
  }

  function writeSummary(partial) {
    const summary = summarize(args, total, crashes, hangs, failures, (Date.now() - start) / 1000, out, !partial);
    if (partial) writeFileSync(join(out, 'summary.partial.json'), `${JSON.stringify(summary, null, 2)}\n`);
    else report(args, summary, out);
  }

  async function worker() {
    for (;;) {
      const next = queue.shift();
      if (next === undefined) return;
      const [from, to] = next;
      const result = await runBatch(args, from, to);
      if (result.stats !== undefined) {
        merge(total, result.stats);
        done += to - from;
      } else if (result.signal !== undefined) {
        await isolate('crash', result, from, to);
        done += 1;
        total.programs += 1;
      } else if (result.timeout) {
        await isolate('hang', result, from, to);
        done += 1;
        total.programs += 1;
      } else {
        failures.push({ batch: [from, to], exitCode: result.exitCode, last: result.last, stderr: result.stderr.slice(0, 2000) });
        process.stderr.write(`fuzz: child for ${from}..${to} exited with code ${result.exitCode}: ${result.stderr.slice(0, 500)}\n`);
        done += to - from;
      }
      writeSummary(true);
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        const s = (Date.now() - start) / 1000;
        process.stderr.write(`fuzz: ${done}/${args.programs} programs, ${s.toFixed(0)} s, ${total.accepted} accepted, ${total.ran} ran, crashes ${crashes.length}, hangs ${hangs.length}, untyped ${total.untyped}\n`);
      }
    }
  }

  await Promise.all(Array.from({ length: args.jobs }, () => worker()));
  writeSummary(false);
}

function summarize(args, total, crashes, hangs, failures, seconds, out, complete) {
  const rejectedByClass = Object.fromEntries(Object.entries(total.rejectedByClass).sort((a, b) => b[1] - a[1]));
  return {
    complete,
    seed: args.seed,
    programs: total.programs,
    verifications: total.verifications,
    accepted: total.accepted,
    rejected: total.rejected,
    ranNatively: total.ran,
    comparedWithInterpreter: total.compared,
    crashes: crashes.length,
    hangs: hangs.length,
    untypedErrors: total.untyped,
    jitErrorsOnVerified: total.jitErrors,
    runErrorsOnVerified: total.runErrors,
    interpreterMismatches: total.mismatches,
    childFailures: failures.length,
    seconds,
    programsPerSecond: Math.round(total.programs / seconds),
    byTarget: total.byTarget,
    bySource: total.bySource,
    acceptedNotRun: total.acceptedNotRun,
    rejectedByClass,
    examples: total.examples,
    crashReports: crashes.map((c) => ({ index: c.index, signal: c.signal, confirmedAlone: c.confirmedAlone })),
    hangReports: hangs.map((h) => ({ index: h.index, confirmedAlone: h.confirmedAlone })),
    failures,
    outDir: out,
  };
}

function report(args, summary, out) {
  const seconds = summary.seconds;
  const rejectedByClass = summary.rejectedByClass;
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const lines = [
      `programs          ${summary.programs} (${Object.entries(summary.bySource).map(([k, v]) => `${k} ${v}`).join(', ')})`,
      `verifications     ${summary.verifications} (${Object.entries(summary.byTarget).map(([k, v]) => `${k}: ${v.verifications} verified, ${v.accepted} accepted, ${v.ran} ran`).join('; ')})`,
      `accepted          ${summary.accepted} (ran natively on guarded memory: ${summary.ranNatively}; compared with the interpreter: ${summary.comparedWithInterpreter})`,
      `rejected          ${summary.rejected} (typed EbpfError), top classes:`,
      ...Object.entries(rejectedByClass)
        .slice(0, 15)
        .map(([k, v]) => `  ${String(v).padStart(8)}  ${k}`),
      `crashes           ${summary.crashes}`,
      `hangs             ${summary.hangs}`,
      `untyped errors    ${summary.untypedErrors}`,
      `JIT/run errors    ${summary.jitErrorsOnVerified}/${summary.runErrorsOnVerified} (on verified programs)`,
      `mismatches        ${summary.interpreterMismatches} (native vs interpreter)`,
      `child failures    ${summary.childFailures}`,
      `time              ${seconds.toFixed(1)} s (${summary.programsPerSecond} programs/s, ${args.jobs} children)`,
      `JSON              ${join(out, 'summary.json')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  const bad = summary.crashes + summary.hangs + summary.untypedErrors + summary.jitErrorsOnVerified + summary.runErrorsOnVerified + summary.childFailures;
  process.exitCode = bad === 0 ? 0 : 1;
}

const args = parseArgs(process.argv.slice(2));
if (args.child) await child(args);
else if (args.replay !== undefined) process.stdout.write(`${JSON.stringify(await describeProgram(args, args.replay), null, 2)}\n`);
else await parent(args);
