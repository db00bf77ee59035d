import { type CheckError, type TextArena, assertLiveArena, optionsObject as sharedOptionsObject } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, describeValue, toAddress } from '@bpf-dispatcher/x86';
import { DispatcherError } from './errors.js';

const describe = describeValue;

/** The package's errors for the shared checks of text-poke. */
const checkError: CheckError = (code, message) => new DispatcherError(code, message);

/**
 * Check that `arena` is a live arena made by text-poke (by identity, not by shape) before
 * any work is done.
 * @throws DispatcherError EINVAL for anything else; DISPOSED for a disposed arena.
 */
export function assertArena(arena: unknown, what: string): asserts arena is TextArena {
  assertLiveArena(arena, what, checkError);
}

/** `options` must be undefined or an object. @throws DispatcherError EINVAL. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  return sharedOptionsObject(options, what, checkError);
}

/** A program or code address as an unsigned 64-bit bigint (x86's `toAddress`). @throws DispatcherError EINVAL. */
export function addressOf(value: unknown, what: string): bigint {
  return toAddress(value, what, (message) => new DispatcherError('EINVAL', message));
}

/** @throws DispatcherError EINVAL unless `buf` is an x86 CodeBuffer. */
export function assertCodeBuffer(buf: unknown, what: string): asserts buf is CodeBuffer {
  if (!(buf instanceof CodeBuffer)) throw new DispatcherError('EINVAL', `${what}: buf must be a CodeBuffer, got ${describe(buf)}`);
}

/** A short description of a value for error messages (never throws). */
export { describe };
