/**
 * The `profile` layout of a Dispatcher: setWeights regenerates the image through the same
 * serialised, double-buffered, grace-period-protected update as changeProg; routing stays
 * the identity on rdx on both arenas.
 */
import { SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from './dispatcher.js';
import { HALF_SIZE, generateImage } from './emit-dispatcher.js';
import type { ProfilePlan } from './emit-profile.js';
import { DispatcherError } from './errors.js';
import { ARENAS, countingTrampoline, makePrograms, runThrough } from './test-support/fixtures.js';
import { createTrampoline } from './trampoline.js';

const zipf = (progs: readonly bigint[]) => new Map(progs.map((p, i) => [p, 1 / (i + 1)]));

describe('Dispatcher layout option', () => {
  it("is 'kernel' by default; 'profile' on request; anything else is EINVAL", () => {
    const arena = new SimulatedArena();
    const trampoline = createTrampoline(arena);
    expect(new Dispatcher(arena, trampoline).layout).toBe('kernel');
    expect(new Dispatcher(arena, trampoline, { layout: 'kernel' }).layout).toBe('kernel');
    expect(new Dispatcher(arena, trampoline, { layout: 'profile' }).layout).toBe('profile');
    for (const bad of ['Profile', '', 1, {}]) {
      expect(() => new Dispatcher(arena, trampoline, { layout: bad as never }), String(bad)).toThrow(
        expect.objectContaining({ code: 'EINVAL' }),
      );
    }
    arena.dispose();
  });
});

describe.each(ARENAS)('Dispatcher profile layout: %s arena', (_name, create) => {
  let arena: TextArena;
  afterEach(() => arena?.dispose());

  it('property: any program set (1..max) and any weights route every program to itself — slotted ones directly, others through the fallback', async () => {
    arena = create();
    const pool = makePrograms(arena, 56);
    const { trampoline, fallbacks } = countingTrampoline(arena);
    const weights = (n: number) =>
      fc.oneof(
        fc.constant<number[]>([]),
        fc.constant(new Array<number>(n).fill(0)),
        fc.constant(new Array<number>(n).fill(Number.MAX_VALUE)),
        fc.nat(n - 1).map((hot) => Array.from({ length: n }, (_, i) => (i === hot ? 1 : 0))),
        fc.constant(Array.from({ length: n }, (_, i) => 1 / (i + 1))),
        fc.array(fc.oneof(fc.nat(1000), fc.double({ min: 0, max: 1e300, noNaN: true })), { minLength: n, maxLength: n }),
      );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 52 }).chain((max) =>
          fc.tuple(
            fc.constant(max),
            fc
              .uniqueArray(fc.nat(pool.length - 1), { minLength: 1, maxLength: max })
              .chain((slots) => fc.tuple(fc.constant(slots), weights(slots.length))),
          ),
        ),
        async ([max, [slots, ws]]) => {
          const d = new Dispatcher(arena, trampoline, { max, layout: 'profile' });
          const progs = slots.map((i) => pool[i] as bigint);
          for (const p of progs) await d.changeProg(null, p);
          await d.setWeights(ws.map((w, i) => [progs[i] as bigint, w] as const));
          const image = d.liveImage();
          expect(image?.bytes.length).toBeLessThanOrEqual(HALF_SIZE);
          expect(image?.bytes.length).toBe(d.livePlan()?.size);
          for (const [i, prog] of pool.entries()) {
            const before = fallbacks();
            expect(runThrough(arena, trampoline, prog)).toBe(BigInt(1000 + i));
            expect(fallbacks() - before).toBe(progs.includes(prog) ? 0n : 1n);
          }
          await d.dispose();
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it('(i) all traffic on one of 16: the live image starts with cmp rdx, hot; je hot', async () => {
    arena = create();
    const pool = makePrograms(arena, 16);
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { layout: 'profile' });
    for (const p of pool) await d.changeProg(null, p);
    const hot = pool[11] as bigint;
    const outcome = await d.setWeights(new Map([[hot, 123_456]]));
    expect(outcome).toMatchObject({
      regenerated: true,
      layout: 'profile',
      reason: 'profile',
      expectedInstructions: { before: 10, after: 2, kernel: 10 },
    });
    const lines = d.disassemble().split('\n');
    expect(lines[0]).toMatch(new RegExp(`cmp\\s+rdx,0x${hot.toString(16)}$`));
    expect(lines[1]).toMatch(new RegExp(`je\\s+0x${hot.toString(16)}$`));
    expect(runThrough(arena, trampoline, hot)).toBe(1011n);
  });

  it('(ii) no weights, all-equal weights or all-zero weights: the kernel image, byte for byte', async () => {
    arena = create();
    const pool = makePrograms(arena, 16);
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { layout: 'profile' });
    for (const p of pool) await d.changeProg(null, p);
    const kernelBytes = () => {
      const live = d.liveImage();
      return generateImage(live?.address ?? 0n, pool, { jump: trampoline.fallbackJump });
    };
    expect(d.liveImage()?.bytes).toEqual(kernelBytes());
    expect(d.livePlan()).toMatchObject({ layout: 'kernel', reason: 'no-preference' });
    await d.setWeights(zipf(pool));
    expect(d.livePlan()?.layout).toBe('profile');
    for (const weights of [pool.map((p) => [p, 5] as const), pool.map((p) => [p, 0] as const), []]) {
      const outcome = await d.setWeights(weights);
      expect(outcome.layout).toBe('kernel');
      expect(d.liveImage()?.bytes).toEqual(kernelBytes());
    }
  });

  it('skips the update when the image would be byte-identical to the live one', async () => {
    arena = create();
    const pool = makePrograms(arena, 8);
    const d = new Dispatcher(arena, createTrampoline(arena), { layout: 'profile' });
    for (const p of pool) await d.changeProg(null, p);
    const updates = d.stats.updates;
    // the kernel image is live: uniform weights change nothing
    expect(await d.setWeights(pool.map((p) => [p, 1] as const))).toMatchObject({ regenerated: false, layout: 'kernel' });
    expect(d.stats.updates).toBe(updates);
    expect(await d.setWeights(zipf(pool))).toMatchObject({ regenerated: true, layout: 'profile' });
    const offset = d.imageOffset;
    // the same ratios (scaled), or programs that are not slotted: the same image
    const scaled = new Map([...zipf(pool)].map(([p, w]) => [p, w * 1000]));
    scaled.set(0x1234n, 99);
    expect(await d.setWeights(scaled)).toMatchObject({ regenerated: false, layout: 'profile', waitedForGrace: false });
    expect(d.stats.updates).toBe(updates + 1);
    expect(d.imageOffset).toBe(offset);
    expect(d.weights().has(0x1234n)).toBe(false);
  });

  it('changeProg keeps the weights: a new program counts 0, a program that leaves takes its weight with it', async () => {
    arena = create();
    const [p, q, r] = makePrograms(arena, 3) as [bigint, bigint, bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { layout: 'profile' });
    // nothing slotted: stored for nobody, nothing to regenerate
    expect(await d.setWeights([[p, 1]])).toMatchObject({ regenerated: false, layout: null, expectedInstructions: null });
    await d.changeProg(null, p);
    await d.changeProg(null, q);
    expect(d.weights()).toEqual(
      new Map([
        [p, 0],
        [q, 0],
      ]),
    );
    await d.setWeights([
      [q, 9],
      [p, 1],
    ]);
    await d.changeProg(null, r);
    expect(d.weights()).toEqual(
      new Map([
        [p, 1],
        [q, 9],
        [r, 0],
      ]),
    );
    expect(d.livePlan()?.layout).toBe('profile');
    const plan = d.livePlan() as ProfilePlan;
    expect(plan.tree.kind === 'probe' && plan.progs[plan.tree.prog]).toBe(q);
    await d.changeProg(q, null);
    expect(d.weights()).toEqual(
      new Map([
        [p, 1],
        [r, 0],
      ]),
    );
    await d.changeProg(null, q); // back, as a new program
    expect(d.weights().get(q)).toBe(0);
    for (const [i, prog] of [p, q, r].entries()) expect(runThrough(arena, trampoline, prog)).toBe(BigInt(1000 + i));
  });

  it('serialises setWeights with changeProg (one lock, halves alternate)', async () => {
    arena = create();
    const pool = makePrograms(arena, 6);
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { layout: 'profile' });
    const ops = pool.flatMap((p, i) => [d.changeProg(null, p), d.setWeights([[p, i + 1]])]);
    const results = await Promise.all(ops);
    expect(d.pendingChanges).toBe(0);
    expect(d.numProgs).toBe(6);
    expect(d.weights().get(pool[5] as bigint)).toBe(6);
    // every regenerating step flipped the halves in turn
    const offsets = results.filter((r) => r.regenerated).map((r) => r.liveOffset);
    expect(offsets).toEqual(offsets.map((_, i) => (i % 2 === 0 ? 0 : HALF_SIZE)));
    for (const [i, p] of pool.entries()) expect(runThrough(arena, trampoline, p)).toBe(BigInt(1000 + i));
  });

  it('bad input is a typed EINVAL and changes nothing; kernel layout refuses; DISPOSED after dispose', async () => {
    arena = create();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const trampoline = createTrampoline(arena);
    const kernel = new Dispatcher(arena, trampoline);
    await expect(kernel.setWeights([[p, 1]])).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/layout is 'kernel'/),
    });
    expect(kernel.weights()).toEqual(new Map());
    expect(kernel.livePlan()).toBeNull();
    const d = new Dispatcher(arena, trampoline, { layout: 'profile' });
    await d.changeProg(null, p);
    await d.changeProg(null, q);
    await d.setWeights([[p, 3]]);
    const before = { weights: d.weights(), image: d.liveImage(), updates: d.stats.updates };
    const bad: unknown[] = [
      null,
      undefined,
      42,
      'weights',
      { [String(p)]: 1 },
      [[p, -1]],
      [[p, Number.NaN]],
      [[p, Number.POSITIVE_INFINITY]],
      [[p, '1']],
      [['0x10', 1]],
      [[p]],
      [
        [p, 1],
        [p, 2],
      ],
    ];
    for (const weights of bad) await expect(d.setWeights(weights as never), String(weights)).rejects.toMatchObject({ code: 'EINVAL' });
    expect({ weights: d.weights(), image: d.liveImage(), updates: d.stats.updates }).toEqual(before);
    await d.dispose();
    await expect(d.setWeights([[p, 1]])).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => d.weights()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => d.livePlan()).toThrow(DispatcherError);
  });
});

