// Benchmark: packets per second of the native driver loop, copy mode and zero-copy,
// xdp_drop through the dispatcher, one rx ring; interleaved runs, medians.
import { fileURLToPath } from 'node:url';
import { summarize, writeResults } from '@bpf-dispatcher/bench-kit';
import { NativeArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { xdpDrop } from '@bpf-dispatcher/xdp-call';
import { I40eDevice, i40eXdpSetup } from '../dist/index.js';

if (!nativeSupported()) {
  console.log('i40e bench: native arena unsupported here; skipped');
  process.exit(0);
}
const setups = [];
for (const mode of ['copy', 'zc']) {
  const arena = new NativeArena({ textSize: 1 << 20, dataSize: 8 << 20 });
  const device = new I40eDevice(arena, { mode, ringSize: 256 });
  await i40eXdpSetup(device.netdevs[0], xdpDrop(arena));
  device.run(1_000_000);
  setups.push({ mode, arena, device, samples: [] });
}
const N = 10_000_000;
for (let round = 0; round < 7; round++) {
  for (const s of setups) {
    const t = process.hrtime.bigint();
    s.device.run(N);
    s.samples.push((N / Number(process.hrtime.bigint() - t)) * 1e3);
  }
}
const results = setups.map((s) => {
  const m = summarize(s.samples);
  console.log(`i40e ${s.mode.padEnd(4)} xdp_drop: ${m.p50.toFixed(1)} Mpps (min ${m.min.toFixed(1)}, max ${m.max.toFixed(1)})`);
  return { case: `i40e-${s.mode}-xdp-drop`, mpps_median: m.p50, mpps_min: m.min, mpps_max: m.max, ns_per_packet_median: 1e3 / m.p50 };
});
writeResults(fileURLToPath(new URL('./results/i40e.json', import.meta.url)), 'i40e', results);
for (const s of setups) {
  await s.device.dispose();
  s.arena.dispose();
}
