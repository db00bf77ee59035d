import { NativeArena, SimulatedArena, type TextArena, emitText, nativeSupported } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, mov, ret } from '@bpf-dispatcher/x86';
import { createTrampoline, type Trampoline } from '../trampoline.js';

/** The arenas every dispatcher test runs on (native only where supported). */
export const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ...(nativeSupported() ? ([['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 })]] as [string, () => TextArena][]) : []),
];

/** Emit `fn` into fresh text. */
export function emit(arena: TextArena, fn: (buf: CodeBuffer) => void, align = 16): bigint {
  return emitText(arena, fn, { align }).address;
}

/** `count` programs, each returning its index + 1000, at irregular addresses. */
export function makePrograms(arena: TextArena, count: number, seed = 1): bigint[] {
  const progs: bigint[] = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    arena.alloc(16 + (x % 7) * 16); // a gap, so addresses are not evenly spaced
    progs.push(
      emit(arena, (b) => {
        mov(b, 'eax', 1000 + i);
        ret(b);
      }),
    );
  }
  return progs;
}

/** A trampoline whose fallback counts its uses. */
export interface CountingTrampoline {
  readonly trampoline: Trampoline;
  /** How often the fallback ran. */
  fallbacks(): bigint;
}

export function countingTrampoline(arena: TextArena): CountingTrampoline {
  const trampoline = createTrampoline(arena, { fallback: 'retpoline', countFallbacks: true });
  return { trampoline, fallbacks: () => trampoline.fallbacks() ?? 0n };
}

/** xdp_call_run from JS: tramp(ctx, insnsi, bpf_func). */
export function runThrough(arena: TextArena, trampoline: Trampoline, prog: bigint): bigint {
  return arena.call(trampoline.entry, 0, 0, prog);
}

