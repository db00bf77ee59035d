import type { TextArena } from '@bpf-dispatcher/text-poke';
import { type Address, CodeBuffer } from '@bpf-dispatcher/x86';
import { DispatcherError } from './errors.js';

const ARENA_METHODS = ['alloc', 'allocData', 'free', 'write', 'read', 'textPoke', 'synchronize', 'call'] as const;

/**
 * Check that `arena` is a live {@link TextArena} (by its contract: the methods this package
 * calls, and a `disposed` flag) before any work is done.
 * @throws DispatcherError EINVAL for anything else; DISPOSED for a disposed arena.
 */
export function assertArena(arena: unknown, what: string): asserts arena is TextArena {
  if (typeof arena !== 'object' || arena === null || ARENA_METHODS.some((m) => typeof (arena as Record<string, unknown>)[m] !== 'function')) {
    throw new DispatcherError('EINVAL', `${what}: arena must be a TextArena (SimulatedArena or NativeArena), got ${describe(arena)}`);
  }
  if ((arena as TextArena).disposed) throw new DispatcherError('DISPOSED', `${what}: the arena was disposed`);
}

/** `options` must be undefined or a plain object. @throws DispatcherError EINVAL. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new DispatcherError('EINVAL', `${what}: options must be an object, got ${describe(options)}`);
  return options;
}

/** A program or code address: a bigint or a safe integer, as an unsigned 64-bit bigint. @throws DispatcherError EINVAL. */
export function addressOf(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  throw new DispatcherError('EINVAL', `${what} must be an address (bigint or safe integer), got ${describe(value)}`);
}

/** True for a value {@link addressOf} accepts. */
export function isAddress(value: unknown): value is Address {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value));
}

/** @throws DispatcherError EINVAL unless `buf` is an x86 CodeBuffer. */
export function assertCodeBuffer(buf: unknown, what: string): asserts buf is CodeBuffer {
  if (!(buf instanceof CodeBuffer)) throw new DispatcherError('EINVAL', `${what}: buf must be a CodeBuffer, got ${describe(buf)}`);
}

/** A short description of a value for error messages (never throws). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
