import { describeValue } from '@bpf-dispatcher/x86';
import type { TextArena } from './types.js';

/** Every arena this copy of the package created (a brand: look-alike objects are not arenas). */
const arenas = new WeakSet<object>();

/** Record `arena` as made by this package. Called once by each arena's constructor. */
export function brandArena(arena: TextArena): void {
  arenas.add(arena);
}

/** True if `value` is an arena created by this package (by identity, not by its shape). Never throws. */
export function isTextArena(value: unknown): value is TextArena {
  return typeof value === 'object' && value !== null && arenas.has(value);
}

/**
 * Make a package's own typed error for a failed check; the higher layers pass their error
 * class so that each package keeps throwing its own errors.
 */
export type CheckError = (code: 'EINVAL' | 'DISPOSED', message: string) => Error;

/**
 * Check, before any work is done, that `arena` is a live arena made by this package.
 * @throws the error `error` makes: EINVAL for anything else (also a look-alike object),
 *   DISPOSED for a disposed arena.
 */
export function assertLiveArena(arena: unknown, what: string, error: CheckError): asserts arena is TextArena {
  if (!isTextArena(arena)) {
    throw error('EINVAL', `${what}: arena must be a TextArena (SimulatedArena or NativeArena), got ${describeValue(arena)}`);
  }
  if (arena.disposed) throw error('DISPOSED', `${what}: the arena was disposed`);
}

/**
 * `options` must be undefined or an object (not an array): returns it, or `{}` for undefined.
 * @throws the EINVAL error `error` makes.
 */
export function optionsObject<T extends object>(options: T | undefined | null, what: string, error: CheckError): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw error('EINVAL', `${what}: options must be an object, got ${describeValue(options)}`);
  }
  return options;
}
