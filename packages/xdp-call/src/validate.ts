import type { TextArena } from '@bpf-dispatcher/text-poke';
import { CodeBuffer } from '@bpf-dispatcher/x86';
import { XdpError } from './errors.js';

const ARENA_METHODS = ['alloc', 'allocData', 'free', 'write', 'read', 'textPoke', 'synchronize', 'call'] as const;

/**
 * Check that `arena` is a live TextArena (by its contract) before any work is done.
 * @throws XdpError EINVAL for anything else; DISPOSED for a disposed arena.
 */
export function assertArena(arena: unknown, what: string): asserts arena is TextArena {
  if (typeof arena !== 'object' || arena === null || ARENA_METHODS.some((m) => typeof (arena as Record<string, unknown>)[m] !== 'function')) {
    throw new XdpError('EINVAL', `${what}: arena must be a TextArena (SimulatedArena or NativeArena), got ${describe(arena)}`);
  }
  if ((arena as TextArena).disposed) throw new XdpError('DISPOSED', `${what}: the arena was disposed`);
}

/** `options` must be undefined or an object. @throws XdpError EINVAL. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new XdpError('EINVAL', `${what}: options must be an object, got ${describe(options)}`);
  return options;
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
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** Little-endian u64 of `bytes` at `offset`. */
export function u64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getBigUint64(offset, true);
}

/** Errors of the arena: ENOMEM/DISPOSED as XdpError-compatible codes are passed through unchanged. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
