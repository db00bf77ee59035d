import { type CheckError, type TextArena, assertLiveArena, optionsObject as sharedOptionsObject } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, describeValue } from '@bpf-dispatcher/x86';
import { XdpError } from './errors.js';

const describe = describeValue;

/** The package's errors for the shared checks of text-poke. */
const checkError: CheckError = (code, message) => new XdpError(code, message);

/**
 * Check that `arena` is a live arena made by text-poke (by identity, not by shape) before
 * any work is done.
 * @throws XdpError EINVAL for anything else; DISPOSED for a disposed arena.
 */
export function assertArena(arena: unknown, what: string): asserts arena is TextArena {
  assertLiveArena(arena, what, checkError);
}

/** `options` must be undefined or an object. @throws XdpError EINVAL. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  return sharedOptionsObject(options, what, checkError);
}

/** @throws XdpError EINVAL unless `buf` is an x86 CodeBuffer. */
export function assertCodeBuffer(buf: unknown, what: string): asserts buf is CodeBuffer {
  if (!(buf instanceof CodeBuffer)) throw new XdpError('EINVAL', `${what}: buf must be a CodeBuffer, got ${describe(buf)}`);
}

/** @throws XdpError EINVAL unless `name` is a non-empty string (at most 256 characters). */
export function assertName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new XdpError('EINVAL', `${what}: name must be a non-empty string of at most 256 characters, got ${describe(name)}`);
}

/** A short description of a value for error messages (never throws). */
export { describe };

/** Little-endian u64 of `bytes` at `offset`. */
export function u64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getBigUint64(offset, true);
}

/** Errors of the arena: ENOMEM/DISPOSED as XdpError-compatible codes are passed through unchanged. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
