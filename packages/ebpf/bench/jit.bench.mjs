// Benchmarks of the eBPF JIT, all in one run so the ratios are side by side:
//
// 1. compile speed: verify + JIT (into a native arena, then free) of programs of 10, 100,
//    1,000 and 4,096 instructions, in instructions per second (target: 1,000 in < 1 ms);
// 2. run speed, ns per run, of small programs written here (ALU, stack and atomics,
//    conformance-style programs on a 64-byte memory, a UDP packet parser) in four runtimes:
//    the native JIT (testRun: one native call runs the program `repeat` times), the
//    interpreter, the same JIT'd code on the simulated CPU (testRun on a SimulatedArena) and,
//    where bpf() works, the kernel's BPF_PROG_TEST_RUN with `repeat` (its own loop and clock).
//
// Writes bench/results/jit.json (gathered by scripts/collect-bench.mjs). `--quick`: fewer runs.
import { fileURLToPath } from 'node:url';
import { ns, summarize, timeBatches, timeEach, writeResults } from '@bpf-dispatcher/bench-kit';
import { NativeArena, nativeSupported, SimulatedArena } from '@bpf-dispatcher/text-poke';
import { assemble, insn, interpret, jit, kernelBpfAvailable, kernelProgLoad, kernelTestRun, testRun, verify } from '../dist/index.js';

const QUICK = process.argv.includes('--quick');
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
console.log(`ebpf JIT: compile speed (verify + jit into a native arena, free)${QUICK ? ' [quick]' : ''}`);
for (const n of [10, 100, 1000, 4096]) {
  const insns = program(n);
  const count = (n >= 1000 ? 200 : 2000) / (QUICK ? 10 : 1);
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
    verify_and_jit_ns_min: both.min,
    jit_insns_per_s: Math.round(n / (jitStats.p50 / 1e9)),
    verify_and_jit_insns_per_s: Math.round(n / (both.p50 / 1e9)),
  };
  size.free();
  compile.push(row);
  console.log(
    `  ${String(n).padStart(5)} insns (${String(row.bytes).padStart(5)} B): verify ${ns(verifyStats.p50).padStart(9)}, jit ${ns(jitStats.p50).padStart(9)}, ` +
      `both ${ns(both.p50).padStart(9)} (min ${ns(both.min)}, p99 ${ns(both.p99)}) = ${(row.verify_and_jit_insns_per_s / 1e6).toFixed(2)} M insns/s verified + JIT'd`,
  );
}
const thousand = compile.find((r) => r.insns === 1000);
const target = 1e6;
console.log(
  `  1,000 instructions verified + JIT'd: median ${ns(thousand.verify_and_jit_ns_p50)}, best ${ns(thousand.verify_and_jit_ns_min)} ` +
    `(target < 1 ms, median: ${thousand.verify_and_jit_ns_p50 < target ? 'met' : 'MISSED'}; see the calibration line for the load)`,
);

