/**
 * Owner objects free what they allocate (dispose and failed construction alike), validate
 * their arguments before allocating, and report DISPOSED — never crash — once their arena
 * is gone.
 */
import { NativeArena, SimulatedArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from './dispatcher.js';
import { createRetpolineThunk, createTrampoline, isTrampoline } from './trampoline.js';
import { makePrograms } from './test-support/fixtures.js';

const small = () => new SimulatedArena({ textSize: 64 << 10, dataSize: 64 << 10, stackSize: 16 << 10 });

describe.each([
  ['simulated', small, 10_000],
  ...(nativeSupported() ? ([['native', () => new NativeArena({ textSize: 64 << 10, dataSize: 64 << 10 }), 2_000]] as const) : []),
] as const)('create/dispose loops on a small %s arena keep memory flat', (_name, create, cycles) => {
  it(`Dispatcher: ${cycles} cycles of create, attach two programs, dispose`, async () => {
    const arena = create();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const trampoline = createTrampoline(arena);
    const before = arena.usage();
    for (let i = 0; i < cycles; i++) {
      const d = new Dispatcher(arena, trampoline);
      await d.changeProg(null, p);
      await d.changeProg(null, q);
      await d.dispose();
    }
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  }, 120_000);

  it(`trampoline: ${cycles} cycles of create and dispose (thunk, counting stub and counter included)`, async () => {
    const arena = create();
    const before = arena.usage();
    for (let i = 0; i < cycles; i++) {
      const t = createTrampoline(arena, i % 3 === 0 ? {} : { fallback: i % 3 === 1 ? 'retpoline' : 'indirect', countFallbacks: true });
      await t.dispose();
      expect(t.disposed).toBe(true);
    }
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  }, 120_000);
});

describe('trampolines and dispatchers: lifecycle rules', () => {
  it('a trampoline that fails part-way (arena full) frees what it allocated', () => {
    const arena = new SimulatedArena({ textSize: 64, dataSize: 64 << 10, stackSize: 16 << 10 });
    const before = arena.usage();
    for (let i = 0; i < 3; i++) expect(() => createTrampoline(arena, { countFallbacks: true })).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  });

  it('a trampoline with a dispatcher installed refuses to go (EBUSY); after the dispatcher it frees', async () => {
    const arena = new SimulatedArena();
    const [p] = makePrograms(arena, 1) as [bigint];
    const trampoline = createTrampoline(arena);
    const d = new Dispatcher(arena, trampoline);
    await d.changeProg(null, p);
    await expect(trampoline.dispose()).rejects.toMatchObject({ code: 'EBUSY' });
    expect(arena.call(trampoline.entry, 0, 0, p)).toBe(1000n);
    await d.dispose();
    await trampoline.dispose();
    await trampoline.dispose();
    expect(isTrampoline(trampoline)).toBe(false);
    expect(() => new Dispatcher(arena, trampoline)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => trampoline.fallbacks()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    arena.dispose();
  });

  it('bad arguments are typed EINVAL before anything is allocated', () => {
    const arena = small();
    const other = small();
    const trampoline = createTrampoline(arena);
    const before = arena.usage();
    const cases: [string, () => unknown][] = [
      ['createTrampoline(null)', () => createTrampoline(null as never)],
      ['createTrampoline({})', () => createTrampoline({} as never)],
      ['createTrampoline(arena, null)', () => createTrampoline(arena, null as never)],
      ['createTrampoline fallback', () => createTrampoline(arena, { fallback: 'jmp' as never })],
      ['createTrampoline string thunk', () => createTrampoline(arena, { thunk: '0xffffffffc0000000' as never })],
      ['createTrampoline thunk 1.5', () => createTrampoline(arena, { thunk: 1.5 as never })],
      ['createTrampoline countFallbacks 1', () => createTrampoline(arena, { countFallbacks: 1 as never })],
      ['createRetpolineThunk(null)', () => createRetpolineThunk(null as never)],
      ['createRetpolineThunk bad reg', () => createRetpolineThunk(arena, 'xmm0' as never)],
      ['new Dispatcher(null, t)', () => new Dispatcher(null as never, trampoline)],
      ['new Dispatcher(arena, null)', () => new Dispatcher(arena, null as never)],
      ['look-alike trampoline', () => new Dispatcher(arena, { ...trampoline })],
      ['trampoline of another arena', () => new Dispatcher(other, trampoline)],
      ['new Dispatcher(arena, t, null)', () => new Dispatcher(arena, trampoline, null as never)],
      ['imageAddress string', () => new Dispatcher(arena, trampoline, { imageAddress: 'x' as never })],
      ['syncTimeoutMs string', () => new Dispatcher(arena, trampoline, { syncTimeoutMs: '5' as never })],
    ];
    for (const [name, run] of cases) expect(run, name).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(arena.usage()).toEqual(before);
    other.dispose();
    arena.dispose();
  });

  it('after the arena is disposed: DISPOSED everywhere, dispose() still resolves', async () => {
    const arena = new SimulatedArena();
    const [p, q] = makePrograms(arena, 2) as [bigint, bigint];
    const trampoline = createTrampoline(arena, { countFallbacks: true });
    const d = new Dispatcher(arena, trampoline);
    const fresh = new Dispatcher(arena, trampoline);
    await d.changeProg(null, p);
    arena.dispose();
    await expect(d.changeProg(null, q)).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(fresh.changeProg(null, q)).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => d.liveImage()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => d.disassemble()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => trampoline.fallbacks()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => createTrampoline(arena)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => new Dispatcher(arena, trampoline)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await d.dispose();
    await fresh.dispose();
    await trampoline.dispose();
  });
});
