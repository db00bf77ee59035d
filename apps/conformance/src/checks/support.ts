import { type Dispatcher, type Trampoline, createTrampoline } from '@bpf-dispatcher/dispatcher';
import { type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, mov, ret } from '@bpf-dispatcher/x86';

/** Emit code into fresh text; returns its address. */
export function emit(arena: TextArena, fn: (buf: CodeBuffer) => void, align = 16): bigint {
  return emitText(arena, fn, { align }).address;
}

/** `count` real programs; program i returns 1000 + i. */
export function programs(arena: TextArena, count: number): bigint[] {
  return Array.from({ length: count }, (_, i) => {
    arena.alloc(16 * (1 + (i % 3))); // irregular spacing
    return emit(arena, (b) => {
      mov(b, 'eax', 1000 + i);
      ret(b);
    });
  });
}

/** A trampoline whose retpoline fallback counts its uses. */
export function countingTrampoline(arena: TextArena): { trampoline: Trampoline; fallbacks: () => bigint } {
  const trampoline = createTrampoline(arena, { fallback: 'retpoline', countFallbacks: true });
  return { trampoline, fallbacks: () => trampoline.fallbacks() ?? 0n };
}

/** Check that every program routes to itself, directly when slotted, else through the fallback. */
export function checkRouting(arena: TextArena, dispatcher: Dispatcher, t: { trampoline: Trampoline; fallbacks: () => bigint }, pool: readonly bigint[]): void {
  const slotted = new Set(dispatcher.entries().map((e) => e.prog));
  pool.forEach((prog, i) => {
    const before = t.fallbacks();
    const result = arena.call(t.trampoline.entry, 0, 0, prog);
    if (result !== BigInt(1000 + i)) throw new Error(`program ${i} returned ${result}, expected ${1000 + i}`);
    const viaFallback = t.fallbacks() - before;
    if (viaFallback !== (slotted.has(prog) ? 0n : 1n)) {
      throw new Error(`program ${i} (${slotted.has(prog) ? 'slotted' : 'not slotted'}) went through the fallback ${viaFallback} time(s)`);
    }
  });
}
