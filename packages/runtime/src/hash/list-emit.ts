/**
 * Machine code shared by a hash map's functions: the writers' spinlock, the bucket of a
 * hash, the walk of a bucket list (`lookup_elem_raw` / `lookup_nulls_elem_raw` in the
 * kernel) and the retired list elements wait on for a grace period.
 */
import {
  alu,
  type CodeBuffer,
  dword,
  type Gp32,
  type Gp64,
  inc,
  jcc,
  jmp,
  type Label,
  mov,
  pause,
  qword,
  shift,
  test,
  xchg,
} from '@bpf-dispatcher/x86';
import { BPF_MAP } from '../map-struct.js';
import { emitKeyCompare, low32 } from './key-emit.js';
import { type HashLayout, HTAB_ELEM } from './layout.js';

/** What the emitters of one map bake into its code. */
export interface HashCodeParams {
  readonly layout: HashLayout;
  /** The hash seed (0 with `BPF_F_ZERO_SEED`). */
  readonly seed: number;
  /** Address of the element pool (element 0). */
  readonly pool: bigint;
  /** Address of the bucket array (`buckets` u64 heads). */
  readonly buckets: bigint;
  /** The map's own reclamation (hash/reclaim-emit.ts), called when an update finds no free element. */
  readonly reclaim?: Label;
}

/** Fresh labels by name: `const l = newLabels(buf, ['loop', 'done'])`, then `l.loop`. */
export function newLabels<const K extends string>(buf: CodeBuffer, names: readonly K[]): Record<K, Label> {
  const out = {} as Record<K, Label>;
  for (const name of names) out[name] = buf.newLabel();
  return out;
}

/**
 * Acquire the map's writers' lock at `[map + lock]` (a test-and-test-and-set spinlock:
 * `xchg` to take it, `pause` while a plain load sees it held). Clobbers `tmp` and the
 * flags. The kernel's `htab_lock_bucket`, with one lock per map.
 */
export function emitLock(buf: CodeBuffer, map: Gp64, tmp: Gp32): void {
  const spin = buf.newLabel();
  const wait = buf.newLabel();
  const taken = buf.newLabel();
  buf.bind(spin);
  mov(buf, tmp, 1);
  xchg(buf, dword(map, BPF_MAP.lock), tmp);
  test(buf, tmp, tmp);
  jcc(buf, 'e', taken);
  buf.bind(wait);
  pause(buf);
  alu(buf, 'cmp', dword(map, BPF_MAP.lock), 0);
  jcc(buf, 'ne', wait);
  jmp(buf, spin);
  buf.bind(taken);
}

/**
 * Release the lock: a plain store of 0 (x86 stores are not reordered with earlier loads
 * and stores, so everything written under the lock is visible before it).
 */
export function emitUnlock(buf: CodeBuffer, map: Gp64): void {
  mov(buf, dword(map, BPF_MAP.lock), 0);
}

/** `slot = &buckets[hash & mask]` (the kernel's `__select_bucket`). Clobbers `tmp`. */
export function emitBucketSlot(buf: CodeBuffer, p: HashCodeParams, hash: Gp32, slot: Gp64, tmp: Gp64): void {
  mov(buf, low32(slot), hash);
  alu(buf, 'and', low32(slot), p.layout.bucketMask);
  shift(buf, 'shl', slot, 3);
  mov(buf, tmp, BigInt.asIntN(64, p.buckets));
  alu(buf, 'add', slot, tmp);
}

/** Registers of {@link emitFind}. */
export interface FindRegisters {
  /** The key's hash. */
  readonly hash: Gp32;
  /** The caller's key. */
  readonly key: Gp64;
  /** The bucket head's address. */
  readonly slot: Gp64;
  /** Out: the address of the link that points at `elem` (the bucket head, or the previous element's `next`). */
  readonly link: Gp64;
  /** Out: the element found. */
  readonly elem: Gp64;
}

/**
 * Walk the bucket at `slot` for the key: fall through with `elem` = the element and `link`
 * = the address of the pointer to it, or jump to `notFound`. Plain aligned 8-byte loads
 * only, so readers may run it without the lock. Clobbers r8–r11 and the flags (and `link`
 * and `elem`; `link` may be the same register as `slot`).
 */
export function emitFind(buf: CodeBuffer, p: HashCodeParams, r: FindRegisters, notFound: Label): void {
  const start = buf.newLabel();
  const next = buf.newLabel();
  if (r.link !== r.slot) mov(buf, r.link, r.slot);
  jmp(buf, start, 'short');
  buf.bind(next);
  mov(buf, r.link, r.elem); // &elem->next: `next` is at offset 0
  buf.bind(start);
  mov(buf, r.elem, qword(r.link, 0));
  test(buf, r.elem, r.elem);
  jcc(buf, 'e', notFound);
  alu(buf, 'cmp', dword(r.elem, HTAB_ELEM.hash), r.hash);
  jcc(buf, 'ne', next);
  emitKeyCompare(buf, p.layout.keySize, r.key, r.elem, HTAB_ELEM.key, next);
}

/**
 * Push the (already unlinked) element at `elem` on the map's retired list and count it
 * (`retired`, `retiredCount`). Only its `link` word changes: a reader still standing on
 * it sees the same `next`, hash, key and value. Clobbers `tmp`, `tmp2` and the flags.
 */
export function emitRetire(buf: CodeBuffer, p: HashCodeParams, map: Gp64, elem: Gp64, tmp: Gp64, tmp2: Gp64): void {
  const empty = buf.newLabel();
  mov(buf, tmp, qword(map, BPF_MAP.retired));
  test(buf, tmp, tmp);
  jcc(buf, 'e', empty);
  mov(buf, tmp2, BigInt.asIntN(64, p.pool - 1n));
  alu(buf, 'sub', tmp, tmp2);
  buf.bind(empty);
  mov(buf, dword(elem, HTAB_ELEM.link), low32(tmp));
  mov(buf, qword(map, BPF_MAP.retired), elem);
  inc(buf, dword(map, BPF_MAP.retiredCount));
}
