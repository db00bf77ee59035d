/**
 * The crash the kernel had to fix (a synchronize_rcu() in bpf_dispatcher_update): CPU0 is
 * still executing in half 0 of the image while CPU1 performs two updates, the second of
 * which rewrites half 0 under CPU0's feet. On the simulated arena a reader can be stopped
 * in the middle of the image, so both the hazard and the protection are deterministic.
 */
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
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
