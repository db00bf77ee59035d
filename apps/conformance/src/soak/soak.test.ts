import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, FIRST_FAULT_ROUND, faultSchedule } from './schedule.js';

// The soak starts its traffic thread from the compiled worker, so these tests run the
// built module (turbo builds the app before its tests).
const load = async () => (await import(new URL('../../dist/soak/soak.js', import.meta.url).href)) as typeof import('./soak.js');

describe('fault schedule (bound by update counts, not time)', () => {
  it('puts a first round early and spreads the others evenly, never past the update limit', () => {
    expect(faultSchedule(1)).toEqual([1]);
    expect(faultSchedule(2)).toEqual([1]);
    expect(faultSchedule(1_000)).toEqual([500]);
    expect(faultSchedule(5_000)).toEqual([FIRST_FAULT_ROUND]);
    expect(faultSchedule(100_000)).toEqual([500, 20_500, 40_500, 60_500, 80_500]);
    for (const updates of [1, 3, 999, 19_999, 20_000, 39_999, 40_000, 1_000_000, 1_234_567]) {
      const points = faultSchedule(updates);
      expect(points.length).toBe(Math.max(1, Math.floor(updates / 20_000)));
      expect(points[0]).toBeLessThanOrEqual(FIRST_FAULT_ROUND);
      for (const [i, p] of points.entries()) {
        expect(p).toBeGreaterThanOrEqual(1);
        expect(p).toBeLessThanOrEqual(updates);
        if (i > 0) expect(p).toBeGreaterThan(points[i - 1] as number);
      }
    }
    expect(faultSchedule(0)).toEqual([1]);
  });
});

describe.skipIf(!nativeSupported())('soak (short)', () => {
  const clean = (report: Awaited<ReturnType<Awaited<ReturnType<typeof load>>['runSoak']>>) => ({
    misrouted: report.misrouted,
    foreignHandled: report.foreignHandled,
    unaccounted: report.unaccounted,
    lost: report.packetsGenerated - report.packetsProcessed,
  });
  const everyKindOnce = (report: Awaited<ReturnType<Awaited<ReturnType<typeof load>>['runSoak']>>, times: number) =>
    expect(report.faults.map((f) => [f.fault, f.code, f.injected, f.typedErrors, f.recovered])).toEqual(
      FAULT_KINDS.map((k) => [k.fault, k.code, times, times, times]),
    );

  it('churns under native traffic, stopping at the update limit, with every kind of fault injected once', async () => {
    const { runSoak } = await load();
    // an hour of time: only the update count can end this run, on any machine
    const report = await runSoak({ seconds: 3_600, updates: 2_000, faults: true, seed: 7 });
    expect(clean(report)).toEqual({ misrouted: 0n, foreignHandled: 0n, unaccounted: 0n, lost: 0n });
    expect(report.stoppedBy).toBe('updates');
    expect(report.updates).toBeGreaterThanOrEqual(2_000);
    expect(report.faultRounds).toBe(1);
    expect(report.packetsProcessed).toBeGreaterThanOrEqual(1_000_000n); // at least one chunk of traffic ran
    expect(report.placements.fallback).toBeGreaterThan(0); // the dispatcher was full at times
    everyKindOnce(report, 1);
    expect(report.ok).toBe(true);
  }, 120_000);

  it('stops at the time limit, but never before every kind of fault was injected', async () => {
    const { runSoak } = await load();
    // no machine does 10^8 updates in a second: the time limit ends this run
    const report = await runSoak({ seconds: 1, updates: 100_000_000, faults: true, seed: 3 });
    expect(report.stoppedBy).toBe('seconds');
    expect(report.faultRounds).toBeGreaterThanOrEqual(1);
    expect(report.faults.every((f) => f.injected >= 1 && f.typedErrors === f.injected && f.recovered === f.injected)).toBe(true);
    expect(report.faults.length).toBe(FAULT_KINDS.length);
    expect(clean(report)).toEqual({ misrouted: 0n, foreignHandled: 0n, unaccounted: 0n, lost: 0n });
    expect(report.ok).toBe(true);
  }, 120_000);

  it('injects nothing without faults, and is still correct', async () => {
    const { runSoak } = await load();
    const report = await runSoak({ seconds: 3_600, updates: 300, faults: false, seed: 11 });
    expect(report.faults).toEqual([]);
    expect(report.faultsRequested).toBe(false);
    expect(report.stoppedBy).toBe('updates');
    expect(report.updates).toBe(300);
    expect(clean(report)).toEqual({ misrouted: 0n, foreignHandled: 0n, unaccounted: 0n, lost: 0n });
    expect(report.ok).toBe(true);
  }, 120_000);
});
