// Benchmark: the native xdp_call_run site with stats off and on (ns per call), through a
// dispatcher with one entry, from a native loop.
import { fileURLToPath } from 'node:url';
import { ns, summarize, writeResults } from '@bpf-dispatcher/bench-kit';
import { NativeArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, dec, jcc, mov, pop, push, ret } from '@bpf-dispatcher/x86';
import { createXdpBuff, defineXdpCall, emitXdpCallRun, xdpCallUpdate, xdpDrop } from '../dist/index.js';

if (!nativeSupported()) {
  console.log('xdp-call bench: native arena unsupported here; skipped');
  process.exit(0);
}
const arena = new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 });
const call = defineXdpCall(arena, 'bench');
const prog = xdpDrop(arena);
await xdpCallUpdate(call, null, prog);
// a 64-byte frame (xdp_drop does not look at it; the traffic generator lives in @bpf-dispatcher/i40e)
const buff = createXdpBuff(arena, new Uint8Array(64), { ifindex: 1 });

function loop(stats) {
  const region = arena.alloc(256, { align: 64 });
  const buf = new CodeBuffer(region.address, 256);
  const top = buf.newLabel();
  for (const r of ['rbx', 'r12', 'r13', 'r14']) push(buf, r);
  mov(buf, 'r14', 'rdi');
  mov(buf, 'rbx', buff.ctx);
  mov(buf, 'r12', prog.struct);
  buf.bind(top);
  emitXdpCallRun(buf, call.trampoline.entry, { ctx: 'rbx', prog: 'r12', ...(stats ? { statsScratch: 'r13' } : {}) });
  dec(buf, 'r14');
  jcc(buf, 'ne', top);
  for (const r of ['r14', 'r13', 'r12', 'rbx']) pop(buf, r);
  ret(buf);
  arena.write(region.address, buf.finish());
  return region.address;
}
const entries = { off: loop(false), on: loop(true) };
const N = 5_000_000;
const samples = { off: [], on: [] };
for (let round = 0; round < 9; round++) {
  for (const k of ['off', 'on']) {
    const t = process.hrtime.bigint();
    arena.call(entries[k], N);
    samples[k].push(Number(process.hrtime.bigint() - t) / N);
  }
}
const off = summarize(samples.off);
const on = summarize(samples.on);
console.log('xdp_call_run native site (dispatcher, 1 entry)');
console.log(`  stats off: ${ns(off.p50)} per call   stats on: ${ns(on.p50)} per call`);
writeResults(fileURLToPath(new URL('./results/xdp-call.json', import.meta.url)), 'xdp-call', [
  { case: 'xdp-call-run-stats-off', ns_per_call_median: off.p50, ns_min: off.min, ns_max: off.max },
  { case: 'xdp-call-run-stats-on', ns_per_call_median: on.p50, ns_min: on.min, ns_max: on.max },
]);
await call.dispose();
arena.dispose();
