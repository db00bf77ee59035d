import { REFERENCE } from '@bpf-dispatcher/reference';
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, FALLBACK_INDIRECT, fallbackThunk } from '@bpf-dispatcher/x86';
import { listing } from '@bpf-dispatcher/x86/disasm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HALF_SIZE, generateImage, maxProgsForHalf } from './emit-dispatcher.js';
import {
  MAX_PROFILE_PROGS,
  PROFILE_COST_MODEL,
  type ProfileNode,
  emitProfileDispatcher,
  expectedInstructions,
  generateProfileImage,
  planProfileDispatcher,
} from './emit-profile.js';
import { DispatcherError, NotSimm32Error } from './errors.js';

const thunk = { jump: fallbackThunk(REFERENCE.thunk) } as const;
const progs16 = REFERENCE.progs(16).map((p) => BigInt.asUintN(64, BigInt(p)));
/** Zipf(s = 1) weights over `progs`, the hottest program at `order[0]`, the next at `order[1]`, ... */
const zipf = (progs: readonly bigint[], order: readonly number[] = progs.map((_, i) => i)) =>
  new Map(order.map((index, rank) => [progs[index] as bigint, 1 / (rank + 1)]));
/** A fixed shuffle of 0..n-1 (so that the hottest programs are not the lowest addresses). */
const shuffle = (n: number) =>
  Array.from({ length: n }, (_, i) => i)
    .map((i) => [(i * 7919) % 31, i] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, i]) => i);

