/**
 * A hash map's native functions for TypeScript (the `bpf()` syscall side of the kernel):
 * iteration, the keys snapshot, and the two halves of deferred reclamation. All take the
 * writers' lock, so they see the map between two updates.
 */
import { alu, type CodeBuffer, dword, inc, jcc, jmp, mov, pop, push, qword, ret, test } from '@bpf-dispatcher/x86';
import { ERRNO } from '../errors.js';
import { BPF_MAP } from '../map-struct.js';
import { emitCopy, emitHashKey } from './key-emit.js';
import { HTAB_ELEM } from './layout.js';
import { emitBucketSlot, emitFind, emitLock, emitUnlock, type HashCodeParams, newLabels } from './list-emit.js';
import { emitSplice } from './reclaim-emit.js';

/** The address just past the bucket array. */
const bucketsEnd = (p: HashCodeParams): bigint => BigInt.asIntN(64, p.buckets + BigInt(p.layout.buckets * 8));

/**
 * Emit `get_next_key(map rdi, key rsi, out rdx) -> rax` = 0 or -ENOENT, the kernel's
 * `htab_map_get_next_key`: when `key` is 0 or absent, the first key of the first
 * non-empty bucket; else the key after it in its bucket, or the first key of the next
 * non-empty bucket; -ENOENT after the last. Writes the key to `out` zero-padded to
 * round_up(keySize, 8) bytes. Preserves rbx, rbp, r12–r15.
 */
export function emitGetNextKey(buf: CodeBuffer, p: HashCodeParams): void {
  const { first, scan, scanLoop, copyOut, enoent, unlock } = newLabels(buf, ['first', 'scan', 'scanLoop', 'copyOut', 'enoent', 'unlock']);
  for (const reg of ['rbx', 'rbp', 'r13', 'r15'] as const) push(buf, reg);
  emitLock(buf, 'rdi', 'eax');
  test(buf, 'rsi', 'rsi');
  jcc(buf, 'e', first);
  emitHashKey(buf, p.layout.keySize, p.seed, 'rsi');
  mov(buf, 'ebx', 'eax');
  emitBucketSlot(buf, p, 'ebx', 'rbp', 'rcx');
  emitFind(buf, p, { hash: 'ebx', key: 'rsi', slot: 'rbp', link: 'r13', elem: 'r15' }, first);
  mov(buf, 'rax', qword('r15', HTAB_ELEM.next));
  test(buf, 'rax', 'rax');
  jcc(buf, 'ne', copyOut);
  alu(buf, 'add', 'rbp', 8);
  jmp(buf, scan);
  buf.bind(first);
  mov(buf, 'rbp', BigInt.asIntN(64, p.buckets));
  buf.bind(scan);
  mov(buf, 'rcx', bucketsEnd(p));
  buf.bind(scanLoop);
  alu(buf, 'cmp', 'rbp', 'rcx');
  jcc(buf, 'ae', enoent);
  mov(buf, 'rax', qword('rbp', 0));
  test(buf, 'rax', 'rax');
  jcc(buf, 'ne', copyOut);
  alu(buf, 'add', 'rbp', 8);
  jmp(buf, scanLoop);
  buf.bind(copyOut);
  emitCopy(buf, p.layout.keyStride, 'rax', HTAB_ELEM.key, 'rdx', 0);
  alu(buf, 'xor', 'eax', 'eax');
  buf.bind(unlock);
  emitUnlock(buf, 'rdi');
  for (const reg of ['r15', 'r13', 'rbp', 'rbx'] as const) pop(buf, reg);
  ret(buf);
  buf.bind(enoent);
  mov(buf, 'rax', -ERRNO.ENOENT);
  jmp(buf, unlock);
}

/**
 * Emit `keys(map rdi, out rsi) -> rax` = the number of keys copied: every linked key, in
 * bucket order, each zero-padded to round_up(keySize, 8) bytes, taken under the lock (one
 * instant). `out` has room for `maxEntries` keys; the copy stops there whatever happens.
 * Preserves rbx, rbp, r12–r15.
 */
