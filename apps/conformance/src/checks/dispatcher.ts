import assert from 'node:assert/strict';
import { Dispatcher, createTrampoline } from '@bpf-dispatcher/dispatcher';
import { NOP5, BpfDispatcherError } from '@bpf-dispatcher/x86';
import type { Check } from '../suite.js';
import { checkRouting, countingTrampoline, programs } from './support.js';

async function rejectsWith(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(BpfDispatcherError.hasCode(error, code), `${what}: expected ${code}, got ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  assert.fail(`${what}: expected ${code}, but it succeeded`);
}

/** Checks of the dispatcher's state manager and updates. */
export const dispatcherChecks: readonly Check[] = [
  {
    id: 'routing-0-16',
    title: 'routing with 0..16 entries',
    run: async (arena) => {
      const pool = programs(arena, 20);
      const t = countingTrampoline(arena);
      const d = new Dispatcher(arena, t.trampoline);
      checkRouting(arena, d, t, pool);
      for (let n = 1; n <= 16; n++) {
        await d.changeProg(null, pool[(n * 7) % 20] as bigint);
        checkRouting(arena, d, t, pool);
      }
    },
  },
  {
    id: 'refcount',
    title: 'refcounted slots',
    run: async (arena) => {
      const [p, q] = programs(arena, 2) as [bigint, bigint];
      const d = new Dispatcher(arena, createTrampoline(arena));
      await d.changeProg(null, p);
      const shared = await d.changeProg(null, p);
      assert.deepEqual([shared.placement, shared.regenerated], ['shared', false], 'second user of a program');
      assert.deepEqual(d.entries(), [{ prog: p, users: 2 }]);
      await d.changeProg(p, q);
      assert.equal(d.numProgs, 2, 'replacing one user keeps the shared slot');
      const last = await d.changeProg(p, null);
      assert.ok(last.removed && last.regenerated, 'the last user frees the slot');
    },
  },
  {
    id: 'capacity',
    title: 'capacity 16, fallback, no promotion',
    run: async (arena) => {
      const pool = programs(arena, 17);
      const t = countingTrampoline(arena);
      const d = new Dispatcher(arena, t.trampoline);
      for (const p of pool.slice(0, 16)) await d.changeProg(null, p);
      const extra = await d.changeProg(null, pool[16] as bigint);
      assert.equal(extra.placement, 'fallback', 'the 17th program');
      await d.changeProg(pool[0] as bigint, null);
      assert.ok(!d.entries().some((e) => e.prog === pool[16]), 'the 17th program was promoted');
      checkRouting(arena, d, t, pool);
    },
  },
  {
    id: 'half-alternation',
    title: 'half alternation and restart at 0',
    run: async (arena) => {
      const pool = programs(arena, 3);
      const trampoline = createTrampoline(arena);
      const d = new Dispatcher(arena, trampoline);
      const offsets = [];
      for (const p of pool) offsets.push((await d.changeProg(null, p)).liveOffset);
      assert.deepEqual(offsets, [0, 2048, 0]);
      for (const p of pool) await d.changeProg(p, null);
      assert.deepEqual([...arena.read(trampoline.entry, 5)], [...NOP5], 'the trampoline is back to the nop');
      assert.equal((await d.changeProg(null, pool[1] as bigint)).liveOffset, 0, 'restart at offset 0');
    },
  },
  {
    id: 'error-injection',
    title: 'errors leave the live state unchanged',
    run: async (arena) => {
      const [p, q, r] = programs(arena, 3) as [bigint, bigint, bigint];
      const trampoline = createTrampoline(arena);
      const d = new Dispatcher(arena, trampoline, { syncTimeoutMs: 30 });
      await d.changeProg(null, p);
      const state = () => JSON.stringify({ e: d.entries(), o: d.imageOffset, i: d.liveImage() }, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v instanceof Uint8Array ? [...v] : v));
      const before = state();
      // live text changes only through textPoke: inject foreign bytes (jmp +0) with a poke
      const live = d.liveImage()?.address ?? null;
      arena.textPoke(trampoline.entry, 'jump', live, trampoline.entry + 5n);
      await rejectsWith(d.changeProg(null, q), 'POKE_FAILED', 'foreign bytes at the poke site');
      arena.textPoke(trampoline.entry, 'jump', trampoline.entry + 5n, live);
      await rejectsWith(d.changeProg(null, 0x1_0000_0000n), 'NOT_SIMM32', 'a program above 4 GiB');
      assert.equal(state(), before, 'state after failures');
      const reader = arena.registerReader('stalled');
      await d.changeProg(null, q);
      await rejectsWith(d.changeProg(null, r), 'SYNC_TIMEOUT', 'rewriting a half a stalled reader may execute');
      reader.unregister();
      await d.changeProg(null, r);
      assert.equal(arena.call(trampoline.entry, 0, 0, r), 1002n, 'recovered after the reader left');
    },
  },
];