// ---------------------------------------------------------------------------------------
// Run speed. A 64-byte Ethernet/IPv4/UDP frame to port 53 is the memory of every program.
const frame = new Uint8Array(64);
frame.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0); // Ethernet, IPv4
frame.set([0x45, 0, 0, 50, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14); // IPv4, UDP
frame.set([0x30, 0x39, 0, 53, 0, 30, 0, 0], 34); // UDP 12345 -> 53, length 30
for (let i = 42; i < 64; i++) frame[i] = i * 7;

const alu30 = `
  mov %r0, 1
  mov %r2, 7
  mov32 %r3, 3
  add %r0, %r2
  mul %r0, 13
  xor %r3, %r0
  lsh %r3, 5
  add32 %r3, 1000
  sub %r0, %r3
  or %r0, 0x40
  and %r0, 0xfffff
  rsh %r0, 2
  arsh %r3, 1
  mov %r4, %r0
  add %r4, %r3
  neg %r4
  mul32 %r4, %r2
  xor %r0, %r4
  sub32 %r2, 9
  lsh %r2, %r3
  or %r0, %r2
  mov32 %r5, %r0
  rsh32 %r5, 3
  add %r0, %r5
  and32 %r0, 0x7fff
  be16 %r0
  le32 %r0
  mov %r0, %r0
  and %r0, 3
  exit`;

const stackAtomics = `
  stdw [%r10-8], 5
  stdw [%r10-16], 0
  mov %r1, 3
  lock add [%r10-8], %r1
  mov %r2, 7
  lock fetch add [%r10-16], %r2
  mov %r0, 1
  lock xchg [%r10-8], %r0
  mov %r0, 8
  mov %r3, 2
  lock cmpxchg [%r10-8], %r3
  lock fetch or [%r10-16], %r3
  ldxdw %r0, [%r10-8]
  add %r0, %r2
  add %r0, %r3
  exit`;

// Conformance-style: the IPv4 header checksum: the field (offset 24) zeroed, the 16-bit
// one's-complement sum of the 10 halfwords folded and stored into it (same result every run).
const checksum = `
  sth [%r1+24], 0
  mov %r0, 0
${Array.from({ length: 10 }, (_, k) => `  ldxh %r3, [%r1+${14 + 2 * k}]\n  add %r0, %r3`).join('\n')}
  mov %r3, %r0
  rsh %r3, 16
  and %r0, 0xffff
  add %r0, %r3
  mov %r3, %r0
  rsh %r3, 16
  add %r0, %r3
  xor %r0, 0xffff
  and %r0, 0xffff
  stxh [%r1+24], %r0
  exit`;

// Conformance-style: byte swaps and 8/16/32/64-bit loads and stores over the payload.
const bswapStore = `
  ldxdw %r3, [%r1+40]
  be64 %r3
  stxdw [%r1+48], %r3
  ldxw %r4, [%r1+44]
  be32 %r4
  stxw [%r1+56], %r4
  ldxh %r5, [%r1+60]
  be16 %r5
  stxh [%r1+62], %r5
  ldxb %r0, [%r1+42]
  stb [%r1+31], 0x5a
  add %r0, %r3
  add %r0, %r4
  add %r0, %r5
  stdw [%r1+32], -1
  exit`;

// The packet parser: UDP to port 53 over IPv4 without options is dropped (1), else passed (2).
const parser = `
  jlt %r2, 42, pass
  ldxh %r3, [%r1+12]
  jne %r3, 0x0008, pass       # EtherType 0x0800, read little endian
  ldxb %r3, [%r1+14]
  jne %r3, 0x45, pass         # IPv4, 20-byte header
  ldxb %r3, [%r1+23]
  jne %r3, 17, pass           # UDP
  ldxh %r3, [%r1+36]
  be16 %r3
  jne %r3, 53, pass           # destination port
  mov %r0, 1
  exit
pass:
  mov %r0, 2
  exit`;

/**
 * The kernel's form of a memory program: an XDP program whose packet is the memory. The
 * prologue turns the xdp_md into r1 = data, r2 = 64 after the data_end check the kernel's
 * verifier requires (9 slots more than ours, 7 of them on the path).
 */
const xdpPrologue = `
  ldxw %r2, [%r1+0]
  ldxw %r3, [%r1+4]
  mov %r4, %r2
  add %r4, 64
  jgt %r4, %r3, too_short
  mov %r1, %r2
  mov %r2, 64
`;
const xdpEpilogue = `
too_short:
  mov %r0, 0
  exit`;

const RUN_PROGRAMS = [
  { name: 'return-constant', text: 'mov %r0, 2\nexit', memory: false },
  { name: 'alu-30', text: alu30, memory: false },
  { name: 'stack-atomics', text: stackAtomics, memory: false },
  { name: 'mem-ipv4-checksum', text: checksum, memory: true },
  { name: 'mem-bswap-ld-st', text: bswapStore, memory: true },
  { name: 'udp-packet-parser', text: parser, memory: true },
  { name: 'straight-line-100', insns: program(100), memory: false },
];

const kernel = kernelBpfAvailable();
if (!kernel.ok) console.log(`  kernel BPF_PROG_TEST_RUN column skipped: ${kernel.reason}`);
const simulated = new SimulatedArena({ textSize: 1 << 20, dataSize: 1 << 20 });
// Many short samples, best of them: on a shared machine a long sample is always preempted
// (the kernel's BPF_PROG_TEST_RUN clock stops while it reschedules; ours cannot).
const NATIVE_REPEAT = 20_000;
const KERNEL_REPEAT = 20_000;
const SIM_REPEAT = QUICK ? 20 : 50;
const SAMPLES = QUICK ? 10 : 40;

/** The kernel's ns per run of the same program (XDP; a memory program behind the xdp prologue). */
function kernelRun(p, expected) {
  if (!kernel.ok) return undefined;
  const text = p.memory ? `${xdpPrologue}\n${p.text}\n${xdpEpilogue}` : p.text;
  const insns = p.insns ?? assemble(text);
  const prog = kernelProgLoad(insns, { progType: 'xdp', name: 'bench' });
  try {
    const first = kernelTestRun(prog, { data: frame, repeat: 1 });
    if (BigInt(first.retval) !== (expected & 0xffff_ffffn))
      throw new Error(`${p.name}: kernel retval ${first.retval} != ${expected & 0xffff_ffffn}`);
    const samples = [];
    for (let i = 0; i < SAMPLES; i++) samples.push(kernelTestRun(prog, { data: frame, repeat: KERNEL_REPEAT }).durationNs);
    const stats = summarize(samples);
    return { ns: stats.min, p50: stats.p50, slots: insns.length };
  } finally {
    prog.close();
  }
}

const run = [];
console.log(
  `ebpf JIT: run speed, ns per run on a 64-byte UDP frame, best of ${SAMPLES} samples (native: the JIT-ed test-run loop, ${NATIVE_REPEAT} runs a call; ` +
    `interpreter: interpret(); simulated: the same code on the simulated CPU; kernel: BPF_PROG_TEST_RUN, repeat ${KERNEL_REPEAT})`,
);
console.log(
  `  ${'program'.padEnd(19)} ${'slots'.padStart(5)} ${'native'.padStart(9)} ${'interpreter'.padStart(11)} ${'(x)'.padStart(7)} ${'simulated'.padStart(10)} ${'(x)'.padStart(8)} ${'kernel'.padStart(9)} ${'(x)'.padStart(6)}`,
);
for (const p of RUN_PROGRAMS) {
  const insns = p.insns ?? assemble(p.text);
  const prog = jit(arena, insns, { progType });
  const expected = interpret(insns, { memory: frame.slice() }).r0;
  const got = testRun(prog, { data: frame }).retval;
  if (got !== expected) throw new Error(`${p.name}: native ${got} != interpreter ${expected}`);
  const samples = [];
  for (let i = 0; i < SAMPLES; i++) samples.push(testRun(prog, { data: frame, repeat: NATIVE_REPEAT }).durationNs);
  const nativeStats = summarize(samples);
  const native = nativeStats.min;
  prog.free();
  const interpStats = timeBatches(() => interpret(insns, { memory: frame.slice() }), {
    batches: QUICK ? 5 : 20,
    iterations: 100,
    warmup: QUICK ? 1000 : 5000, // V8 needs thousands of calls to settle the interpreter's code
  });
  const interp = interpStats.min;
  const sprog = jit(simulated, insns, { progType });
  testRun(sprog, { data: frame, repeat: SIM_REPEAT }); // warm-up: the simulated CPU is JavaScript
  const simSamples = [];
  for (let i = 0; i < (QUICK ? 2 : 8); i++) {
    const r = testRun(sprog, { data: frame, repeat: SIM_REPEAT });
    if (r.retval !== expected) throw new Error(`${p.name}: simulated ${r.retval} != interpreter ${expected}`);
    simSamples.push(r.durationNs);
  }
  sprog.free();
  const simStats = summarize(simSamples);
  const sim = { durationNs: simStats.min };
  const k = kernelRun(p, expected);
  const row = {
    program: p.name,
    insns: insns.length,
    memory: p.memory,
    native_ns_per_run: native,
    native_ns_per_run_p50: nativeStats.p50,
    interpreter_ns_per_run: interp,
    interpreter_ns_per_run_p50: interpStats.p50,
    simulated_ns_per_run: sim.durationNs,
    simulated_ns_per_run_p50: simStats.p50,
    kernel_ns_per_run: k?.ns ?? null,
    kernel_ns_per_run_p50: k?.p50 ?? null,
    kernel_slots: k?.slots ?? null,
    interpreter_vs_native: interp / native,
    simulated_vs_native: sim.durationNs / native,
    kernel_vs_native: k === undefined ? null : k.ns / native,
  };
  run.push(row);
  const x = (v) => (v === null ? 'n/a' : `x${v < 10 ? v.toFixed(2) : v.toFixed(0)}`);
  console.log(
    `  ${p.name.padEnd(19)} ${String(insns.length).padStart(5)} ${ns(native).padStart(9)} ${ns(interp).padStart(11)} ${x(row.interpreter_vs_native).padStart(7)} ` +
      `${ns(sim.durationNs).padStart(10)} ${x(row.simulated_vs_native).padStart(8)} ${(k ? ns(k.ns) : 'n/a').padStart(9)} ${x(row.kernel_vs_native).padStart(6)}`,
  );
}
console.log('  (x) = ns per run relative to the native JIT; the kernel runs memory programs as XDP behind a 7-slot data_end prologue');

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
writeResults(fileURLToPath(new URL('./results/jit.json', import.meta.url)), 'ebpf-jit', {
  quick: QUICK,
  calibration_loop_1e6_ns: calibration.p50,
  compile,
  target_1000_insns_ns: target,
  met: thousand.verify_and_jit_ns_p50 < target,
  run,
});
simulated.dispose();
arena.dispose();
