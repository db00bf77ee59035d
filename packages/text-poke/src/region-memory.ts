import { TextPokeError } from './errors.js';
import type { Region, Word } from './types.js';

/**
 * Where a {@link RegionMemory} finds its bytes: the arena sets `view` to null when the
 * region is freed or the arena disposed, so an accessor never reaches unmapped memory.
 * @internal
 */
export interface RegionLease {
  view: DataView | null;
  /** Why `view` is null: the error to throw. */
  gone: () => TextPokeError;
}

const U64_LIMIT = 1n << 64n;

/**
 * A checked accessor over one data region of an arena: little-endian loads and stores of
 * u8/u16/u32/u64 (u64 as bigint) and byte copies in and out. Unlike the raw view of
 * `arena.dataBytes()`, it holds no reference to the memory itself: every method checks
 * that the region is still allocated and the arena not disposed first, so it can never
 * touch memory that was unmapped.
 *
 * Obtain one with `arena.memory(region)`.
 */
export class RegionMemory {
  readonly #lease: RegionLease;

  /** @internal use `arena.memory(region)`. */
  constructor(
    /** The region this accessor covers. */
    readonly region: Region,
    lease: RegionLease,
  ) {
    this.#lease = lease;
  }

  /** Address of the region's first byte. */
  get address(): bigint {
    return this.region.address;
  }

  /** Size of the region in bytes. */
  get size(): number {
    return this.region.size;
  }

  /** False once the region was freed or its arena disposed (every method then throws). */
  get usable(): boolean {
    return this.#lease.view !== null;
  }

  #at(offset: number, width: number, what: string): DataView {
    const view = this.#lease.view;
    if (view === null) throw this.#lease.gone();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + width > view.byteLength) {
      throw new TextPokeError('EFAULT', `${what}: offset ${String(offset)} (+${width}) is outside the ${view.byteLength}-byte region`);
    }
    return view;
  }

  #value(value: number, bits: number, what: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
      throw new TextPokeError('EINVAL', `${what}: ${String(value)} is not a u${bits}`);
    }
    return value;
  }

  /** Load a byte. @throws TextPokeError EFAULT out of the region; DISPOSED / EFAULT once disposed / freed. */
  getU8(offset: number): number {
    return this.#at(offset, 1, 'getU8').getUint8(offset);
  }

  /** Load a little-endian u16. @throws like {@link getU8}. */
  getU16(offset: number): number {
    return this.#at(offset, 2, 'getU16').getUint16(offset, true);
  }

  /** Load a little-endian u32. @throws like {@link getU8}. */
  getU32(offset: number): number {
    return this.#at(offset, 4, 'getU32').getUint32(offset, true);
  }

  /** Load a little-endian u64 as a bigint. @throws like {@link getU8}. */
  getU64(offset: number): bigint {
    return this.#at(offset, 8, 'getU64').getBigUint64(offset, true);
  }

  /** Store a byte. @throws TextPokeError EINVAL for a value that is not a u8; as {@link getU8}. */
  setU8(offset: number, value: number): void {
    this.#at(offset, 1, 'setU8').setUint8(offset, this.#value(value, 8, 'setU8'));
  }

  /** Store a little-endian u16. @throws like {@link setU8}. */
  setU16(offset: number, value: number): void {
    this.#at(offset, 2, 'setU16').setUint16(offset, this.#value(value, 16, 'setU16'), true);
  }

  /** Store a little-endian u32. @throws like {@link setU8}. */
  setU32(offset: number, value: number): void {
    this.#at(offset, 4, 'setU32').setUint32(offset, this.#value(value, 32, 'setU32'), true);
  }

  /**
   * Store a little-endian u64 (a bigint, or a non-negative safe integer).
   * @throws TextPokeError EINVAL for a value outside [0, 2^64); as {@link getU8}.
   */
  setU64(offset: number, value: Word): void {
    const view = this.#at(offset, 8, 'setU64');
    const ok = typeof value === 'bigint' ? value >= 0n && value < U64_LIMIT : Number.isSafeInteger(value) && value >= 0;
    if (!ok) throw new TextPokeError('EINVAL', `setU64: ${String(value)} is not a u64`);
    view.setBigUint64(offset, BigInt(value), true);
  }

  /** Copy `length` bytes out, starting at `offset`. @throws like {@link getU8}; EINVAL for a bad length. */
  read(offset: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) throw new TextPokeError('EINVAL', `read: bad length ${String(length)}`);
    const view = this.#at(offset, length, 'read');
    return new Uint8Array(view.buffer, view.byteOffset + offset, length).slice();
  }

  /** Copy `bytes` in at `offset`. @throws like {@link getU8}; EINVAL if `bytes` is not a Uint8Array. */
  write(offset: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TextPokeError('EINVAL', 'write: bytes must be a Uint8Array');
    const view = this.#at(offset, bytes.length, 'write');
    new Uint8Array(view.buffer, view.byteOffset + offset, bytes.length).set(bytes);
  }
}
