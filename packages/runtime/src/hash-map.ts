/**
 * HASH and PERCPU_HASH maps in native memory (the kernel's kernel/bpf/hashtab.c with
 * preallocated elements): a bucket array of singly linked element lists, a pool of
 * `2 * maxEntries` elements, and per-map machine code for lookup, update and delete that
 * programs call directly and TypeScript calls through `ctx.userCall`.
 *
 * Concurrency, as the kernel's RCU-protected hash table:
 * - lookups take no lock and walk the lists with plain loads;
 * - writers (programs on any CPU, TypeScript) serialise on the map's spinlock;
 * - an update never writes a linked element (except a per-CPU program update, which
 *   writes its own CPU's copy in place as the kernel does): it fills a free element and
 *   publishes it, then unlinks the old one;
 * - unlinked elements go on the `retired` list untouched, and return to the free list only
 *   after a grace period: {@link HashBackend.reclaim}, driven by TypeScript with the
 *   arena's polled grace periods (`get_state_synchronize_rcu` /
 *   `poll_state_synchronize_rcu`), and the map's own code when an update finds the free
 *   list empty (hash/reclaim-emit.ts, against the reader table);
 * - TypeScript reads values under the lock (`lookup_copy`), so no reclamation on another
 *   thread reuses an element while it is copied.
 *
 * Lists (all native; TypeScript only builds the initial free list, before the map exists
 * for any code): `freeList` through elements' `next`; each bucket through `next`;
 * `retired` and detached batches through elements' `link` (see {@link HTAB_ELEM}).
 */
