// Benchmarks of the eBPF JIT: compile speed (verify + JIT, instructions per second) for
// programs of 10 .. 4096 instructions, and run speed (ns per run) of small programs through
// the native test-run loop beside the interpreter. Writes bench/results.json.
import { fileURLToPath } from 'node:url';
import { ns, summarize, timeBatches, timeEach, writeResults } from '@bpf-dispatcher/bench-kit';
import { NativeArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { insn, interpret, jit, testRun, verify } from '../dist/index.js';

if (!nativeSupported()) {
  console.log('ebpf jit bench: native arena unsupported here; skipped');
  process.exit(0);
}

const ALU64 = 0x07;
const ALU32 = 0x04;
const X = 0x08;
const op = (cls, o, dst, src, imm, x = false) => insn(cls | o | (x ? X : 0), dst, x ? src : 0, 0, x ? 0 : imm);
const mov = (dst, imm) => op(ALU64, 0xb0, dst, 0, imm);
const exit = () => insn(0x95, 0, 0, 0, 0);
const stDW = (off, imm) => insn(0x7a, 10, 0, off, imm);
const ldxDW = (dst, off) => insn(0x79, dst, 10, off, 0);
const stxDW = (off, src) => insn(0x7b, 10, src, off, 0);
const jgtImm = (dst, imm, off) => insn(0x25, dst, 0, off, imm);

/**
 * A verifier-friendly program of exactly `n` slots: registers set up, then a mix of 64/32-bit
 * ALU (add, sub, xor, or, and, mul, shifts, mov), stack stores and loads and forward jumps,
 * ending with exit. Typical of compiled filters: mostly ALU, some memory, some branches.
 */
function program(n) {
  const out = [stDW(-8, 0)];
  for (let r = 0; r <= 9; r++) if (r !== 1) out.push(mov(r, r * 3 + 1));
  const ops = [0x00, 0x10, 0xa0, 0x40, 0x50, 0x20];
  let k = 0;
  while (out.length < n - 1) {
    const left = n - 1 - out.length;
    const d = [0, 2, 3, 4, 5, 6, 7, 8, 9][k % 9];
    const s = [3, 5, 7, 9, 0, 2, 4, 6, 8][(k * 7) % 9];
    switch (k % 8) {
      case 5:
        out.push(stxDW(-16 - 8 * (k % 32), d));
        break;
      case 6:
        out.push(left >= 3 ? ldxDW(d, -8) : mov(d, k));
        break;
      case 7:
        out.push(left >= 3 ? jgtImm(d, k, 1) : mov(d, 1));
        break;
      case 3:
        out.push(op(ALU64, 0x60, d, 0, k % 63));
        break;
      default:
        out.push(op(k % 3 === 0 ? ALU32 : ALU64, ops[k % ops.length], d, s, (k * 2654435761) | 0, k % 2 === 0));
    }
    k++;
  }
  out.push(exit());
  return out;
}

const arena = new NativeArena({ textSize: 64 << 20, dataSize: 16 << 20 });
const progType = { kind: 'memory', size: 64 };
const compile = [];
console.log('ebpf JIT: compile speed (verify + jit into a native arena, free)');
for (const n of [10, 100, 1000, 4096]) {
  const insns = program(n);
  const count = n >= 1000 ? 200 : 2000;
  const verified = verify(insns, { progType });
  const verifyStats = timeEach(() => verify(insns, { progType }), { count, warmup: 50 });
  const jitStats = timeEach(() => jit(arena, verified).free(), { count, warmup: 50 });
  const both = timeEach(() => jit(arena, verify(insns, { progType })).free(), { count, warmup: 50 });
  const size = jit(arena, verified);
  const row = {
    insns: n,
    bytes: size.size,
    verify_ns_p50: verifyStats.p50,
    jit_ns_p50: jitStats.p50,
    verify_and_jit_ns_p50: both.p50,
    verify_and_jit_ns_p99: both.p99,
    jit_insns_per_s: Math.round(n / (jitStats.p50 / 1e9)),
    verify_and_jit_insns_per_s: Math.round(n / (both.p50 / 1e9)),
  };
  size.free();
  compile.push(row);
  console.log(
    `  ${String(n).padStart(5)} insns (${row.bytes} B): verify ${ns(verifyStats.p50)}, jit ${ns(jitStats.p50)}, both ${ns(both.p50)} ` +
      `(p99 ${ns(both.p99)}) = ${(row.verify_and_jit_insns_per_s / 1e6).toFixed(2)} M insns/s`,
  );
}
const thousand = compile.find((r) => r.insns === 1000);
const target = 1e6;
console.log(
  `  1,000 instructions verified + JIT'd: ${ns(thousand.verify_and_jit_ns_p50)} (target < 1 ms: ${thousand.verify_and_jit_ns_p50 < target ? 'met' : 'MISSED'})`,
);

// Run speed: small programs, native through the test-run loop vs the interpreter.
const data = Uint8Array.from({ length: 64 }, (_, i) => i * 7);
const RUN_PROGRAMS = {
  // r0 = 2; exit
  'return-constant': [mov(0, 2), exit()],
  // sum of the 64 data bytes, a loop of 6 instructions per byte
  'sum-64-bytes': [
    mov(0, 0),
    insn(0x15, 2, 0, 5, 0),
    insn(0x71, 3, 1, 0, 0),
    op(ALU64, 0x00, 0, 3, 0, true),
    op(ALU64, 0x00, 1, 0, 1),
    op(ALU64, 0x10, 2, 0, 1),
    insn(0x55, 2, 0, -5, 0),
    exit(),
  ],
  // 100 straight-line ALU/stack/branch instructions
  'straight-line-100': program(100),
};
const run = [];
console.log('ebpf JIT: run speed, ns per run (native: one call of the JIT-ed test-run loop; interpreter: interpret())');
for (const [name, insns] of Object.entries(RUN_PROGRAMS)) {
  const prog = jit(arena, insns);
  const repeat = 1_000_000;
  const samples = [];
  for (let i = 0; i < 7; i++) samples.push(testRun(prog, { data, repeat }).durationNs);
  const native = summarize(samples);
  const single = timeEach(() => testRun(prog, { data, repeat: 1 }), { count: 2000, warmup: 200 });
  const memory = data.slice();
  const interp = timeBatches(() => interpret(insns, { memory }), { batches: 15, iterations: 200, warmup: 200 });
  const expected = interpret(insns, { memory: data.slice() }).r0;
  const got = testRun(prog, { data }).retval;
  if (got !== expected) throw new Error(`${name}: native ${got} != interpreter ${expected}`);
  prog.free();
  const row = {
    program: name,
    insns: insns.length,
    native_ns_per_run: native.p50,
    interpreter_ns_per_run: interp.p50,
    speedup: interp.p50 / native.p50,
    single_test_run_call_ns: single.p50,
  };
  run.push(row);
  console.log(
    `  ${name.padEnd(18)} native ${ns(native.p50).padStart(9)}  interpreter ${ns(interp.p50).padStart(9)}  (x${row.speedup.toFixed(0)}); one testRun call with repeat 1: ${ns(single.p50)}`,
  );
}

// How loaded the machine was: a plain JS loop of 10^6 additions (about 1 ms on an idle core).
const calibration = timeEach(
  () => {
    let x = 0;
    for (let i = 0; i < 1e6; i++) x += i;
    return x;
  },
  { count: 20, warmup: 5 },
);
console.log(`  calibration: a 10^6-iteration JS loop takes ${ns(calibration.p50)} here (load indicator)`);
writeResults(fileURLToPath(new URL('./results.json', import.meta.url)), 'ebpf-jit', {
  calibration_loop_1e6_ns: calibration.p50,
  compile,
  target_1000_insns_ns: target,
  met: thousand.verify_and_jit_ns_p50 < target,
  run,
});
arena.dispose();
