/**
 * Test support: a JS model of a hash map's observable behaviour (return codes, values per
 * CPU, and when spare elements run out), to check the native map against.
 */
import { ERRNO } from '../errors.js';
import { BPF_UPDATE } from '../map-types.js';

/** The bytes of key number `i` of `size` bytes: a fixed pattern, changed in the last byte (even i) or the first (odd i). */
export function testKey(i: number, size: number): Uint8Array {
  const key = new Uint8Array(size);
  for (let j = 0; j < size; j++) key[j] = (j * 7 + 3) & 0xff;
  const at = i % 2 === 0 ? size - 1 : 0;
  key[at] = (key[at] as number) ^ ((i + 1) & 0xff);
  return key;
}

/** A value of `size` bytes derived from `seed` and `cpu`. */
export function testValue(seed: number, cpu: number, size: number): Uint8Array {
  const value = new Uint8Array(size);
  for (let j = 0; j < size; j++) value[j] = (seed * 31 + j * 7 + cpu * 13 + 1) & 0xff;
  return value;
}

/**
 * The model: live entries (one value copy per CPU) and the number of elements retired
 * since the last reclamation (with no reader online, a reclamation frees them all — by
 * TypeScript, or by the map's code when an update finds no free element).
 */
export class HashModel {
  readonly entries = new Map<number, Uint8Array[]>();
  retired = 0;

  constructor(
    readonly maxEntries: number,
    readonly copies: number,
    readonly perCpu: boolean,
    readonly valueSize: number,
  ) {}

  /** Free elements: the pool (2 × maxEntries) less the live and the retired ones. */
  get free(): number {
    return 2 * this.maxEntries - this.entries.size - this.retired;
  }

  /** A reclamation with no reader online. */
  reclaim(): void {
    this.retired = 0;
  }

  /** Flag and capacity checks common to every update; 0 when the update may go on. */
  private check(key: number, flags: number): number {
    if (flags > BPF_UPDATE.EXIST) return -ERRNO.EINVAL;
    const present = this.entries.has(key);
    if (present && flags === BPF_UPDATE.NOEXIST) return -ERRNO.EEXIST;
    if (!present && flags === BPF_UPDATE.EXIST) return -ERRNO.ENOENT;
    if (!present && this.entries.size >= this.maxEntries) return -ERRNO.E2BIG;
    return 0;
  }

  /**
   * A copy-on-write update with every copy given. With the free list empty the map's own
   * code reclaims first (no reader is online in the model, so everything retired returns).
   */
  private replace(key: number, copies: Uint8Array[]): number {
    if (this.free === 0) this.reclaim();
    if (this.free === 0) return -ERRNO.ENOMEM;
    if (this.entries.has(key)) this.retired++;
    this.entries.set(key, copies);
    return 0;
  }

  /** An update from TypeScript (reclaims first): one value for every CPU, or one per CPU. */
  userUpdate(key: number, values: Uint8Array[], flags: number): number {
    this.reclaim();
    const rc = this.check(key, flags);
    if (rc !== 0) return rc;
    return this.replace(key, values.length === 1 ? Array.from({ length: this.copies }, () => values[0] as Uint8Array) : values);
  }

  /** An update from a program running as `cpu`. */
  programUpdate(key: number, value: Uint8Array, flags: number, cpu: number): number {
    const rc = this.check(key, flags);
    if (rc !== 0) return rc;
    const old = this.entries.get(key);
    if (!this.perCpu) return this.replace(key, [value]);
    if (old !== undefined) {
      old[cpu] = value;
      return 0;
    }
    const copies = Array.from({ length: this.copies }, (_, c) => (c === cpu ? value : new Uint8Array(this.valueSize)));
    return this.replace(key, copies);
  }

  /** A delete (from TypeScript: reclaims first). */
  delete(key: number, fromUser: boolean): number {
    if (fromUser) this.reclaim();
    if (!this.entries.delete(key)) return -ERRNO.ENOENT;
    this.retired++;
    return 0;
  }
}
