import assert from 'node:assert/strict';
import type { TextArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError, NOP5, add, mov, ret } from '@bpf-dispatcher/x86';
import type { Check } from '../suite.js';
import { emit } from './support.js';

function throwsCode(fn: () => unknown, code: string, what: string): void {
  try {
    fn();
  } catch (error) {
    assert.ok(BpfDispatcherError.hasCode(error, code), `${what}: expected ${code}, got ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  assert.fail(`${what}: expected ${code}`);
}

function site(arena: TextArena): { entry: bigint; site: bigint } {
  let at = 0n;
  const entry = emit(arena, (b) => {
    mov(b, 'eax', 7);
    b.align(8);
    at = b.address();
    b.raw(NOP5);
    add(b, 'eax', 100);
    ret(b);
  });
  return { entry, site: at };
}

const constant = (arena: TextArena, v: number) =>
  emit(arena, (b) => {
    mov(b, 'eax', v);
    ret(b);
  });

/** Checks of the text-poke semantics. */
export const pokeChecks: readonly Check[] = [
  {
    id: 'poke-transitions',
    title: 'poke nop->jmp->jmp->nop, call forms',
    run: (arena) => {
      const [a, b] = [constant(arena, 1), constant(arena, 2)];
      const s = site(arena);
      const steps: [() => unknown, bigint][] = [
        [() => arena.textPoke(s.site, 'jump', null, a), 1n],
        [() => arena.textPoke(s.site, 'jump', a, b), 2n],
        [() => arena.textPoke(s.site, 'jump', b, null), 107n],
        [() => arena.textPoke(s.site, 'call', null, a), 101n],
        [() => arena.textPoke(s.site, 'call', a, null), 107n],
      ];
      for (const [poke, expected] of steps) {
        poke();
        assert.equal(arena.call(s.entry), expected);
      }
    },
  },
  {
    id: 'poke-errors',
    title: 'poke EBUSY, ERANGE, already-equal',
    run: (arena) => {
      const [a, b] = [constant(arena, 1), constant(arena, 2)];
      const s = site(arena);
      const before = arena.read(s.site, 8);
      throwsCode(() => arena.textPoke(s.site, 'jump', a, b), 'EBUSY', 'wrong expected instruction');
      throwsCode(() => arena.textPoke(s.site, 'jump', null, s.site + (1n << 32n)), 'ERANGE', 'target out of reach');
      assert.deepEqual(arena.read(s.site, 8), before, 'failed pokes wrote nothing');
      arena.textPoke(s.site, 'jump', null, a);
      assert.equal(arena.textPoke(s.site, 'jump', a, a), 'unchanged');
    },
  },
];
