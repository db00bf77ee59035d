// Benchmarks of the native arena: text-poke latency (compare-and-swap + membarrier) and
// synchronize() latency with one busy reader thread reporting quiescent states.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ns, timeEach, writeResults } from '@bpf-dispatcher/bench-kit';
import { CodeBuffer, alu, jcc, jmp, mov, qword, ret } from '@bpf-dispatcher/x86';
import { NativeArena, emitQuiescentState, nativeSupported } from '../dist/index.js';

if (!nativeSupported()) {
  console.log('text-poke bench: native arena unsupported here; skipped');
  process.exit(0);
}

const arena = new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 });
const emit = (size, fn, align = 16) => {
  const region = arena.alloc(size, { align });
  const buf = new CodeBuffer(region.address, size);
  fn(buf);
  arena.write(region.address, buf.finish());
  return region.address;
};
const constant = (value) => (buf) => {
  mov(buf, 'eax', value);
  ret(buf);
};
const a = emit(16, constant(1));
const b = emit(16, constant(2));
const site = emit(16, (buf) => jmp(buf, a), 8);

let current = a;
const poke = timeEach(
  () => {
    const next = current === a ? b : a;
    arena.textPoke(site, 'jump', current, next);
    current = next;
  },
  { count: 5000, warmup: 200 },
);

// A busy reader: a native loop on a worker that reports a quiescent state every iteration
// until a stop flag is set.
const reader = arena.registerReader('busy-reader');
const flag = arena.allocData(64);
const loop = emit(64, (buf) => {
  const top = buf.newLabel();
  buf.bind(top);
  emitQuiescentState(buf, reader, 'r11');
  mov(buf, 'rax', flag.address);
  alu(buf, 'cmp', qword('rax'), 0);
  jcc(buf, 'e', top);
  ret(buf);
});
const require = createRequire(import.meta.url);
const worker = new Worker(
  `const { workerData, parentPort } = require('node:worker_threads');
   const koffi = require(workerData.koffi);
   koffi.load('libc.so.6');
   const proto = koffi.proto('uint64_t busy_reader(void)');
   parentPort.postMessage('running');
   koffi.call(workerData.entry, proto);
   parentPort.postMessage('done');`,
  { eval: true, workerData: { koffi: require.resolve('koffi'), entry: loop } },
);
await new Promise((resolve) => worker.once('message', resolve));
const syncSamples = [];
for (let i = 0; i < 2000; i++) {
  const start = process.hrtime.bigint();
  await arena.synchronize({ timeoutMs: 5000 });
  syncSamples.push(Number(process.hrtime.bigint() - start));
}
arena.dataView(flag)[0] = 1;
await new Promise((resolve) => worker.once('message', resolve));
await worker.terminate();
const { summarize } = await import('@bpf-dispatcher/bench-kit');
const sync = summarize(syncSamples);
reader.unregister(); // dispose() refuses while a reader is online
arena.dispose();

console.log('text-poke (native arena)');
console.log(`  textPoke jmp A <-> jmp B:          p50 ${ns(poke.p50)}  p99 ${ns(poke.p99)}`);
console.log(`  synchronize(), one busy reader:    p50 ${ns(sync.p50)}  p99 ${ns(sync.p99)}`);
writeResults(fileURLToPath(new URL('./results/poke.json', import.meta.url)), 'text-poke', [
  { case: 'native-text-poke', ns_p50: poke.p50, ns_p99: poke.p99, ns_min: poke.min, n: poke.n },
  { case: 'native-synchronize-one-busy-reader', ns_p50: sync.p50, ns_p99: sync.p99, ns_min: sync.min, n: sync.n },
]);