import type { GracePeriodCookie, Region, RegionMemory, TextArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { ERRNO, RuntimeError } from './errors.js';
import { emitHashCode, type HashEntries } from './hash/code.js';
import { type HashLayout, HTAB_ELEM, hashLayout, type ScratchLayout, scratchLayout } from './hash/layout.js';
import { BpfMapStruct } from './map-struct.js';
import { BPF_F, type MapBackend, type MapContext } from './map-types.js';

export type { HashEntries } from './hash/code.js';
export { hashKey } from './hash/key-emit.js';
export { type HashLayout, HTAB_ELEM } from './hash/layout.js';

/** A batch of retired elements waiting for its grace period. */
interface Batch {
  readonly head: bigint;
  readonly count: number;
  readonly cookie: GracePeriodCookie;
}

/** What {@link HashBackend.inspect} shows of a map's private state (for audits and tests). */
export interface HashMapState {
  readonly layout: HashLayout;
  /** The hash seed baked into the code. */
  readonly seed: number;
  readonly pool: Region;
  readonly buckets: Region;
  readonly scratch: Region;
  readonly code: Region;
  /** Every native function of the map. */
  readonly entries: HashEntries;
  /** Detached batches waiting for their grace period: list heads (linked through `link`) and lengths. */
  readonly batches: readonly { readonly head: bigint; readonly count: number }[];
  /** The batch the map's own code reclaims (`waiting` in the header), or none. */
  readonly nativeWaiting: { readonly head: bigint; readonly count: number } | undefined;
}

/** A hash map's {@link MapBackend}, with deferred reclamation always present. */
export interface HashBackend extends MapBackend {
  /**
   * Deferred reclamation: release every batch whose grace period has elapsed, then detach
   * the retired list into a new batch and start its grace period (polled again at once:
   * with no reader online it has already elapsed). Never waits. Returns the number of
   * elements still waiting. The kernel's `call_rcu` callbacks of `htab_elem_free_rcu`.
   * @throws the arena's errors (DISPOSED).
   */
  reclaim(): number;
  /** Elements retired or waiting in batches (without reclaiming anything). */
  waiting(): number;
  /** The map's layout, regions and pending batches. */
  inspect(): HashMapState;
}

/** A random 32-bit seed (`htab->hashrnd = get_random_u32()`). */
function randomSeed(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

/** Allocate data, turning the arena's ENOMEM into the runtime's. */
function allocData(arena: TextArena, size: number, what: string): Region {
  try {
    return arena.allocData(size, 64);
  } catch (error) {
    if (BpfDispatcherError.hasCode(error, 'ENOMEM'))
      throw new RuntimeError('ENOMEM', `hash map: no room in the arena for the ${what} (${size} bytes)`, { cause: error });
    throw error;
  }
}

/**
 * Allocate every region of the map and emit its code; on any failure free what was
 * allocated and rethrow.
 */
function allocate(ctx: MapContext, layout: HashLayout, scratch: ScratchLayout, seed: number) {
  const { arena } = ctx;
  const regions: Region[] = [];
  try {
    const pool = allocData(arena, layout.poolBytes, 'element pool');
    regions.push(pool);
    const buckets = allocData(arena, layout.buckets * 8, 'bucket array');
    regions.push(buckets);
    const scratchRegion = allocData(arena, scratch.size, 'scratch area');
    regions.push(scratchRegion);
    const readers = arena.readerTable;
    const snapshot = allocData(arena, readers.slots * 8, 'reclamation snapshot');
    regions.push(snapshot);
    let code: ReturnType<typeof emitHashCode>;
    try {
      code = emitHashCode(arena, { layout, seed, pool: pool.address, buckets: buckets.address }, { readers, snapshot: snapshot.address });
    } catch (error) {
      if (BpfDispatcherError.hasCode(error, 'ENOMEM'))
        throw new RuntimeError('ENOMEM', 'hash map: no room in the arena for the code', { cause: error });
      throw error;
    }
    regions.push(code.region);
    return { pool, buckets, scratch: scratchRegion, code, regions };
  } catch (error) {
    for (const region of regions.reverse()) arena.free(region);
    throw error;
  }
}

/** Link every element of the pool into the free list, element 0 first (the map is not visible to any code yet). */
function initFreeList(memory: RegionMemory, layout: HashLayout, pool: bigint): void {
  for (let i = 0; i < layout.poolElems; i++) {
    const next = i + 1 < layout.poolElems ? pool + BigInt((i + 1) * layout.elemSize) : 0n;
    memory.setU64(i * layout.elemSize + HTAB_ELEM.next, next);
  }
}

/** A native return value as a signed number (0 or -errno). */
const signed = (value: bigint): number => Number(BigInt.asIntN(64, value));

/**
 * Create the storage, code and TypeScript operations of a 'hash' or 'percpu_hash' map
 * (the kernel's `htab_map_alloc` with preallocation, and the `bpf_map_ops` of
 * `htab_map_ops` / `htab_percpu_map_ops`). Fills the hash-specific header fields
 * (`buckets`, `bucketMask`, `freeList`, `retired`, `count`, `retiredCount`, `valueOffset`,
 * `hashSeed`, `elemSize`, `cpuStride`, `values`); the caller fills the common ones from the
 * returned backend. The seed is random unless `BPF_F_ZERO_SEED` is set.
 *
 * The definition is assumed valid (checked by the caller).
 * @throws RuntimeError EINVAL for a type that is not a hash map; E2BIG when the pool would
 *   exceed the largest arena region (1 GiB); ENOMEM when the arena cannot hold the pool,
 *   buckets, scratch area or code (nothing stays allocated).
 */
export function createHashBackend(ctx: MapContext): HashBackend {
  const { arena, def } = ctx;
  const layout = hashLayout(def, ctx.cpus);
  const scratchAt = scratchLayout(layout);
  const seed = (def.flags & BPF_F.ZERO_SEED) !== 0 ? 0 : randomSeed();
  const { pool, buckets, scratch, code, regions } = allocate(ctx, layout, scratchAt, seed);
  const fn = code.entries;

  initFreeList(arena.memory(pool), layout, pool.address);
  const header = BpfMapStruct.view(arena.memory(ctx.header));
  header.set('buckets', buckets.address);
  header.set('bucketMask', layout.bucketMask);
  header.set('freeList', pool.address);
  header.set('retired', 0n);
  header.set('count', 0);
  header.set('retiredCount', 0);
  header.set('waiting', 0n);
  header.set('waitingCount', 0);
  header.set('valueOffset', layout.valueOffset);
  header.set('hashSeed', seed);
  header.set('elemSize', layout.elemSize);
  header.set('cpuStride', BigInt(layout.valueStride));
  header.set('values', pool.address);

  const map = ctx.header.address;
  const scratchMemory = arena.memory(scratch);
  const keyAddress = scratch.address + BigInt(scratchAt.key);
  const batches: Batch[] = [];

  const keyArgument = (key: Uint8Array, what: string): bigint => {
    if (!(key instanceof Uint8Array) || key.length !== layout.keySize) {
      throw new RuntimeError('EINVAL', `hash map ${what}: the key must be ${layout.keySize} bytes`);
    }
    scratchMemory.write(scratchAt.key, key);
    return keyAddress;
  };

  /** The value area for `update_all`: every CPU's copy, zero-padded; undefined for a bad shape. */
  const valueArea = (values: readonly Uint8Array[]): Uint8Array | undefined => {
    const copies = layout.perCpu ? layout.cpus : 1;
    if (values.length !== 1 && values.length !== copies) return undefined;
    const area = new Uint8Array(layout.valueArea);
    for (let c = 0; c < copies; c++) {
      const value = values.length === 1 ? values[0] : values[c];
      if (!(value instanceof Uint8Array) || value.length !== layout.valueSize) return undefined;
      area.set(value, c * layout.valueStride);
    }
    return area;
  };

  const release = (batch: Batch): void => {
    ctx.userCall(fn.release, map, batch.head);
  };

  const waiting = (): number => batches.reduce((sum, b) => sum + b.count, 0) + header.get('retiredCount') + header.get('waitingCount');

  const reclaim = (): number => {
    const releaseElapsed = (): void => {
      for (let i = 0; i < batches.length; ) {
        const batch = batches[i] as Batch;
        if (arena.pollGracePeriod(batch.cookie)) {
          release(batch);
          batches.splice(i, 1);
        } else i++;
      }
    };
    releaseElapsed();
    // the batch the map's own code waits on: released if its grace period has passed
    if (header.get('waitingCount') > 0) ctx.userCall(fn.reclaimLocked, map);
    if (header.get('retiredCount') > 0) {
      const head = ctx.userCall(fn.detachRetired, map, scratch.address + BigInt(scratchAt.count));
      const count = Number(scratchMemory.getU64(scratchAt.count));
      if (head !== 0n) {
        batches.push({ head, count, cookie: arena.startGracePeriod() });
        releaseElapsed();
      }
    }
    return waiting();
  };

  return {
    ops: Object.freeze({ lookup: fn.lookup, update: fn.update, delete: fn.delete }),
    values: pool.address,
    elemSize: layout.elemSize,
    cpuStride: layout.valueStride,
    regions: Object.freeze(regions.slice()),

    /** `htab_map_lookup_elem` / `bpf_percpu_hash_copy`: each CPU's copy (copied under the lock), or undefined. */
    lookup(key: Uint8Array): Uint8Array[] | undefined {
      const found = ctx.userCall(fn.lookupCopy, map, keyArgument(key, 'lookup'), scratch.address + BigInt(scratchAt.values));
      if (found === 0n) return undefined;
      const copies = layout.perCpu ? layout.cpus : 1;
      return Array.from({ length: copies }, (_, c) => scratchMemory.read(scratchAt.values + c * layout.valueStride, layout.valueSize));
    },

    /** `htab_map_update_elem` / `bpf_percpu_hash_update` from user space: copy-on-write. */
    update(key: Uint8Array, values: readonly Uint8Array[], flags: number): number {
      reclaim();
      if (!Number.isSafeInteger(flags) || flags < 0) return -ERRNO.EINVAL;
      const area = valueArea(values);
      if (area === undefined || !(key instanceof Uint8Array) || key.length !== layout.keySize) return -ERRNO.EINVAL;
      const keyAt = keyArgument(key, 'update');
      scratchMemory.write(scratchAt.values, area);
      const valuesAt = scratch.address + BigInt(scratchAt.values);
      return signed(ctx.userCall(layout.perCpu ? fn.updateAll : fn.update, map, keyAt, valuesAt, flags));
    },

    /** `htab_map_delete_elem`. */
    delete(key: Uint8Array): number {
      reclaim();
      if (!(key instanceof Uint8Array) || key.length !== layout.keySize) return -ERRNO.EINVAL;
      return signed(ctx.userCall(fn.delete, map, keyArgument(key, 'delete')));
    },

    /** `htab_map_get_next_key`. */
    nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
      const keyAt = key === undefined ? 0n : keyArgument(key, 'nextKey');
      const rc = signed(ctx.userCall(fn.getNextKey, map, keyAt, scratch.address + BigInt(scratchAt.nextKey)));
      return rc === 0 ? scratchMemory.read(scratchAt.nextKey, layout.keySize) : undefined;
    },

    /** Every key at one instant (under the lock), in bucket order. */
    keys(): Uint8Array[] {
      const n = Number(ctx.userCall(fn.keys, map, scratch.address + BigInt(scratchAt.keys)));
      return Array.from({ length: n }, (_, i) => scratchMemory.read(scratchAt.keys + i * layout.keyStride, layout.keySize));
    },

    reclaim,
    waiting,

    inspect(): HashMapState {
      return Object.freeze({
        layout,
        seed,
        pool,
        buckets,
        scratch,
        code: code.region,
        entries: fn,
        batches: Object.freeze(batches.map(({ head, count }) => Object.freeze({ head, count }))),
        nativeWaiting: header.get('waiting') === 0n ? undefined : Object.freeze({ head: header.get('waiting'), count: header.get('waitingCount') }),
      });
    },
  };
}
