/**
 * The crash the kernel had to fix (a synchronize_rcu() in bpf_dispatcher_update): CPU0 is
 * still executing in half 0 of the image while CPU1 performs two updates, the second of
 * which rewrites half 0 under CPU0's feet. On the simulated arena a reader can be stopped
 * in the middle of the image, so both the hazard and the protection are deterministic.
 */
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { NOP5 } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from './dispatcher.js';
import { HALF_SIZE } from './emit-dispatcher.js';
import { makePrograms } from './test-support/fixtures.js';
import { createTrampoline } from './trampoline.js';

describe('grace periods: a reader stopped inside half 0', () => {
  let arena: SimulatedArena;
  afterEach(() => arena?.dispose());

  const setup = async () => {
    arena = new SimulatedArena();
    const [p, q, r] = makePrograms(arena, 3) as [bigint, bigint, bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { syncTimeoutMs: 300 });
    await d.changeProg(null, p); // half 0 live: cmp rdx, p; je p; jmp thunk
    const half0 = d.imageRegion?.address ?? 0n;
    return { p, q, r, trampoline, d, half0 };
  };

  it('the second update waits for it (typed timeout), rewrites nothing meanwhile, and proceeds once it leaves', async () => {
    const { p, q, r, trampoline, d, half0 } = await setup();
    const reader = arena.registerReader('cpu0');
    // cpu0 enters the dispatcher for program q (not slotted) and stops at the leaf's
    // fallback jmp, inside half 0
    const cpu0 = arena.start(trampoline.entry, { rdi: 0, rsi: 0, rdx: q });
    expect(cpu0.runUntil((rip) => rip === half0 + 13n)).toBe(true);
    const before = arena.read(half0, HALF_SIZE);

    expect(await d.changeProg(null, q)).toMatchObject({ liveOffset: HALF_SIZE, waitedForGrace: false });
    await expect(d.changeProg(null, r)).rejects.toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect(arena.read(half0, HALF_SIZE)).toEqual(before); // half 0 untouched while cpu0 may be in it
    expect(d.imageOffset).toBe(HALF_SIZE);

    // cpu0 finishes through the intact half 0 and returns q's verdict
    expect(cpu0.finish().rax).toBe(1001n);
    const retry = d.changeProg(null, r);
    setTimeout(() => reader.quiescent(), 5); // cpu0 passes a quiescent state
    expect(await retry).toMatchObject({ liveOffset: 0, waitedForGrace: true });
    expect(arena.call(trampoline.entry, 0, 0, p)).toBe(1000n);
    expect(arena.call(trampoline.entry, 0, 0, r)).toBe(1002n);
    reader.unregister(); // text-poke refuses dispose() while a reader is online
  });

  it('without the protection (the reader never registered) half 0 is rewritten under it and it goes astray', async () => {
    const { q, r, trampoline, d, half0 } = await setup();
    const cpu0 = arena.start(trampoline.entry, { rdi: 0, rsi: 0, rdx: q });
    expect(cpu0.runUntil((rip) => rip === half0 + 13n)).toBe(true);
    await d.changeProg(null, q);
    expect(await d.changeProg(null, r)).toMatchObject({ liveOffset: 0 }); // nobody to wait for
    // cpu0 resumes at +13 of the new half 0: the middle of an instruction
    let outcome: string;
    try {
      const result = cpu0.finish(10_000).rax;
      outcome = result === 1001n ? 'correct' : `wrong result ${result}`;
    } catch (error) {
      outcome = `fault: ${(error as Error).message}`;
    }
    expect(outcome).not.toBe('correct');
  });
});

describe('grace periods survive a failed dispose (a reader stalled inside the live half 0)', () => {
  let arena: SimulatedArena;
  afterEach(() => arena?.dispose());

  const stalled = async () => {
    arena = new SimulatedArena();
    const [p, q, r] = makePrograms(arena, 3) as [bigint, bigint, bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline, { syncTimeoutMs: 100 });
    await d.changeProg(null, p); // half 0 live
    const half0 = d.imageRegion?.address ?? 0n;
    const reader = arena.registerReader('cpu0');
    // cpu0 enters for q (not slotted) and stops at the leaf's fallback jmp inside half 0
    const cpu0 = arena.start(trampoline.entry, { rdi: 0, rsi: 0, rdx: q });
    expect(cpu0.runUntil((rip) => rip === half0 + 13n)).toBe(true);
    const half0Bytes = arena.read(half0, HALF_SIZE);
    return { p, q, r, trampoline, d, half0, half0Bytes, reader, cpu0 };
  };

  it('SYNC_TIMEOUT leaves everything as it was; later updates never rewrite half 0 under the reader', async () => {
    const { p, r, trampoline, d, half0, half0Bytes, reader, cpu0 } = await stalled();
    const before = { entries: d.entries(), image: d.liveImage(), offset: d.imageOffset, site: arena.read(trampoline.entry, 5) };
    await expect(d.dispose()).rejects.toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect({ entries: d.entries(), image: d.liveImage(), offset: d.imageOffset, site: arena.read(trampoline.entry, 5) }).toEqual(before);
    expect(d.numProgs).toBe(1);
    // the next update goes to half 2048; the one after must wait for cpu0 to leave half 0
    expect(await d.changeProg(null, r)).toMatchObject({ liveOffset: HALF_SIZE, waitedForGrace: false });
    await expect(d.changeProg(r, null)).rejects.toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect(arena.read(half0, HALF_SIZE)).toEqual(half0Bytes);
    expect(cpu0.finish().rax).toBe(1001n); // q's verdict, through the intact half 0
    reader.offline(); // cpu0 left: it holds no reference any more
    expect(await d.changeProg(r, null)).toMatchObject({ liveOffset: 0, waitedForGrace: true });
    expect(arena.call(trampoline.entry, 0, 0, p)).toBe(1000n);
    await d.dispose();
    expect(d.imageRegion).toBeNull();
  });

  it('if the image cannot be re-installed, the trampoline keeps the nop and the next update still waits for the grace period', async () => {
    const { p, q, r, trampoline, d, half0, half0Bytes, reader, cpu0 } = await stalled();
    const disposing = d.dispose();
    // while dispose waits for the grace period, someone else pokes the (now nop) site
    while (arena.read(trampoline.entry, 1)[0] !== NOP5[0]) await new Promise((resolve) => setImmediate(resolve));
    arena.textPoke(trampoline.entry, 'jump', null, q);
    await expect(disposing).rejects.toMatchObject({ code: 'SYNC_TIMEOUT', message: expect.stringMatching(/next update waits/) });
    expect(d.liveImage()).toBeNull();
    arena.textPoke(trampoline.entry, 'jump', q, null);
    // slots kept (p), nothing live: the update would write half 0 — it must wait for cpu0
    await expect(d.changeProg(null, r)).rejects.toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect(arena.read(half0, HALF_SIZE)).toEqual(half0Bytes);
    expect(cpu0.finish().rax).toBe(1001n);
    reader.offline(); // cpu0 left: it holds no reference any more
    expect(await d.changeProg(null, r)).toMatchObject({ liveOffset: 0, waitedForGrace: true });
    expect(arena.call(trampoline.entry, 0, 0, p)).toBe(1000n);
    expect(arena.call(trampoline.entry, 0, 0, r)).toBe(1002n);
  });
});
