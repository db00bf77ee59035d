/**
 * A hash map's native functions for TypeScript (the `bpf()` syscall side of the kernel):
 * iteration, the keys snapshot, and the two halves of deferred reclamation. All take the
 * writers' lock, so they see the map between two updates.
 */
import { alu, type CodeBuffer, cmovcc, dword, inc, jcc, jmp, mov, pop, push, qword, ret, test } from '@bpf-dispatcher/x86';
import { ERRNO } from '../errors.js';
import { BPF_MAP } from '../map-struct.js';
import { emitCopy, emitHashKey } from './key-emit.js';
import { HTAB_ELEM } from './layout.js';
import { emitBucketSlot, emitFind, emitLock, emitUnlock, type HashCodeParams, newLabels } from './list-emit.js';

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
 * (linked through `next`), at most the pool's size. The grace period of the list must
 * have elapsed: this is where a retired element's `next` is finally overwritten (the
 * kernel's `htab_elem_free_rcu` → `pcpu_freelist_push`).
 */
export function emitRelease(buf: CodeBuffer, p: HashCodeParams): void {
  const loop = buf.newLabel();
  const done = buf.newLabel();
  emitLock(buf, 'rdi', 'eax');
  alu(buf, 'xor', 'edx', 'edx');
  mov(buf, 'r8', BigInt.asIntN(64, p.pool - 1n));
  mov(buf, 'r9d', p.layout.poolElems);
  buf.bind(loop);
  test(buf, 'rsi', 'rsi');
  jcc(buf, 'e', done);
  alu(buf, 'cmp', 'edx', 'r9d');
  jcc(buf, 'ae', done);
  mov(buf, 'eax', dword('rsi', HTAB_ELEM.link));
  mov(buf, 'rcx', qword('rdi', BPF_MAP.freeList));
  mov(buf, qword('rsi', HTAB_ELEM.next), 'rcx');
  mov(buf, qword('rdi', BPF_MAP.freeList), 'rsi');
  inc(buf, 'edx');
  mov(buf, 'rsi', 'rax');
  alu(buf, 'add', 'rsi', 'r8');
  test(buf, 'eax', 'eax');
  cmovcc(buf, 'e', 'rsi', 'rax');
  jmp(buf, loop);
  buf.bind(done);
  mov(buf, 'eax', 'edx');
  emitUnlock(buf, 'rdi');
  ret(buf);
}