describe('setWeights never rewrites a half while it may be live (simulated CPUs)', () => {
  let arena: SimulatedArena;
  afterEach(() => arena?.dispose());

  it('a reader parked in half 0 makes the update wait (typed timeout, nothing changed), and it proceeds once the reader leaves', async () => {
    arena = new SimulatedArena();
    const [p, q, r] = makePrograms(arena, 3) as [bigint, bigint, bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { layout: 'profile', syncTimeoutMs: 200 });
    await d.changeProg(null, p); // half 0 live
    const half0 = d.imageRegion?.address ?? 0n;
    const reader = arena.registerReader('cpu0');
    // cpu0 enters the dispatcher for r (not slotted) and stops at the leaf's fallback jmp in half 0
    const cpu0 = arena.start(trampoline.entry, { rdi: 0, rsi: 0, rdx: r });
    expect(cpu0.runUntil((rip) => rip === half0 + 13n)).toBe(true);
    const half0Bytes = arena.read(half0, HALF_SIZE);

    expect(await d.changeProg(null, q)).toMatchObject({ liveOffset: HALF_SIZE, waitedForGrace: false });
    const before = { weights: d.weights(), image: d.liveImage(), plan: d.livePlan() };
    // the new image must go to half 0, where cpu0 may still be
    await expect(d.setWeights([[q, 1]])).rejects.toMatchObject({ code: 'SYNC_TIMEOUT', message: expect.stringMatching(/^setWeights:/) });
    expect(arena.read(half0, HALF_SIZE)).toEqual(half0Bytes);
    expect({ weights: d.weights(), image: d.liveImage(), plan: d.livePlan() }).toEqual(before);
    expect(d.stats.failures).toBe(1);

    expect(cpu0.finish().rax).toBe(1002n); // r's verdict, through the intact half 0
    const retry = d.setWeights([[q, 1]]);
    setTimeout(() => reader.quiescent(), 5);
    expect(await retry).toMatchObject({ regenerated: true, layout: 'profile', liveOffset: 0, waitedForGrace: true });
    expect(d.weights()).toEqual(
      new Map([
        [p, 0],
        [q, 1],
      ]),
    );
    expect(arena.call(trampoline.entry, 0, 0, q)).toBe(1001n);
    expect(arena.call(trampoline.entry, 0, 0, p)).toBe(1000n);
    reader.unregister();
  });

  it('model: over random changeProg/setWeights sequences every image write goes to the inactive half, after a grace period if that half was live since the last one', async () => {
    arena = new SimulatedArena();
    const pool = makePrograms(arena, 12);
    const trampoline = createTrampoline(arena);
    // spy on the arena: which half is live (from the pokes), which were live since the last grace period
    let live: bigint | null = null;
    const retired = new Set<bigint>();
    const violations: string[] = [];
    let writes = 0;
    let current: Dispatcher | null = null;
    const pageOf = () => current?.imageRegion?.address ?? null;
    const halfOf = (address: bigint) => {
      const page = pageOf();
      return page === null ? address : page + ((address - page) / BigInt(HALF_SIZE)) * BigInt(HALF_SIZE);
    };
    const spied = arena as unknown as {
      write: SimulatedArena['write'];
      textPoke: SimulatedArena['textPoke'];
      synchronize: SimulatedArena['synchronize'];
    };
    const [write, poke, synchronize] = [arena.write.bind(arena), arena.textPoke.bind(arena), arena.synchronize.bind(arena)];
    spied.write = (address, bytes) => {
      const a = BigInt(address);
      const page = pageOf();
      if (page !== null && a >= page && a < page + 4096n) {
        writes++;
        const half = halfOf(a);
        if (half === live) violations.push(`wrote the live half 0x${half.toString(16)}`);
        if (retired.has(half)) violations.push(`rewrote 0x${half.toString(16)} without a grace period`);
      }
      return write(address, bytes);
    };
    spied.textPoke = (site, type, from, to) => {
      const result = poke(site, type, from, to);
      if (site === trampoline.entry) {
        if (live !== null) retired.add(live);
        live = to === null ? null : halfOf(BigInt(to));
      }
      return result;
    };
    spied.synchronize = async (options) => {
      const result = await synchronize(options);
      retired.clear();
      return result;
    };
    const step = fc.oneof(
      fc.tuple(fc.constant('change' as const), fc.option(fc.nat(11), { nil: null }), fc.option(fc.nat(11), { nil: null })),
      fc.tuple(fc.constant('weights' as const), fc.array(fc.tuple(fc.nat(11), fc.nat(100)), { maxLength: 12 })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const d = new Dispatcher(arena, trampoline, { layout: 'profile' });
        current = d;
        for (const s of steps) {
          try {
            if (s[0] === 'change')
              await d.changeProg(s[1] === null ? null : (pool[s[1]] as bigint), s[2] === null ? null : (pool[s[2]] as bigint));
            else await d.setWeights(new Map(s[1].map(([i, w]) => [pool[i] as bigint, w])));
          } catch (error) {
            // nothing may fail (detaching a program that is not slotted is a no-op for the dispatcher)
            throw new Error(`step ${JSON.stringify(s)} failed: ${String(error)}`);
          }
        }
        for (const [i, prog] of pool.entries()) expect(runThrough(arena, trampoline, prog)).toBe(BigInt(1000 + i));
        await d.dispose();
        current = null;
        live = null;
        retired.clear();
      }),
      { numRuns: 40 },
    );
    expect(violations).toEqual([]);
    expect(writes).toBeGreaterThan(40);
  });
});
