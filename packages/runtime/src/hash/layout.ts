/**
 * The memory layout of a hash map (the kernel's `struct htab` and `struct htab_elem`, with
 * every element preallocated as `htab_map_alloc` does without `BPF_F_NO_PREALLOC`):
 * sizes and offsets computed once from the definition, shared by the emitters and the
 * TypeScript side.
 */
import { RuntimeError } from '../errors.js';
import type { MapDefinition } from '../map-types.js';

/**
 * Offsets in one element (`struct htab_elem`):
 * - `next` (u64): the bucket list link while the element is linked, and the free-list link
 *   while it is free. Never written while the element is retired: a reader that still
 *   stands on a retired element goes on along the bucket it was unlinked from.
 * - `hash` (u32): the key's hash.
 * - `link` (u32): the retired-list link while the element waits for a grace period:
 *   1 + the byte offset from the pool of the next retired element, 0 at the end. Readers
 *   never read it, so retiring an element changes nothing a reader looks at.
 * - `key`: the key, zero-padded to a multiple of 8 bytes (compares and hashes read whole
 *   words of it).
 * The value follows the key at `valueOffset`.
 */
export const HTAB_ELEM = Object.freeze({ next: 0, hash: 8, link: 12, key: 16 });

/** At most this many buckets (8 MiB of bucket heads); larger maps share buckets. */
export const MAX_BUCKETS = 1 << 20;

/** The largest single region an arena hands out (`TextArena.alloc`'s limit). */
export const MAX_REGION = 1 << 30;

/** Sizes and offsets of one hash map, derived from its definition. Frozen. */
export interface HashLayout {
  /** 'percpu_hash': one value copy per CPU in each element. */
  readonly perCpu: boolean;
  /** CPUs (value copies per element for per-CPU maps; 1 otherwise). */
  readonly cpus: number;
  readonly keySize: number;
  /** round_up(keySize, 8): the key's bytes in an element. */
  readonly keyStride: number;
  readonly valueSize: number;
  /** round_up(valueSize, 8): bytes of one value copy (`cpuStride` in the header). */
  readonly valueStride: number;
  /** Bytes of value in one element: `valueStride`, times `cpus` for per-CPU maps. */
  readonly valueArea: number;
  /** Offset of the value (CPU 0's copy) in an element: 16 + keyStride. */
  readonly valueOffset: number;
  /** Bytes of one element, a multiple of 8. */
  readonly elemSize: number;
  readonly maxEntries: number;
  /** Elements in the pool: maxEntries live ones plus maxEntries spares. */
  readonly poolElems: number;
  readonly poolBytes: number;
  /** Buckets, a power of two ≥ maxEntries (at most {@link MAX_BUCKETS}). */
  readonly buckets: number;
  readonly bucketMask: number;
}

const roundUp8 = (n: number): number => Math.ceil(n / 8) * 8;

/**
 * The layout of a hash map. The pool holds `2 * maxEntries` elements: `maxEntries` may be
 * live, and the other half are spares, so that an element replaced (copy-on-write update)
 * or deleted can wait for a grace period before it is used again while the map still
 * accepts writes (the kernel keeps one extra element per CPU for the same purpose;
 * here a whole second set, because reclamation is deferred to TypeScript).
 * @throws RuntimeError EINVAL for a type that is not a hash map; E2BIG when the pool would
 *   be larger than the largest region an arena allocates (1 GiB).
 */
export function hashLayout(def: Required<MapDefinition>, cpus: number): HashLayout {
  if (def.type !== 'hash' && def.type !== 'percpu_hash')
    throw new RuntimeError('EINVAL', `hash map backend: type ${def.type} is not a hash map`);
  const perCpu = def.type === 'percpu_hash';
  const copies = perCpu ? cpus : 1;
  const keyStride = roundUp8(def.keySize);
  const valueStride = roundUp8(def.valueSize);
  const valueArea = valueStride * copies;
  const valueOffset = HTAB_ELEM.key + keyStride;
  const elemSize = valueOffset + valueArea;
  const poolElems = def.maxEntries * 2;
  const poolBytes = poolElems * elemSize;
  if (poolBytes > MAX_REGION) {
    throw new RuntimeError(
      'E2BIG',
      `hash map: ${poolElems} elements of ${elemSize} bytes (${poolBytes} bytes) exceed the largest arena region (${MAX_REGION} bytes)`,
    );
  }
  let buckets = 1;
  while (buckets < def.maxEntries && buckets < MAX_BUCKETS) buckets *= 2;
  return Object.freeze({
    perCpu,
    cpus: copies,
    keySize: def.keySize,
    keyStride,
    valueSize: def.valueSize,
    valueStride,
    valueArea,
    valueOffset,
    elemSize,
    maxEntries: def.maxEntries,
    poolElems,
    poolBytes,
    buckets,
    bucketMask: buckets - 1,
  });
}

/**
 * Offsets in the map's scratch region, where TypeScript puts the arguments of the map's
 * native functions: the key, the key a `get_next_key` writes, the count `detach_retired`
 * writes, a value area (every CPU's copy, padded to `valueStride`), and room for a keys
 * snapshot (`maxEntries` keys of `keyStride` bytes).
 */
export interface ScratchLayout {
  readonly key: number;
  readonly nextKey: number;
  readonly count: number;
  readonly values: number;
  readonly keys: number;
  readonly size: number;
}

/** The scratch layout of a map. @throws RuntimeError E2BIG when it exceeds the largest region. */
export function scratchLayout(layout: HashLayout): ScratchLayout {
  const key = 0;
  const nextKey = layout.keyStride;
  const count = 2 * layout.keyStride;
  const values = count + 8;
  const keys = values + layout.valueArea;
  const size = keys + layout.maxEntries * layout.keyStride;
  if (size > MAX_REGION) throw new RuntimeError('E2BIG', `hash map: the ${size}-byte scratch region exceeds the largest arena region`);
  return Object.freeze({ key, nextKey, count, values, keys, size });
}
