// Benchmarks: changeProg latency (slot change + regenerate + write + poke + membarrier)
// on the native arena, and the time to generate a 16-entry image.
import { fileURLToPath } from 'node:url';
import { ns, summarize, timeBatches, writeResults } from '@bpf-dispatcher/bench-kit';
import { NativeArena, SimulatedArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, mov, ret } from '@bpf-dispatcher/x86';
import { Dispatcher, HALF_SIZE, createTrampoline, generateImage } from '../dist/index.js';

const arena = nativeSupported() ? new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 }) : new SimulatedArena();
const progs = Array.from({ length: 17 }, (_, i) => {
  const region = arena.alloc(16);
  const buf = new CodeBuffer(region.address, 16);
  mov(buf, 'eax', i);
  ret(buf);
  arena.write(region.address, buf.finish());
  return region.address;
});
const trampoline = createTrampoline(arena);
const dispatcher = new Dispatcher(arena, trampoline);
for (const p of progs.slice(0, 15)) await dispatcher.changeProg(null, p);

// Each change swaps the 16th entry between two programs: one regeneration + poke each.
const samples = [];
let current = null;
for (let i = 0; i < 3000; i++) {
  const next = progs[15 + (i % 2)];
  const start = process.hrtime.bigint();
  await dispatcher.changeProg(current, next);
  if (i >= 100) samples.push(Number(process.hrtime.bigint() - start));
  current = next;
}
const change = summarize(samples);

const image = dispatcher.imageRegion.address;
const list = progs.slice(0, 16);
// into one staging buffer, as a Dispatcher does with its own
const staging = new Uint8Array(2 * HALF_SIZE);
const generate = timeBatches(() => generateImage(image, list, { jump: trampoline.fallbackJump }, HALF_SIZE, staging), {
  batches: 50,
  iterations: 1000,
  warmup: 5000,
});
await dispatcher.dispose();
arena.dispose();

console.log(`dispatcher (${arena.kind} arena)`);
console.log(`  changeProg (16 entries, regenerate + poke):  p50 ${ns(change.p50)}  p99 ${ns(change.p99)}`);
console.log(`  generate a 16-entry image:                   median ${ns(generate.p50)}  p99 ${ns(generate.p99)}`);
writeResults(fileURLToPath(new URL('./results/dispatcher.json', import.meta.url)), 'dispatcher', [
  { case: `change-prog-${arena.kind}`, ns_p50: change.p50, ns_p99: change.p99, ns_min: change.min, n: change.n },
  { case: 'generate-16-entry-image', ns_median: generate.p50, ns_p99: generate.p99, ns_min: generate.min },
]);