describe('planProfileDispatcher: which layout, and what it costs', () => {
  it('(ii) weights that do not tell programs apart give the kernel image, byte for byte', () => {
    for (const n of [1, 2, 3, 5, 16, 52]) {
      const progs = REFERENCE.progs(n);
      const kernel = generateImage(REFERENCE.image16, progs, thunk);
      for (const weights of [
        new Map(),
        new Map(progs.map((p) => [p, 0])),
        new Map(progs.map((p) => [p, 7.5])),
        new Map(progs.map((p) => [p, 1e300])),
      ]) {
        const { bytes, plan } = generateProfileImage(REFERENCE.image16, progs, weights, thunk);
        expect(plan).toMatchObject({ layout: 'kernel', reason: 'no-preference', size: kernel.length });
        expect(bytes).toEqual(kernel);
        expect(plan.expectedInstructions).toBe(plan.kernelInstructions);
      }
    }
    // and the kernel's 16 entries cost 10 instructions per call whatever the traffic
    expect(planProfileDispatcher(progs16, new Map(), thunk).kernelInstructions).toBe(10);
  });

  it('(i) all weight on one of 16 programs: cmp rdx, hot; je hot at the image start (what dispatcher-1 runs)', () => {
    for (const hot of [0, 5, 15]) {
      const hotAddress = progs16[hot] as bigint;
      const { bytes, plan } = generateProfileImage(REFERENCE.image16, progs16, [[hotAddress, 1000]], thunk);
      expect(plan).toMatchObject({ layout: 'profile', reason: 'profile', expectedInstructions: 2, kernelInstructions: 10 });
      expect(plan.tree.kind).toBe('probe');
      expect(plan.progs[(plan.tree as { prog: number }).prog]).toBe(hotAddress);
      // the same two instructions as the one-entry dispatcher's, at the image start
      const one = generateImage(REFERENCE.image16, [hotAddress], thunk);
      expect(bytes.subarray(0, 13)).toEqual(one.subarray(0, 13));
      const lines = listing(bytes, REFERENCE.image16).split('\n');
      expect(lines[0]).toBe(`ffffffffc0020000: cmp rdx,0x${hotAddress.toString(16)}`);
      expect(lines[1]).toBe(`ffffffffc0020007: je 0x${hotAddress.toString(16)}`);
    }
  });

  it("(iii) Zipf(s=1) over 16 programs: 8.68 instructions per call against the kernel layout's 10 (7.93 with the hottest programs spread over the addresses)", () => {
    const inOrder = planProfileDispatcher(progs16, zipf(progs16), thunk);
    expect(inOrder.layout).toBe('profile');
    expect(inOrder.kernelInstructions).toBeCloseTo(10, 12);
    expect(inOrder.expectedInstructions).toBeCloseTo(8.68, 2);
    expect(inOrder.cost).toBeLessThan(inOrder.kernelCost);
    const spread = planProfileDispatcher(progs16, zipf(progs16, shuffle(16)), thunk);
    expect(spread.kernelInstructions).toBeCloseTo(10, 12);
    expect(spread.expectedInstructions).toBeCloseTo(7.93, 2);
    expect(spread.cost).toBeLessThan(spread.kernelCost);
  });

  it('nearly uniform weights: the profile tree only when strictly cheaper; it never costs more than the kernel under the model', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 240, max: 272 }), { minLength: 16, maxLength: 16 }), (counts) => {
        const plan = planProfileDispatcher(
          progs16,
          progs16.map((p, i) => [p, counts[i] as number] as const),
          thunk,
        );
        expect(plan.cost).toBeLessThanOrEqual(plan.kernelCost);
        if (plan.layout === 'profile') expect(plan.cost).toBeLessThan(plan.kernelCost * (1 - PROFILE_COST_MODEL.margin));
      }),
      { numRuns: 50 },
    );
  });

  it('expectedInstructions re-costs a plan under other weights (the live image under fresh counts)', () => {
    const hot = planProfileDispatcher(progs16, [[progs16[3] as bigint, 1]], thunk);
    expect(expectedInstructions(hot, [[progs16[3] as bigint, 1]])).toBe(2);
    // all traffic on another program now: it pays the probe (3) and the kernel-shaped rest
    expect(expectedInstructions(hot, [[progs16[9] as bigint, 1]])).toBeGreaterThan(10);
    expect(() => expectedInstructions({} as never, [])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('emitProfileDispatcher: the image', () => {
  const ARENA_PROGS = (arena: SimulatedArena) => {
    const [lo, hi] = [arena.textRange[0], arena.dataRange[1]];
    return fc
      .integer({ min: -0x8000_0000, max: 0x3fff_0000 })
      .map((v) => BigInt.asUintN(64, BigInt(v)))
      .filter((a) => a < lo || a >= hi);
  };
  const weightsFor = (progs: bigint[]) =>
    fc.oneof(
      fc.constant(new Map<bigint, number>()),
      fc.constant(new Map(progs.map((p) => [p, 0]))),
      fc.nat(progs.length - 1).map((i) => new Map([[progs[i] as bigint, 1]])),
      fc.constant(zipf(progs)),
      fc.constant(zipf(progs, shuffle(progs.length))),
      fc
        .array(fc.oneof(fc.double({ min: 0, max: 1e308, noNaN: true }), fc.constantFrom(0, 1, Number.MAX_VALUE, Number.MIN_VALUE)), {
          minLength: progs.length,
          maxLength: progs.length,
        })
        .map((ws) => new Map(progs.map((p, i) => [p, ws[i] as number]))),
    );

  it('property: the identity on rdx for any programs and weights — the program through its je, anything else through the fallback', () => {
    const arena = new SimulatedArena();
    fc.assert(
      fc.property(
        fc
          .uniqueArray(ARENA_PROGS(arena), { minLength: 1, maxLength: 52 })
          .chain((progs) => fc.tuple(fc.constant(progs), weightsFor(progs), fc.array(ARENA_PROGS(arena), { maxLength: 3 }))),
        ([progs, weights, others]) => {
          const image = arena.alloc(2048);
          const { bytes, plan } = generateProfileImage(image.address, progs, weights, { fallback: 'indirect' });
          expect(bytes.length).toBe(plan.size);
          arena.write(image.address, bytes);
          const end = image.address + BigInt(bytes.length);
          for (const target of [...progs, ...others]) {
            arena.defineExternal(target, () => target);
            const run = arena.run(image.address, { rdx: target }, { trace: true });
            expect(run.rax).toBe(target);
            expect(run.regs.rdx).toBe(target);
            const last = run.trace.filter((a) => a >= image.address && a < end).at(-1) as bigint;
            const registered = progs.includes(target);
            expect(listing(arena.read(last, 6), last).split('\n')[0]).toMatch(registered ? /: je / : /: jmp rdx/);
            arena.removeExternal(target);
          }
          arena.free(image);
        },
      ),
      { numRuns: 150 },
    );
    arena.dispose();
  });

  it('counted on the simulated CPU: each program takes the instructions the plan expects', () => {
    const arena = new SimulatedArena();
    const progs = Array.from({ length: 16 }, (_, i) => 0x1000_0000n + BigInt(i) * 0x40n);
    for (const p of progs) arena.defineExternal(p, () => p);
    const image = arena.alloc(2048);
    const weights = zipf(progs, shuffle(16));
    const { bytes, plan } = generateProfileImage(image.address, progs, weights, { fallback: 'indirect' });
    arena.write(image.address, bytes);
    let total = 0;
    let sum = 0;
    for (const p of progs) {
      // steps: the image's instructions plus the external program (1)
      const steps = arena.run(image.address, { rdx: p }).steps - 1;
      sum += steps * (weights.get(p) as number);
      total += weights.get(p) as number;
    }
    expect(sum / total).toBeCloseTo(plan.expectedInstructions, 10);
    arena.dispose();
  });

  it('fits a 2048-byte half for every max: no search tree can outgrow it up to 46 programs (64 with jmp rdx); above, the planner checks', () => {
    // an upper bound on the image of ANY search tree over n programs (any pivots and probes,
    // either jg form, exact alignment padding): the largest size by dynamic programming
    const bound = (n: number, leaf: number): number => {
      const g = Array.from({ length: n + 1 }, () => new Array<number>(16).fill(0));
      const padded = (phase: number, size: number) => Math.ceil((phase + size) / 16) * 16 - phase;
      for (let len = 1; len <= n; len++) {
        for (let phase = 0; phase < 16; phase++) {
          const row = g[len] as number[];
          if (len === 1) {
            row[phase] = leaf;
            continue;
          }
          let most = 13 + ((g[len - 1] as number[])[(phase + 13) % 16] as number); // probe with one side
          for (const jg of [2, 6]) {
            for (let k = 1; k < len; k++) {
              const at = (phase + 7 + jg) % 16; // branch: lower k programs, upper len - k
              most = Math.max(most, 7 + jg + padded(at, (g[k] as number[])[at] as number) + ((g[len - k] as number[])[0] as number));
            }
            for (let k = 1; k < len - 1; k++) {
              const at = (phase + 13 + jg) % 16; // probe with both sides
              most = Math.max(most, 13 + jg + padded(at, (g[k] as number[])[at] as number) + ((g[len - 1 - k] as number[])[0] as number));
            }
          }
          row[phase] = most;
        }
      }
      return (g[n] as number[])[0] as number;
    };
    expect(bound(46, 18)).toBeLessThanOrEqual(HALF_SIZE);
    expect(bound(47, 18)).toBeGreaterThan(HALF_SIZE);
    expect(bound(64, 15)).toBeLessThanOrEqual(HALF_SIZE);
    // the bound holds for the kernel's own layout too
    expect(bound(16, 18)).toBeGreaterThanOrEqual(generateImage(REFERENCE.image16, REFERENCE.progs(16), thunk).length);
    for (const [jump, limit] of [
      [fallbackThunk(REFERENCE.thunk), maxProgsForHalf(HALF_SIZE, 'retpoline')],
      [FALLBACK_INDIRECT, maxProgsForHalf(HALF_SIZE, 'indirect')],
    ] as const) {
      for (let n = 1; n <= limit; n++) {
        const progs = REFERENCE.progs(n);
        // lopsided shapes: alternating hot/cold, geometric either way, every third, one-hot at either end
        const shapes = [
          progs.map((p, i) => [p, i % 2 === 0 ? 1 : 1e-3] as const),
          progs.map((p, i) => [p, 2 ** -i] as const),
          progs.map((p, i) => [p, 2 ** -(n - i)] as const),
          progs.map((p, i) => [p, i % 3 === 1 ? 1 : 0] as const),
          [[progs[0] as bigint, 1] as const],
          [[progs[n - 1] as bigint, 1] as const],
        ];
        for (const weights of shapes) {
          const { bytes, plan } = generateProfileImage(REFERENCE.image16, progs, weights, { jump });
          expect(bytes.length, `n=${n}`).toBeLessThanOrEqual(HALF_SIZE);
          expect(bytes.length).toBe(plan.size);
        }
      }
      // random weights at the largest sizes, where a tree could outgrow the half
      fc.assert(
        fc.property(
          fc.integer({ min: Math.max(1, limit - 6), max: limit }).chain((n) => fc.array(fc.nat(1 << 20), { minLength: n, maxLength: n })),
          (ws) => {
            const progs = REFERENCE.progs(ws.length);
            const { bytes, plan } = generateProfileImage(
              REFERENCE.image16,
              progs,
              progs.map((p, i) => [p, ws[i] as number] as const),
              { jump },
            );
            expect(bytes.length).toBeLessThanOrEqual(HALF_SIZE);
            if (plan.reason === 'too-large') expect(bytes).toEqual(generateImage(REFERENCE.image16, progs, { jump }));
          },
        ),
        { numRuns: 60 },
      );
    }
  });

  it('an image that would not fit the limit falls back to the kernel layout instead of failing', () => {
    const progs = REFERENCE.progs(16);
    const weights = zipf(progs.map((p) => BigInt.asUintN(64, BigInt(p))));
    const free = planProfileDispatcher(progs, weights, thunk);
    expect(free.layout).toBe('profile');
    const kernelSize = generateImage(REFERENCE.image16, progs, thunk).length;
    const tight = generateProfileImage(REFERENCE.image16, progs, weights, thunk, Math.max(kernelSize, free.size - 1));
    if (free.size > kernelSize) expect(tight.plan).toMatchObject({ layout: 'kernel', reason: 'too-large' });
    expect(planProfileDispatcher(progs, weights, { ...thunk, limit: 10 })).toMatchObject({ layout: 'kernel', reason: 'too-large' });
  });

  it('emits into a caller buffer at any phase, size as planned; a tree over more than MAX_PROFILE_PROGS stays the kernel', () => {
    const progs = Array.from({ length: 16 }, (_, i) => 0x1000_0000 + 0x40 * i);
    for (let phase = 0; phase < 16; phase++) {
      const buf = new CodeBuffer(0x4000_0000n + BigInt(phase));
      const plan = emitProfileDispatcher(buf, progs, zipf(progs.map(BigInt), shuffle(16)), {
        fallback: 'indirect',
        limit: Number.POSITIVE_INFINITY,
      });
      expect(plan.layout).toBe('profile');
      expect(buf.finish().length, `phase ${phase}`).toBe(plan.size);
    }
    const many = Array.from({ length: MAX_PROFILE_PROGS + 1 }, (_, i) => 0x1000_0000 + 16 * i);
    expect(planProfileDispatcher(many, [[many[3] as number, 1]], { fallback: 'indirect', limit: 1 << 20 })).toMatchObject({
      layout: 'kernel',
      reason: 'too-many',
    });
  });

  it('the tree is a search tree: every program exactly once, in address order', () => {
    const check = (node: ProfileNode | null, a: number, b: number, seen: number[]): void => {
      if (node === null) {
        expect(a).toBeGreaterThan(b);
        return;
      }
      if (node.kind === 'leaf') {
        expect([a, b]).toEqual([node.prog, node.prog]);
        seen.push(node.prog);
      } else if (node.kind === 'branch') {
        check(node.lower, a, node.pivot, seen);
        check(node.upper, node.pivot + 1, b, seen);
      } else {
        check(node.lower, a, node.prog - 1, seen);
        seen.push(node.prog);
        check(node.upper, node.prog + 1, b, seen);
      }
    };
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 52 }), (ws) => {
        const progs = ws.map((_, i) => 0x1000_0000 + 16 * i);
        const plan = planProfileDispatcher(
          progs,
          progs.map((p, i) => [p, ws[i] as number] as const),
          { fallback: 'indirect' },
        );
        const seen: number[] = [];
        check(plan.tree, 0, progs.length - 1, seen);
        expect(seen).toEqual(progs.map((_, i) => i));
      }),
      { numRuns: 100 },
    );
  });
});

