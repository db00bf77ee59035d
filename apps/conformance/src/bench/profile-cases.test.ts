import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { instructionsPerPacket } from './packet-cases.js';
import {
  PROFILE_CASES,
  PROGRAMS,
  type ProfileCaseName,
  SEQUENCE_LENGTH,
  packetsPerNetdev,
  profileCase,
  profileCases,
  profileInstructions,
  rankOrder,
  trafficSequence,
  trafficShares,
} from './profile-cases.js';

describe('the mixed traffic', () => {
  it('is a fixed pseudo-random sequence of 4096 rings drawn from Zipf(s = 1) or the uniform distribution', () => {
    for (const distribution of ['zipf', 'uniform'] as const) {
      const sequence = trafficSequence(distribution);
      expect(sequence).toHaveLength(SEQUENCE_LENGTH);
      expect(trafficSequence(distribution)).toEqual(sequence);
      expect(new Set(sequence).size).toBe(PROGRAMS);
      const shares = trafficShares(distribution);
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const counts = packetsPerNetdev(sequence, SEQUENCE_LENGTH).map(Number);
      // within a few standard deviations of the distribution
      counts.forEach((c, i) => {
        const p = shares[i] as number;
        expect(Math.abs(c - p * SEQUENCE_LENGTH)).toBeLessThan(4 * Math.sqrt(SEQUENCE_LENGTH * p * (1 - p)) + 1);
      });
    }
    // Zipf: the most popular netdev gets about 1/H16 = 30% of the packets, the least 1.9%
    const zipf = trafficShares('zipf');
    expect(zipf[rankOrder()[0] as number]).toBeCloseTo(0.2955, 3);
    expect([...rankOrder()].sort((a, b) => a - b)).toEqual(Array.from({ length: PROGRAMS }, (_, i) => i));
    expect(packetsPerNetdev([3, 1, 3], 7)).toEqual(Object.assign(new Array(PROGRAMS).fill(0n), { 1: 2n, 3: 5n }));
  });
});

describe('instructions per packet (simulated CPU, exact)', () => {
  it("profile-hot-16 runs what dispatcher-1 runs; the Zipf profile layout runs fewer than the kernel layout; each difference is the image's", async () => {
    const counted = new Map<ProfileCaseName, Awaited<ReturnType<typeof profileInstructions>>>();
    for (const name of PROFILE_CASES) counted.set(name, await profileInstructions(name));
    const get = (name: ProfileCaseName) => counted.get(name) as Awaited<ReturnType<typeof profileInstructions>>;
    const d1 = await instructionsPerPacket({ kind: 'dispatcher', entries: 1 });
    const d16 = await instructionsPerPacket({ kind: 'dispatcher', entries: 16 });
    // hot: cmp rdx, prog; je prog at the image start, as in the one-entry image; the kernel layout's four levels gone
    expect(get('profile-hot-16').perPacket).toBe(d1);
    expect(d16 - get('profile-hot-16').perPacket).toBe(8);
    expect(get('profile-hot-16').dispatch).toEqual({ layout: 'profile', expectedInstructions: 2, kernelInstructions: 10 });
    // the kernel layout: 10 image instructions per call whatever the traffic; both distributions cost the same
    for (const name of ['zipf-kernel-16', 'uniform-kernel-16'] as const) {
      const { dispatch, perPacket } = get(name);
      expect(dispatch.layout).toBe('kernel');
      expect(dispatch.expectedInstructions).toBeCloseTo(10, 9);
      // 167, up to a ring wrap or so in 4096 packets (the rings fill at different rates)
      expect(perPacket).toBeCloseTo(167, 2);
    }
    // Zipf: 165.63 against 167 instructions per packet (8.63 image instructions per call against 10)
    expect(get('zipf-profile-16').dispatch.layout).toBe('profile');
    expect(get('zipf-profile-16').perPacket).toBeCloseTo(165.63, 2);
    // uniform (measured counts, not exactly equal): a tree with fewer expected mispredictions, 0.38 more instructions
    expect(get('uniform-profile-16').dispatch.layout).toBe('profile');
    expect(get('uniform-profile-16').perPacket).toBeCloseTo(167.38, 2);
    // the whole difference is in the image
    for (const [profile, kernel] of [
      ['zipf-profile-16', 'zipf-kernel-16'],
      ['uniform-profile-16', 'uniform-kernel-16'],
    ] as const) {
      expect(get(profile).perPacket - get(kernel).perPacket).toBeCloseTo(get(profile).dispatch.expectedInstructions - 10, 3);
    }
  }, 120_000);
});

describe('the cases count every packet exactly', () => {
  it.each(PROFILE_CASES)(
    '%s on the simulated arena: every program counts the packets its netdev got; a wrong total fails',
    async (name) => {
      const c = await profileCase(name, { warmupPackets: 1, arena: 'simulated' });
      try {
        expect(c.entries).toBe(16);
        c.run(100);
        c.run(SEQUENCE_LENGTH + 37);
        c.verify(BigInt(SEQUENCE_LENGTH + 137));
        expect(() => c.verify(BigInt(SEQUENCE_LENGTH + 136))).toThrow(/expected/);
      } finally {
        await c.dispose();
      }
    },
    60_000,
  );

  it.skipIf(!nativeSupported())(
    'natively: tiny runs of every case verify; the profile cases are laid out as intended',
    async () => {
      const { cases, instructions } = await profileCases({ warmupPackets: 2 * SEQUENCE_LENGTH });
      try {
        expect(cases.map((c) => c.name)).toEqual([...PROFILE_CASES]);
        expect([...instructions.keys()]).toEqual([...PROFILE_CASES]);
        for (const c of cases) {
          expect(c.run(10_000)).toBeGreaterThan(0);
          c.run(5_000);
          c.verify(15_000n);
          expect(c.dispatch.layout).toBe(c.name.includes('kernel') ? 'kernel' : 'profile');
        }
        const hot = cases.find((c) => c.name === 'profile-hot-16');
        expect(hot?.dispatch.expectedInstructions).toBe(2);
        // the warm-up covers whole sequences: the native image is the one counted on the simulator
        for (const name of ['zipf-profile-16', 'uniform-profile-16'] as const) {
          expect(cases.find((c) => c.name === name)?.dispatch).toEqual((await profileInstructions(name)).dispatch);
        }
      } finally {
        for (const c of cases) await c.dispose();
      }
    },
    120_000,
  );

  it('rejects unknown cases and bad options', async () => {
    await expect(profileCase('zipf-16' as never)).rejects.toThrow(/one of/);
    await expect(profileCase('zipf-kernel-16', { warmupPackets: 0 })).rejects.toThrow(/warmupPackets/);
    await expect(profileCase('zipf-kernel-16', { arena: 'wasm' as never })).rejects.toThrow(/arena/);
  });
});