export function emitKeys(buf: CodeBuffer, p: HashCodeParams): void {
  const { bucketLoop, elemLoop, nextBucket, done } = newLabels(buf, ['bucketLoop', 'elemLoop', 'nextBucket', 'done']);
  push(buf, 'rbx');
  push(buf, 'rbp');
  emitLock(buf, 'rdi', 'eax');
  mov(buf, 'rbp', BigInt.asIntN(64, p.buckets));
  mov(buf, 'rbx', bucketsEnd(p));
  mov(buf, 'ecx', p.layout.maxEntries);
  alu(buf, 'xor', 'edx', 'edx');
  buf.bind(bucketLoop);
  alu(buf, 'cmp', 'rbp', 'rbx');
  jcc(buf, 'ae', done);
  mov(buf, 'rax', qword('rbp', 0));
  buf.bind(elemLoop);
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', nextBucket);
  alu(buf, 'cmp', 'edx', 'ecx');
  jcc(buf, 'ae', done);
  emitCopy(buf, p.layout.keyStride, 'rax', HTAB_ELEM.key, 'rsi', 0);
  alu(buf, 'add', 'rsi', p.layout.keyStride);
  inc(buf, 'edx');
  mov(buf, 'rax', qword('rax', HTAB_ELEM.next));
  jmp(buf, elemLoop);
  buf.bind(nextBucket);
  alu(buf, 'add', 'rbp', 8);
  jmp(buf, bucketLoop);
  buf.bind(done);
  mov(buf, 'eax', 'edx');
  emitUnlock(buf, 'rdi');
  pop(buf, 'rbp');
  pop(buf, 'rbx');
  ret(buf);
}

/**
 * Emit `lookup_copy(map rdi, key rsi, out rdx) -> rax` = 1 (copied) or 0 (absent): under
 * the lock, copy the key's whole value area (every CPU's copy for per-CPU maps) to `out`.
 * What TypeScript reads a value with: the lock keeps the element from being reused by the
 * map's own reclamation (on another thread) while it is copied. Preserves rbx, rbp, r12–r15.
 */
export function emitLookupCopy(buf: CodeBuffer, p: HashCodeParams): void {
  const { absent, unlock } = newLabels(buf, ['absent', 'unlock']);
  for (const reg of ['rbx', 'rbp', 'r13', 'r15'] as const) push(buf, reg);
  emitLock(buf, 'rdi', 'eax');
  emitHashKey(buf, p.layout.keySize, p.seed, 'rsi');
  mov(buf, 'ebx', 'eax');
  emitBucketSlot(buf, p, 'ebx', 'rbp', 'rcx');
  emitFind(buf, p, { hash: 'ebx', key: 'rsi', slot: 'rbp', link: 'r13', elem: 'r15' }, absent);
  emitCopy(buf, p.layout.valueArea, 'r15', p.layout.valueOffset, 'rdx', 0);
  mov(buf, 'eax', 1);
  buf.bind(unlock);
  emitUnlock(buf, 'rdi');
  for (const reg of ['r15', 'r13', 'rbp', 'rbx'] as const) pop(buf, reg);
  ret(buf);
  buf.bind(absent);
  alu(buf, 'xor', 'eax', 'eax');
  jmp(buf, unlock);
}

/**
 * Emit `detach_retired(map rdi, count_out rsi) -> rax` = the head of the retired list
 * (0 if empty): under the lock, take the whole list, store its length as a u64 at
 * `count_out`, and leave `retired` = 0, `retiredCount` = 0. What `call_rcu` batching does
 * in the kernel: the detached elements wait for one grace period together.
 */
export function emitDetachRetired(buf: CodeBuffer): void {
  emitLock(buf, 'rdi', 'eax');
  mov(buf, 'rax', qword('rdi', BPF_MAP.retired));
  mov(buf, 'ecx', dword('rdi', BPF_MAP.retiredCount));
  mov(buf, qword('rsi', 0), 'rcx');
  mov(buf, qword('rdi', BPF_MAP.retired), 0);
  mov(buf, dword('rdi', BPF_MAP.retiredCount), 0);
  emitUnlock(buf, 'rdi');
  ret(buf);
}

/**
 * Emit `release(map rdi, list rsi) -> rax` = the number of elements freed: under the lock,
 * move every element of a detached retired list (linked through `link`) to the free list
 * (linked through `next`), at most the pool's size (see `emitSplice`).
 */
export function emitRelease(buf: CodeBuffer, p: HashCodeParams): void {
  emitLock(buf, 'rdi', 'eax');
  mov(buf, 'r10', 'rsi');
  emitSplice(buf, p);
  mov(buf, 'eax', 'edx');
  emitUnlock(buf, 'rdi');
  ret(buf);
}
