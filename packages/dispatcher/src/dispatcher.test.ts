import { LISTING_1_ENTRY, LISTING_16_ENTRIES, REFERENCE } from '@bpf-dispatcher/reference';
import { SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { NOP5 } from '@bpf-dispatcher/x86';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from './dispatcher.js';
import { HALF_SIZE, generateImage, maxProgsForHalf } from './emit-dispatcher.js';
import { DispatcherError } from './errors.js';
import { ARENAS, countingTrampoline, makePrograms, runThrough } from './test-support/fixtures.js';
import { createTrampoline } from './trampoline.js';

describe('Dispatcher on the simulated arena at the reference addresses', () => {
  it('installs the cover letter images: 1 entry at 0xffffffffc0002000, 16 at 0xffffffffc0020000', async () => {
    const arena = new SimulatedArena();
    const trampoline = createTrampoline(arena, { fallback: 'retpoline', thunk: REFERENCE.thunk });
    const one = new Dispatcher(arena, trampoline, { imageAddress: REFERENCE.image1 });
    await one.changeProg(null, -1);
    expect(one.disassemble()).toBe(LISTING_1_ENTRY);
    await one.dispose();

    const sixteen = new Dispatcher(arena, trampoline, { imageAddress: REFERENCE.image16 });
    // a placeholder first, so that the 17th install (odd) lands in half 0
    await sixteen.changeProg(null, -100);
    await sixteen.changeProg(-100, -1);
    for (let i = 2; i <= 16; i++) await sixteen.changeProg(null, -i);
    expect(sixteen.imageOffset).toBe(0);
    expect(sixteen.liveImage()?.address).toBe(REFERENCE.image16);
    expect(sixteen.disassemble()).toBe(LISTING_16_ENTRIES);
    arena.dispose();
  });
});

describe('Dispatcher: addresses out of reach', () => {
  it('a simm32 program beyond rel32 reach of the image is refused with ERANGE; nothing changes', async () => {
    const arena = new SimulatedArena();
    const [p] = makePrograms(arena, 1) as [bigint];
    const far = 0x7fff_0000n; // fits imm32, but ~3 GiB from the image at 0xffffffffc0xxxxxx
    arena.defineExternal(far, () => 7);
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    await d.changeProg(null, p);
    const before = d.liveImage();
    await expect(d.changeProg(null, far)).rejects.toMatchObject({ code: 'ERANGE' });
    expect(d.liveImage()).toEqual(before);
    expect(d.entries()).toEqual([{ prog: p, users: 1 }]);
    expect(arena.call(trampoline.entry, 0, 0, far)).toBe(7n); // still reachable through the fallback
    arena.dispose();
  });
});

describe.each(ARENAS)('Dispatcher: %s arena', (_name, create) => {
  let arena: TextArena;
  afterEach(() => arena?.dispose());

  it('routes every program for 0..16 entries: registered ones directly, others through the fallback', async () => {
    arena = create();
    const pool = makePrograms(arena, 20);
    const { trampoline, fallbacks } = countingTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    const check = () => {
      const registered = new Set(d.entries().map((e) => e.prog));
      pool.forEach((prog, i) => {
        const before = fallbacks();
        expect(runThrough(arena, trampoline, prog)).toBe(BigInt(1000 + i));
        expect(fallbacks() - before, `prog ${i} registered=${registered.has(prog)}`).toBe(registered.has(prog) ? 0n : 1n);
      });
    };
    check();
    for (let n = 1; n <= 16; n++) {
      await d.changeProg(null, pool[(n * 7) % 20] as bigint);
      expect(d.numProgs).toBe(n);
      check();
    }
  });

  it('refcounts: a second user shares the slot without regenerating; the slot goes with the last user', async () => {
    arena = create();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const d = new Dispatcher(arena, createTrampoline(arena));
    expect(await d.changeProg(null, p)).toMatchObject({ regenerated: true, placement: 'new-slot' });
    expect(await d.changeProg(null, p)).toMatchObject({ regenerated: false, placement: 'shared' });
    expect(d.entries()).toEqual([{ prog: p, users: 2 }]);
    expect(d.stats.updates).toBe(1);
    expect(await d.changeProg(p, q)).toMatchObject({ regenerated: true, removed: false, placement: 'new-slot' });
    expect(d.entries()).toEqual([
      { prog: p, users: 1 },
      { prog: q, users: 1 },
    ]);
    expect(await d.changeProg(p, null)).toMatchObject({ regenerated: true, removed: true });
    expect(d.entries()).toEqual([{ prog: q, users: 1 }]);
    expect(await d.changeProg(q, q)).toMatchObject({ regenerated: false, placement: 'none' });
    expect(await d.changeProg(p, null)).toMatchObject({ regenerated: false, removed: false });
  });

  it('capacity: the 17th program runs through the fallback and is not promoted when a slot frees', async () => {
    arena = create();
    const pool = makePrograms(arena, 17);
    const { trampoline, fallbacks } = countingTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    for (const p of pool.slice(0, 16)) await d.changeProg(null, p);
    const extra = pool[16] as bigint;
    const updates = d.stats.updates;
    expect(await d.changeProg(null, extra)).toMatchObject({ regenerated: false, placement: 'fallback' });
    expect(d.stats.updates).toBe(updates);
    await d.changeProg(pool[0] as bigint, null);
    expect(d.numProgs).toBe(15);
    expect(d.entries().some((e) => e.prog === extra)).toBe(false);
    const before = fallbacks();
    expect(runThrough(arena, trampoline, extra)).toBe(1016n);
    expect(fallbacks() - before).toBe(1n);
  });

  it('alternates halves 0, 2048, 0, ... and restarts at 0 after dropping to zero programs', async () => {
    arena = create();
    const pool = makePrograms(arena, 4);
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    const offsets: (number | null)[] = [];
    for (const p of pool) offsets.push((await d.changeProg(null, p)).liveOffset);
    expect(offsets).toEqual([0, HALF_SIZE, 0, HALF_SIZE]);
    for (const p of pool.slice(0, 3)) await d.changeProg(p, null);
    expect(d.imageOffset).toBe(0);
    expect((await d.changeProg(pool[3] as bigint, null)).liveOffset).toBeNull();
    expect([...arena.read(trampoline.entry, 5)]).toEqual([...NOP5]);
    expect(d.liveImage()).toBeNull();
    expect(runThrough(arena, trampoline, pool[1] as bigint)).toBe(1001n);
    expect((await d.changeProg(null, pool[1] as bigint)).liveOffset).toBe(0);
    expect(runThrough(arena, trampoline, pool[1] as bigint)).toBe(1001n);
  });

  it('model test: random changeProg sequences match a reference model of slots, offset and image', async () => {
    arena = create();
    const pool = makePrograms(arena, 20);
    const trampoline = createTrampoline(arena);
    const choice = fc.option(fc.nat(19), { nil: null, freq: 4 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(choice, choice), { minLength: 1, maxLength: 40 }), async (steps) => {
        const d = new Dispatcher(arena, trampoline);
        const model: ({ prog: bigint; users: number } | null)[] = new Array(16).fill(null);
        let live: number | null = null;
        let offset = 0;
        for (const [fi, ti] of steps) {
          const from = fi === null ? null : (pool[fi] as bigint);
          const to = ti === null ? null : (pool[ti] as bigint);
          await d.changeProg(from, to);
          if (from === to) continue;
          const prev = model.filter(Boolean).length;
          let changed = false;
          const fs = model.findIndex((s) => s !== null && s.prog === from);
          if (from !== null && fs >= 0) {
            const slot = model[fs] as { users: number };
            slot.users--;
            if (slot.users === 0) {
              model[fs] = null;
              changed = true;
            }
          }
          if (to !== null) {
            const ts = model.find((s) => s !== null && s.prog === to);
            if (ts) ts.users++;
            else {
              const free = model.indexOf(null);
              if (free >= 0) {
                model[free] = { prog: to, users: 1 };
                changed = true;
              }
            }
          }
          if (changed) {
            const n = model.filter(Boolean).length;
            const noff = prev === 0 ? 0 : offset ^ HALF_SIZE;
            live = n > 0 ? noff : null;
            if (n > 0) offset = noff;
          }
        }
        const expected = model.filter((s) => s !== null);
        expect(d.entries().sort((a, b) => Number(a.prog - b.prog))).toEqual([...expected].sort((a, b) => Number(a.prog - b.prog)));
        expect(d.imageOffset).toBe(offset);
        const image = d.liveImage();
        if (live === null) expect(image).toBeNull();
        else {
          expect(image?.address).toBe((d.imageRegion?.address ?? 0n) + BigInt(live));
          const want = generateImage(image?.address ?? 0n, expected.map((s) => s.prog), { fallback: 'retpoline', thunk: trampoline.thunk as bigint });
          expect(image?.bytes).toEqual(want);
        }
        for (const [i, p] of pool.entries()) expect(runThrough(arena, trampoline, p)).toBe(BigInt(1000 + i));
        await d.dispose();
      }),
      { numRuns: 40 },
    );
  });

  it('serialises concurrent changeProg calls', async () => {
    arena = create();
    const pool = makePrograms(arena, 12);
    const d = new Dispatcher(arena, createTrampoline(arena));
    const results = await Promise.all(pool.map((p) => d.changeProg(null, p)));
    expect(results.map((r) => r.liveOffset)).toEqual(pool.map((_, i) => (i % 2 === 0 ? 0 : HALF_SIZE)));
    expect(d.numProgs).toBe(12);
    await Promise.all(pool.map((p, i) => d.changeProg(p, i % 2 === 0 ? null : p)));
    expect(d.numProgs).toBe(6);
    expect(d.pendingChanges).toBe(0);
  });

  it('EBUSY: a foreign poke at the site fails the change and changes nothing; restoring it recovers', async () => {
    arena = create();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    await d.changeProg(null, p);
    const image = d.liveImage()?.address ?? 0n;
    const before = { entries: d.entries(), offset: d.imageOffset, image: d.liveImage() };
    // a foreign poke: the site now jumps straight to p, not to the image the dispatcher installed
    arena.textPoke(trampoline.entry, 'jump', image, p);
    await expect(d.changeProg(null, q)).rejects.toMatchObject({ code: 'POKE_FAILED', message: expect.stringMatching(/EBUSY/) });
    expect({ entries: d.entries(), offset: d.imageOffset, image: d.liveImage() }).toEqual(before);
    expect(d.stats.failures).toBe(1);
    arena.textPoke(trampoline.entry, 'jump', p, image);
    await d.changeProg(null, q);
    expect(runThrough(arena, trampoline, q)).toBe(1001n);
  });

  it('a program at an address that is not a sign-extended imm32 is refused with NOT_SIMM32 and nothing changes', async () => {
    arena = create();
    const [p] = makePrograms(arena, 1) as [bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    await d.changeProg(null, p);
    const image = d.liveImage();
    await expect(d.changeProg(null, 0x1_0000_0000n)).rejects.toMatchObject({ code: 'NOT_SIMM32', prog: 0x1_0000_0000n });
    expect(d.entries()).toEqual([{ prog: p, users: 1 }]);
    expect(d.liveImage()).toEqual(image);
    expect(runThrough(arena, trampoline, p)).toBe(1000n);
    await d.changeProg(p, null);
    expect(d.numProgs).toBe(0);
  });

  it('an allocation failure changes nothing; the next change after memory frees up works', async () => {
    arena = create();
    const [p] = makePrograms(arena, 1) as [bigint];
    const trampoline = createTrampoline(arena);
    const [start, end] = arena.textRange;
    const hog = arena.alloc(Number(end - start) - 0x10000, { align: 4096 });
    const fillers = [];
    for (;;) {
      try {
        fillers.push(arena.alloc(4096, { align: 4096 }));
      } catch {
        break;
      }
    }
    const d = new Dispatcher(arena, trampoline);
    await expect(d.changeProg(null, p)).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(d.numProgs).toBe(0);
    expect(d.imageRegion).toBeNull();
    arena.free(hog);
    await d.changeProg(null, p);
    expect(runThrough(arena, trampoline, p)).toBe(1000n);
  });

  it('the second update waits for a reader stalled in half 0, times out with SYNC_TIMEOUT, and recovers once it moves', async () => {
    arena = create();
    const [p, q, r] = makePrograms(arena, 3) as [bigint, bigint, bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { syncTimeoutMs: 300 });
    await d.changeProg(null, p); // half 0 live
    const reader = arena.registerReader('stalled-in-half-0');
    expect(await d.changeProg(null, q)).toMatchObject({ liveOffset: HALF_SIZE, waitedForGrace: false });
    const before = { entries: d.entries(), image: d.liveImage() };
    await expect(d.changeProg(null, r)).rejects.toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect({ entries: d.entries(), image: d.liveImage() }).toEqual(before);
    // the reader leaves half 0 (passes a quiescent state) while the update waits
    const retry = d.changeProg(null, r);
    setTimeout(() => reader.quiescent(), 10);
    expect(await retry).toMatchObject({ liveOffset: 0, waitedForGrace: true });
    expect(runThrough(arena, trampoline, r)).toBe(1002n);
    expect(d.stats.graceWaits).toBe(1);
    reader.unregister();
  });

  it('rejects bad input with typed errors and leaves the state alone', async () => {
    arena = create();
    const trampoline = createTrampoline(arena);
    for (const max of [0, 53, 1.5, Number.NaN]) expect(() => new Dispatcher(arena, trampoline, { max })).toThrow(DispatcherError);
    expect(() => new Dispatcher(arena, {} as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(new Dispatcher(arena, trampoline, { max: 52 }).max).toBe(52);
    const d = new Dispatcher(arena, trampoline);
    for (const bad of [undefined, 'x', 1.5, {}, Number.NaN]) {
      await expect(d.changeProg(null, bad as never)).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(d.changeProg(bad as never, null)).rejects.toMatchObject({ code: 'EINVAL' });
    }
    expect(d.numProgs).toBe(0);
    await d.dispose();
    await d.dispose();
    await expect(d.changeProg(null, 1)).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => d.liveImage()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('dispose resets the trampoline to the nop and frees the image', async () => {
    arena = create();
    const [p] = makePrograms(arena, 1) as [bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    await d.changeProg(null, p);
    const image = d.imageRegion;
    await d.dispose();
    expect([...arena.read(trampoline.entry, 5)]).toEqual([...NOP5]);
    expect(() => arena.read(image?.address ?? 0n, 1)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(runThrough(arena, trampoline, p)).toBe(1000n);
  });
});

describe('counting fallbacks', () => {
  it.each(['retpoline', 'indirect'] as const)('counts calls that miss the dispatcher (%s trampoline)', async (fallback) => {
    const arena = new SimulatedArena();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const trampoline = createTrampoline(arena, { fallback, countFallbacks: true });
    expect(createTrampoline(arena).fallbacks()).toBeNull();
    const d = new Dispatcher(arena, trampoline);
    expect(runThrough(arena, trampoline, p)).toBe(1000n);
    await d.changeProg(null, p);
    expect(runThrough(arena, trampoline, p)).toBe(1000n);
    expect(runThrough(arena, trampoline, q)).toBe(1001n);
    expect(trampoline.fallbacks()).toBe(2n); // p before the dispatcher, q after
    arena.dispose();
  });
});

describe('the fallback is one value, from the trampoline through the dispatcher into the image (issue 11)', () => {
  it('an indirect trampoline that counts fallbacks gives a dispatcher whose fallback is indirect, and images that jump to its stub', async () => {
    const arena = new SimulatedArena();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const trampoline = createTrampoline(arena, { fallback: 'indirect', countFallbacks: true });
    expect(trampoline.fallback).toBe('indirect');
    // the counting stub is the thunk-at-address every leaf jumps to; it ends in jmp rdx
    expect(trampoline.fallbackJump.kind).toBe('thunk');
    const d = new Dispatcher(arena, trampoline);
    expect(d.fallback).toBe('indirect');
    // the leaves are 5-byte jumps to the stub, so the limit is the thunk one (52), not jmp rdx's
    expect(maxProgsForHalf(HALF_SIZE, trampoline.fallbackJump)).toBe(maxProgsForHalf(HALF_SIZE, 'retpoline'));
    expect(() => new Dispatcher(arena, trampoline, { max: maxProgsForHalf(HALF_SIZE, 'retpoline') + 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await d.changeProg(null, p);
    const live = d.liveImage();
    expect(live?.bytes).toEqual(generateImage(live?.address ?? 0n, [p], { jump: trampoline.fallbackJump }));
    expect(runThrough(arena, trampoline, q)).toBe(1001n);
    expect(trampoline.fallbacks()).toBe(1n);
    arena.dispose();
  });

  it('a plain indirect trampoline: jmp rdx everywhere, and the deprecated thunk field is null', () => {
    const arena = new SimulatedArena();
    const trampoline = createTrampoline(arena, { fallback: 'indirect' });
    expect(trampoline.fallbackJump).toEqual({ kind: 'indirect' });
    expect(trampoline.thunk).toBeNull();
    expect(new Dispatcher(arena, trampoline).fallback).toBe('indirect');
    arena.dispose();
  });

  it('generateImage hands back bytes the caller owns: a later call does not overwrite them (no module-level staging array)', () => {
    const first = generateImage(0x1000_0000, [0x1000_2000], { fallback: 'indirect' });
    const copy = first.slice();
    generateImage(0x1000_0000, [0x1000_3000, 0x1000_4000], { fallback: 'indirect' });
    expect(first).toEqual(copy);
  });
});
