import { describe, expect, it } from 'vitest';
import { nativeSupported } from '@bpf-dispatcher/text-poke';

// The soak starts its traffic thread from the compiled worker, so this test runs the
// built module (turbo builds the app before its tests).
const load = async () => (await import(new URL('../../dist/soak/soak.js', import.meta.url).href)) as typeof import('./soak.js');

describe.skipIf(!nativeSupported())('soak (short)', () => {
  it('churns the dispatcher under native traffic with faults: nothing misrouted, nothing lost', async () => {
    const { runSoak } = await load();
    const report = await runSoak({ seconds: 2, minUpdates: 5_000, faults: true, seed: 7 });
    expect({
      misrouted: report.misrouted,
      foreignHandled: report.foreignHandled,
      unaccounted: report.unaccounted,
      lost: report.packetsGenerated - report.packetsProcessed,
    }).toEqual({ misrouted: 0n, foreignHandled: 0n, unaccounted: 0n, lost: 0n });
    expect(report.updates).toBeGreaterThanOrEqual(5_000);
    expect(report.packetsProcessed).toBeGreaterThan(1_000_000n);
    expect(report.placements.fallback).toBeGreaterThan(0); // the dispatcher was full at times
    expect(report.faults.map((f) => [f.fault, f.injected > 0, f.typedErrors === f.injected, f.recovered === f.injected])).toEqual(
      report.faults.map((f) => [f.fault, true, true, true]),
    );
    expect(report.faults.length).toBe(5);
    expect(report.ok).toBe(true);
  }, 60_000);
});
