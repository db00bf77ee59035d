// Benchmark of the verifier: time to verify straight-line programs of 1,000 and 4,096
// instructions (ALU, loads and stores to the buffer and the stack, spills and fills), a
// 4,085-instruction program of 1,020 data-dependent branches (pruning and joins at work)
// and a 3,000-instruction XDP parser with a data_end check per header.
// Target: the 1,000-instruction program in < 1 ms (median). Writes bench/results/verify.json
// (gathered by scripts/collect-bench.mjs). `--quick`: fewer batches.
import { fileURLToPath } from 'node:url';
import { ns, timeBatches, writeResults } from '@bpf-dispatcher/bench-kit';
import { assemble, verify } from '../dist/index.js';

const MEM = { progType: { kind: 'memory', size: 64 } };
const QUICK = process.argv.includes('--quick');
const quick = (timing) => (QUICK ? { ...timing, batches: Math.max(3, Math.ceil(timing.batches / 5)) } : timing);

function straightLine(n) {
  const ops = [
    'add %r0, 3',
    'ldxb %r3, [%r6+5]',
    'xor %r0, %r3',
    'stxdw [%r10-16], %r0',
    'ldxdw %r4, [%r10-16]',
    'lsh %r4, 2',
    'mov32 %r5, %r4',
    'stxw [%r6+8], %r5',
    'and %r0, 0xffff',
    'sub %r0, %r3',
  ];
  const lines = ['mov %r0, 0', 'mov %r6, %r1'];
  for (let k = 0; lines.length < n - 1; k++) lines.push(ops[k % ops.length]);
  lines.push('exit');
  return assemble(lines.join('\n'));
}

function branchy() {
  const lines = ['mov %r0, 0', 'ldxb %r3, [%r1]', 'ldxb %r4, [%r1+1]', 'mov %r6, %r1'];
  for (let k = 0; k < 1020; k++) lines.push(`jgt %r3, ${k % 200}, +2`, `add %r0, ${k % 5}`, `ldxb %r4, [%r6+${k % 60}]`, `xor %r4, %r0`);
  lines.push('exit');
  return assemble(lines.join('\n'));
}

function xdpParser() {
  const lines = ['ldxw %r2, [%r1+0]', 'ldxw %r3, [%r1+4]', 'mov %r0, 2'];
  for (let k = 1; k <= 500; k++) {
    lines.push(
      'mov %r4, %r2',
      `add %r4, ${k * 8}`,
      'jgt %r4, %r3, out',
      `ldxdw %r5, [%r2+${k * 8 - 8}]`,
      `jne %r5, ${k}, +1`,
      'add %r0, 1',
    );
  }
  lines.push('exit', 'out:', 'mov %r0, 1', 'exit');
  return assemble(lines.join('\n'));
}

// A small XDP program, the size most filters are: Ethernet/IPv4/UDP port check with two
// data_end comparisons (the JIT quality test's parser).
const smallXdp = assemble(`
  ldxw %r2, [%r1+0]
  ldxw %r3, [%r1+4]
  mov %r4, %r2
  add %r4, 34
  jgt %r4, %r3, pass
  ldxh %r5, [%r2+12]
  jne %r5, 8, pass
  ldxb %r5, [%r2+23]
  jne %r5, 17, pass
  mov %r4, %r2
  add %r4, 42
  jgt %r4, %r3, pass
  ldxh %r5, [%r2+36]
  jne %r5, 0x3500, pass
  mov %r0, 1
  exit
pass:
  mov %r0, 2
  exit`);

const cases = [
  ['xdp-parser-18', smallXdp, { progType: 'xdp' }, { batches: 30, iterations: 200, warmup: 2000 }],
  ['straight-1000', straightLine(1000), MEM, { batches: 30, iterations: 50, warmup: 300 }],
  ['straight-4096', straightLine(4096), MEM, { batches: 20, iterations: 10, warmup: 50 }],
  ['branchy-4085', branchy(), MEM, { batches: 5, iterations: 1, warmup: 2 }],
  ['xdp-parser-3003', xdpParser(), { progType: 'xdp' }, { batches: 10, iterations: 2, warmup: 4 }],
];
const target = 1_000_000;
const results = [];
console.log('ebpf verify');
for (const [name, program, options, timing] of cases) {
  const processed = verify(program, options).processedInsns;
  const stats = timeBatches(() => verify(program, options), quick(timing));
  const row = { case: name, insns: program.length, processed_insns: processed, ns_median: stats.p50, ns_p99: stats.p99, ns_min: stats.min };
  results.push(row);
  console.log(
    `  ${name.padEnd(16)} ${String(program.length).padStart(5)} insns, ${String(processed).padStart(6)} processed: median ${ns(stats.p50)}  p99 ${ns(stats.p99)}  min ${ns(stats.min)}`,
  );
}
const thousand = results.find((r) => r.case === 'straight-1000').ns_median;
console.log(`  1000-insn straight line: target < ${ns(target)}: ${thousand < target ? 'met' : 'MISSED'}`);
writeResults(fileURLToPath(new URL('./results/verify.json', import.meta.url)), 'ebpf-verify', {
  quick: QUICK,
  target_1000_insns_ns: target,
  met: thousand < target,
  results,
});
