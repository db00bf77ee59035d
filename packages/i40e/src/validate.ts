import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { I40eError } from './errors.js';

const ARENA_METHODS = ['alloc', 'allocData', 'free', 'write', 'read', 'textPoke', 'synchronize', 'call'] as const;

/**
 * Check that `arena` is a live TextArena (by its contract) before any work is done.
 * @throws I40eError EINVAL for anything else; DISPOSED for a disposed arena.
 */
export function assertArena(arena: unknown, what: string): asserts arena is TextArena {
  if (typeof arena !== 'object' || arena === null || ARENA_METHODS.some((m) => typeof (arena as Record<string, unknown>)[m] !== 'function')) {
    throw new I40eError('EINVAL', `${what}: arena must be a TextArena (SimulatedArena or NativeArena), got ${describe(arena)}`);
  }
  if ((arena as TextArena).disposed) throw new I40eError('DISPOSED', `${what}: the arena was disposed`);
}

/** `options` must be undefined or an object. @throws I40eError EINVAL. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new I40eError('EINVAL', `${what}: options must be an object, got ${describe(options)}`);
  return options;
}

/** A short description of a value for error messages (never throws). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** Free regions, ignoring what is already gone (failure paths and dispose). */
export function freeRegions(arena: TextArena, regions: readonly Region[]): void {
  if (arena.disposed) return;
  for (const region of regions) {
    try {
      arena.free(region);
    } catch {
      // already freed
    }
  }
}
