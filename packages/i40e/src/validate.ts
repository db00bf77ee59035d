import {
  assertLiveArena,
  type CheckError,
  type Region,
  optionsObject as sharedOptionsObject,
  type TextArena,
} from '@bpf-dispatcher/text-poke';
import { describeValue } from '@bpf-dispatcher/x86';
import { I40eError } from './errors.js';

const describe = describeValue;

/** The package's errors for the shared checks of text-poke. */
const checkError: CheckError = (code, message) => new I40eError(code, message);

/**
 * Check that `arena` is a live arena made by text-poke (by identity, not by shape) before
 * any work is done.
 * @throws I40eError EINVAL for anything else; DISPOSED for a disposed arena.
 */
export function assertArena(arena: unknown, what: string): asserts arena is TextArena {
  assertLiveArena(arena, what, checkError);
}

/** `options` must be undefined or an object. @throws I40eError EINVAL. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  return sharedOptionsObject(options, what, checkError);
}

/** A short description of a value for error messages (never throws). */
export { describe };

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
