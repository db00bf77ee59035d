/**
 * Map types and definitions: what a map is before it exists (the kernel's
 * `BPF_MAP_CREATE` attributes), and the interface each map type implements.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';

/** The map types this runtime provides, by their kernel names (`BPF_MAP_TYPE_*` in lower case). */
export type MapTypeName = 'hash' | 'array' | 'percpu_hash' | 'percpu_array';

/** `enum bpf_map_type` numbers of the supported types. */
export const BPF_MAP_TYPE_ID: Readonly<Record<MapTypeName, number>> = Object.freeze({ hash: 1, array: 2, percpu_hash: 5, percpu_array: 6 });

/** The supported type with this kernel number, or undefined. */
export function mapTypeOf(id: number): MapTypeName | undefined {
  for (const [name, n] of Object.entries(BPF_MAP_TYPE_ID)) if (n === id) return name as MapTypeName;
  return undefined;
}

/** Whether a type keeps one value per CPU. */
export function isPerCpu(type: MapTypeName): boolean {
  return type === 'percpu_hash' || type === 'percpu_array';
}

/** `map_flags` bits the runtime accepts (kernel values). */
export const BPF_F = Object.freeze({
  /** Hash maps: allocate on demand (here elements are always preallocated; accepted for compatibility). */
  NO_PREALLOC: 0x1,
  /** Hash maps: hash with seed 0 (deterministic bucket order). */
  ZERO_SEED: 0x40,
  /** Programs may only read the map (`.rodata`). */
  RDONLY_PROG: 0x80,
  /** Programs may only write the map. Not supported. */
  WRONLY_PROG: 0x100,
  /** Arrays: the values may be mapped by user space (they always are here: accepted). */
  MMAPABLE: 0x400,
});

/** `bpf_map_update_elem` flags. */
export const BPF_UPDATE = Object.freeze({ ANY: 0, NOEXIST: 1, EXIST: 2 });

/** What a map is made of (the kernel's `BPF_MAP_CREATE` attributes). */
export interface MapDefinition {
  readonly type: MapTypeName;
  /** Key size in bytes: 4 for arrays, 1..512 for hash maps. */
  readonly keySize: number;
  /** Value size in bytes, 1..65536 (per-CPU maps: at most 32768, the kernel's per-CPU limit). */
  readonly valueSize: number;
  /** Capacity, at least 1. */
  readonly maxEntries: number;
  /** `map_flags` ({@link BPF_F}). Default 0. */
  readonly flags?: number;
  /** A name for messages and lookups (≤ 15 of `[A-Za-z0-9_.]` for the kernel; any short string here). */
  readonly name?: string;
}

/** What the JIT may inline for `bpf_map_lookup_elem` on this map (the kernel's `map_gen_lookup`). */
export interface InlineArrayLookup {
  readonly kind: 'array';
  /** Address of CPU 0's first value. */
  readonly values: bigint;
  /** Bytes between two values. */
  readonly elemSize: number;
  readonly maxEntries: number;
  /** Bytes between two CPUs' copies of the array (per-CPU arrays), 0 for plain arrays. */
  readonly cpuStride: number;
}

/** Everything a map type's implementation gets when a map is created. */
export interface MapContext {
  readonly arena: TextArena;
  /** The runtime's CPU count (per-CPU maps keep this many copies). */
  readonly cpus: number;
  readonly def: Required<MapDefinition>;
  /** The map's `struct bpf_map` (allocated and zeroed; the common fields are filled by the caller after construction). */
  readonly header: Region;
  /**
   * Call a native function of the runtime's ABI from TypeScript (r12 = CPU 0): what the
   * map's TypeScript operations use to run its own native functions, so that they take the
   * same lock as programs do.
   */
  userCall(fn: bigint, ...args: (bigint | number)[]): bigint;
}

/**
 * The implementation of one map type. Keys and values cross as bytes of exactly the
 * map's sizes (checked by the caller); per-CPU values as one buffer per CPU.
 */
export interface MapBackend {
  /** The map's own native functions (`map->ops`), written into the header by the caller. */
  readonly ops: { readonly lookup: bigint; readonly update: bigint; readonly delete: bigint };
  /** Element storage (`values` in the header). */
  readonly values: bigint;
  /** `elemSize`, `cpuStride`, `valueOffset` for the header. */
  readonly elemSize: number;
  readonly cpuStride: number;
  /** What the JIT may inline for lookups, if anything. */
  readonly inlineLookup?: InlineArrayLookup;
  /** For single-value access (`lddw rX, map_value`, global data): the address of value 0 (CPU 0). */
  readonly directValue?: bigint;
  /** The value of `key` per CPU (one buffer for maps that are not per-CPU), copied; undefined if absent. */
  lookup(key: Uint8Array): Uint8Array[] | undefined;
  /** Store `values` (one per CPU, or one buffer for all CPUs) under `key`. Returns 0 or a negative errno. */
  update(key: Uint8Array, values: readonly Uint8Array[], flags: number): number;
  /** Delete `key`. Returns 0 or a negative errno. */
  delete(key: Uint8Array): number;
  /** The key after `key` in iteration order (the first one for undefined), or undefined at the end (`BPF_MAP_GET_NEXT_KEY`). */
  nextKey(key: Uint8Array | undefined): Uint8Array | undefined;
  /** Every key, taken at one instant. */
  keys(): Uint8Array[];
  /**
   * Deferred reclamation (hash maps): move elements whose grace period has elapsed back to
   * the free list and start a grace period for newly unlinked ones. Never waits. Returns
   * the number of elements still waiting.
   */
  reclaim?(): number;
  /** Regions the map owns besides the header (freed with it, after a grace period). */
  readonly regions: readonly Region[];
}
