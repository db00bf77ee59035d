/**
 * Test support: walk every list of a quiescent hash map (no code running on it) and check
 * its invariants, from the bytes in memory.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { type HashBackend, HTAB_ELEM, hashKey } from '../hash-map.js';
import { BpfMapStruct } from '../map-struct.js';

/** Where every element of the pool is. */
export interface HashAudit {
  readonly free: number;
  readonly linked: number;
  readonly retired: number;
  /** In detached batches waiting for a grace period. */
  readonly waiting: number;
  readonly pool: number;
  /** Linked keys, hex, in bucket order. */
  readonly keys: readonly string[];
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * Audit a map: every element is in exactly one of the free list, a bucket, the retired
 * list or a pending batch (so their sizes add up to the pool); every linked element sits
 * in the bucket of its hash, its hash is the key's, its key padding is zero, no key is
 * linked twice; `count` and `retiredCount` match the lists.
 * @throws Error describing the first broken invariant.
 */
export function auditHashMap(arena: TextArena, header: Region, backend: HashBackend): HashAudit {
  const state = backend.inspect();
  const { layout, pool } = state;
  const head = BpfMapStruct.view(arena.memory(header));
  const bytes = arena.read(pool.address, pool.size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const owner = new Map<number, string>();
  const index = (address: bigint, where: string): number => {
    const offset = Number(address - pool.address);
    if (address < pool.address || offset >= pool.size || offset % layout.elemSize !== 0) {
      throw new Error(`${where}: 0x${address.toString(16)} is not an element of the pool`);
    }
    const i = offset / layout.elemSize;
    const before = owner.get(i);
    if (before !== undefined) throw new Error(`${where}: element ${i} is also in ${before}`);
    owner.set(i, where);
    return i;
  };
  const nextOf = (i: number): bigint => view.getBigUint64(i * layout.elemSize + HTAB_ELEM.next, true);
  const linkOf = (i: number): bigint => {
    const link = view.getUint32(i * layout.elemSize + HTAB_ELEM.link, true);
    return link === 0 ? 0n : pool.address - 1n + BigInt(link);
  };
  const walk = (start: bigint, where: string, step: (i: number) => bigint, each?: (i: number) => void): number => {
    let n = 0;
    for (let at = start; at !== 0n; n++) {
      if (n > layout.poolElems) throw new Error(`${where}: a cycle`);
      const i = index(at, where);
      each?.(i);
      at = step(i);
    }
    return n;
  };

  const free = walk(head.get('freeList'), 'free list', nextOf);
  const keys: string[] = [];
  const seen = new Set<string>();
  const buckets = arena.read(state.buckets.address, layout.buckets * 8);
  const bucketView = new DataView(buckets.buffer, buckets.byteOffset, buckets.byteLength);
  let linked = 0;
  for (let b = 0; b < layout.buckets; b++) {
    linked += walk(bucketView.getBigUint64(b * 8, true), `bucket ${b}`, nextOf, (i) => {
      const base = i * layout.elemSize;
      const key = bytes.subarray(base + HTAB_ELEM.key, base + HTAB_ELEM.key + layout.keySize);
      const padding = bytes.subarray(base + HTAB_ELEM.key + layout.keySize, base + layout.valueOffset);
      const hash = view.getUint32(base + HTAB_ELEM.hash, true);
      if (hash !== hashKey(key, state.seed))
        throw new Error(`bucket ${b}: element ${i} has hash ${hash}, its key hashes to ${hashKey(key, state.seed)}`);
      if ((hash & layout.bucketMask) !== b) throw new Error(`bucket ${b}: element ${i} belongs to bucket ${hash & layout.bucketMask}`);
      if (padding.some((x) => x !== 0)) throw new Error(`bucket ${b}: element ${i} has non-zero key padding`);
      const k = hex(key);
      if (seen.has(k)) throw new Error(`key ${k} is linked twice`);
      seen.add(k);
      keys.push(k);
    });
  }
  const retired = walk(head.get('retired'), 'retired list', linkOf);
  let waiting = 0;
  state.batches.forEach((batch, n) => {
    const length = walk(batch.head, `batch ${n}`, linkOf);
    if (length !== batch.count) throw new Error(`batch ${n}: ${length} elements, recorded ${batch.count}`);
    waiting += length;
  });
  if (state.nativeWaiting !== undefined) {
    const length = walk(state.nativeWaiting.head, 'the native waiting batch', linkOf);
    if (length !== state.nativeWaiting.count) throw new Error(`native waiting batch: ${length} elements, recorded ${state.nativeWaiting.count}`);
    waiting += length;
  }
  if (head.get('count') !== linked) throw new Error(`count is ${head.get('count')}, ${linked} elements are linked`);
  if (head.get('retiredCount') !== retired) throw new Error(`retiredCount is ${head.get('retiredCount')}, ${retired} elements are retired`);
  if (head.get('lock') !== 0) throw new Error('the lock is held');
  if (free + linked + retired + waiting !== layout.poolElems) {
    throw new Error(`free ${free} + linked ${linked} + retired ${retired} + waiting ${waiting} != pool ${layout.poolElems}`);
  }
  return { free, linked, retired, waiting, pool: layout.poolElems, keys };
}
