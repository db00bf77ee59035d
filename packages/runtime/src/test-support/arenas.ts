/**
 * Test support: the arenas every map test runs on (the native one only where it exists).
 */
import { NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';

/** A named arena factory for `describe.each`. */
export interface ArenaCase {
  readonly name: 'simulated' | 'native';
  readonly create: () => TextArena;
}

/** The simulated arena always; the native arena on x86-64 Linux (skipped elsewhere). */
export const ARENAS: readonly ArenaCase[] = Object.freeze([
  { name: 'simulated', create: () => new SimulatedArena({ dataSize: 16 << 20 }) },
  ...(nativeSupported() ? [{ name: 'native' as const, create: () => new NativeArena({ textSize: 4 << 20, dataSize: 32 << 20 }) }] : []),
]);