describe('bad input: typed EINVAL, never a TypeError', () => {
  it('rejects weights that are not finite non-negative numbers per address, and other bad arguments', () => {
    const progs = REFERENCE.progs(4);
    const p = progs[0] as bigint;
    const cases: [string, () => unknown][] = [
      ['null weights', () => planProfileDispatcher(progs, null as never, thunk)],
      ['a number', () => planProfileDispatcher(progs, 5 as never, thunk)],
      ['a string', () => planProfileDispatcher(progs, 'abc' as never, thunk)],
      ['a plain object', () => planProfileDispatcher(progs, { [String(p)]: 1 } as never, thunk)],
      ['negative', () => planProfileDispatcher(progs, [[p, -1]], thunk)],
      ['NaN', () => planProfileDispatcher(progs, [[p, Number.NaN]], thunk)],
      ['Infinity', () => planProfileDispatcher(progs, [[p, Number.POSITIVE_INFINITY]], thunk)],
      ['bigint weight', () => planProfileDispatcher(progs, [[p, 1n as never]], thunk)],
      ['string address', () => planProfileDispatcher(progs, [['0x1000' as never, 1]], thunk)],
      ['not a pair', () => planProfileDispatcher(progs, [[p] as never], thunk)],
      [
        'twice (number and bigint)',
        () =>
          planProfileDispatcher(
            progs,
            [
              [p, 1],
              [BigInt.asUintN(64, BigInt(p)), 2],
            ],
            thunk,
          ),
      ],
      [
        'a throwing iterable',
        () =>
          planProfileDispatcher(
            progs,
            {
              *[Symbol.iterator]() {
                yield [p, 1] as const;
                throw new Error('boom');
              },
            },
            thunk,
          ),
      ],
      ['no programs', () => planProfileDispatcher([], [], thunk)],
      ['a program twice', () => planProfileDispatcher([p, p], [], thunk)],
      ['bad limit', () => planProfileDispatcher(progs, [], { ...thunk, limit: -1 })],
      ['bad fallback', () => planProfileDispatcher(progs, [], {} as never)],
      ['emit into null', () => emitProfileDispatcher(null as never, progs, [], thunk)],
      ['generate at a string', () => generateProfileImage('0x1000' as never, progs, [], thunk)],
      ['generate with a bad limit', () => generateProfileImage(REFERENCE.image16, progs, [], thunk, Number.NaN)],
    ];
    for (const [name, run] of cases) expect(run, name).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => planProfileDispatcher([0x1_0000_0000n], [], thunk)).toThrow(NotSimm32Error);
    expect(() => generateProfileImage(0x4000_0000_0000n, [-1, -2], [[-1, 1]], thunk)).toThrow(expect.objectContaining({ code: 'ERANGE' }));
    expect(() => planProfileDispatcher(progs, [[p, 1]], thunk)).not.toThrow(DispatcherError);
  });
});
