// Benchmark: time to encode a 16-entry dispatcher's worth of code (the kernel's binary
// search tree: 16 leaves of cmp/je/jmp, 15 inner cmp/jg, 16-byte alignment; ~100
// instructions), into a fresh CodeBuffer over a reused 2 KiB staging
// array (as the dispatcher does), including finish(). Target: < 5 us median.
import { fileURLToPath } from 'node:url';
import { ns, timeBatches, writeResults } from '@bpf-dispatcher/bench-kit';
import { CodeBuffer, cmp, jcc, jmp } from '../dist/index.js';

const IMAGE = 0xffffffffc0020000n;
const THUNK = 0xffffffff81c00f10n;
const PROGS = Array.from({ length: 16 }, (_, i) => -16 + i); // sorted, signed

function emitTree(buf, progs, a, b) {
  if (a === b) {
    cmp(buf, 'rdx', progs[a], 'imm32');
    jcc(buf, 'e', progs[a]);
    jmp(buf, THUNK);
    return;
  }
  const pivot = Math.floor((b - a) / 2);
  cmp(buf, 'rdx', progs[a + pivot], 'imm32');
  const upper = buf.newLabel();
  jcc(buf, 'g', upper, pivot > 2 ? 'near' : 'short');
  emitTree(buf, progs, a, a + pivot);
  buf.align(16);
  buf.bind(upper);
  emitTree(buf, progs, a + pivot + 1, b);
}

// The dispatcher encodes into a reused staging array the size of an image half.
const staging = new Uint8Array(2048);

function emitImage() {
  const buf = new CodeBuffer(IMAGE, staging);
  emitTree(buf, PROGS, 0, PROGS.length - 1);
  return buf.finish();
}

const size = emitImage().length;
const stats = timeBatches(emitImage, { batches: 50, iterations: 2000, warmup: 20000 });
const target = 5000;
console.log(`x86 encode: 16-entry dispatcher image (${size} bytes)`);
console.log(`  median ${ns(stats.p50)}  p99 ${ns(stats.p99)}  min ${ns(stats.min)}  (target < ${ns(target)}: ${stats.p50 < target ? 'met' : 'MISSED'})`);
writeResults(fileURLToPath(new URL('./results/encode.json', import.meta.url)), 'x86-encode', [
  { case: 'encode-16-entry-image', bytes: size, ns_median: stats.p50, ns_p99: stats.p99, ns_min: stats.min, target_ns: target, met: stats.p50 < target },
]);
