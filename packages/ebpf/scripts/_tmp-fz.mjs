import { NativeArena } from '@bpf-dispatcher/text-poke';
import { Fuzzer } from '/work/main/packages/ebpf/dist/fuzz/run.js';
import { fuzzProgram } from '/work/main/packages/ebpf/dist/fuzz/generate.js';
import { Rng } from '/work/main/packages/ebpf/dist/fuzz/rng.js';
const arena = new NativeArena();
const f = new Fuzzer(arena);
const counts = {}; const t0 = Date.now(); const N = +process.argv[2] || 2000;
const reasons = {};
for (let i = 0; i < N; i++) {
  const rng = new Rng(1, i);
  const p = fuzzProgram(rng);
  for (const o of f.fuzzProgram(p, rng)) {
    const k = `${p.source}/${o.target}/${o.verdict}${o.ran ? '/ran' : ''}`;
    counts[k] = (counts[k] ?? 0) + 1;
    if (o.reason) reasons[o.reason] = (reasons[o.reason] ?? 0) + 1;
    if (o.verdict !== 'accepted' && o.verdict !== 'rejected') console.log(i, o);
  }
}
console.log(Date.now() - t0, 'ms'); console.log(counts);
console.log(Object.entries(reasons).sort((a,b)=>b[1]-a[1]).slice(0,40));
