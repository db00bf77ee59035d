/**
 * A hash map's own `map->ops` as machine code: lookup (lock-free), update and delete, in
 * the runtime's ABI (System V, r12 = the calling CPU). The kernel's
 * `htab_map_lookup_elem`, `htab_map_update_elem`, `htab_percpu_map_update_elem` and
 * `htab_map_delete_elem`, with every size and address of the map baked in.
 */
import {
  alu,
  call,
  type CodeBuffer,
  dec,
  dword,
  imul,
  inc,
  jcc,
  jmp,
  type Label,
  lea,
  mov,
  pop,
  ptr,
  push,
  qword,
  ret,
  test,
} from '@bpf-dispatcher/x86';
import { ERRNO } from '../errors.js';
import { BPF_MAP } from '../map-struct.js';
import { BPF_UPDATE } from '../map-types.js';
import { emitCopy, emitHashKey, emitZero } from './key-emit.js';
import { HTAB_ELEM } from './layout.js';
import { emitBucketSlot, emitFind, emitLock, emitRetire, emitUnlock, type HashCodeParams, newLabels } from './list-emit.js';

/**
 * Emit `lookup(map rdi, key rsi) -> rax`: the address of the key's value (per-CPU maps:
 * CPU r12's copy), or 0. Never takes the lock: walks the bucket with plain loads, safe
 * against concurrent updates because elements are replaced copy-on-write and reused only
 * after a grace period (the kernel's `htab_map_lookup_elem` under `rcu_read_lock`).
 * Clobbers rax, rcx, rdx, r8–r11.
 */
export function emitLookup(buf: CodeBuffer, p: HashCodeParams): void {
  const miss = buf.newLabel();
  emitHashKey(buf, p.layout.keySize, p.seed, 'rsi');
  emitBucketSlot(buf, p, 'eax', 'rcx', 'rdx');
  emitFind(buf, p, { hash: 'eax', key: 'rsi', slot: 'rcx', link: 'rcx', elem: 'rdx' }, miss);
  lea(buf, 'rax', ptr('rdx', p.layout.valueOffset));
  if (p.layout.perCpu) {
    imul(buf, 'rcx', 'r12', p.layout.valueStride);
    alu(buf, 'add', 'rax', 'rcx');
  }
  ret(buf);
  buf.bind(miss);
  alu(buf, 'xor', 'eax', 'eax');
  ret(buf);
}

/**
 * How an update takes its value:
 * - `program`: `value` points to `valueSize` bytes (exactly those are read). Hash maps
 *   replace the element copy-on-write; per-CPU maps write CPU r12's copy in place when the
 *   key exists, else insert an element whose other copies are zero (the kernel's
 *   `htab_percpu_map_update_elem` from a program).
 * - `all`: `value` points to every CPU's copy, each padded to `valueStride` (the whole
 *   value area is read); the element is replaced copy-on-write (`bpf_percpu_hash_update`
 *   from user space).
 */
export type UpdateMode = 'program' | 'all';

/** Load a negative errno into rax and jump to `to`. */
function fail(buf: CodeBuffer, at: Label, errno: number, to: Label): void {
  buf.bind(at);
  mov(buf, 'rax', -errno);
  jmp(buf, to);
}

/**
 * Emit `update(map rdi, key rsi, value rdx, flags rcx) -> rax` = 0 or -errno (see
 * {@link UpdateMode}): flags above BPF_EXIST → -EINVAL; BPF_NOEXIST on a present key →
 * -EEXIST; BPF_EXIST on an absent one → -ENOENT; a new key beyond `maxEntries` live
 * elements → -E2BIG; no free element even after the map's own reclamation (every spare
 * waits for a grace period a reader has not finished) → -ENOMEM.
 * Under the lock: a new element is filled (hash, key, value), its `next` set to the
 * bucket head, then published as the head; the element it replaces is unlinked after and
 * retired (the kernel's `htab_map_update_elem`: `alloc_htab_elem`,
 * `hlist_nulls_add_head_rcu`, `hlist_nulls_del_rcu`). Preserves rbx, rbp, r12–r15.
 */
export function emitUpdate(buf: CodeBuffer, p: HashCodeParams, mode: UpdateMode): void {
  const L = p.layout;
  const inPlace = L.perCpu && mode === 'program';
  const { einval, eexist, enoent, e2big, enomem, absent, alloc, fresh, unlinkOld, ok, unlock } = newLabels(buf, [
    'einval',
    'eexist',
    'enoent',
    'e2big',
    'enomem',
    'absent',
    'alloc',
    'fresh',
    'unlinkOld',
    'ok',
    'unlock',
  ]);

  alu(buf, 'cmp', 'rcx', BPF_UPDATE.EXIST);
  jcc(buf, 'a', einval);
  for (const reg of ['rbx', 'rbp', 'r13', 'r14', 'r15'] as const) push(buf, reg);
  mov(buf, 'r14', 'rcx');
  emitHashKey(buf, L.keySize, p.seed, 'rsi');
  mov(buf, 'ebx', 'eax');
  emitBucketSlot(buf, p, 'ebx', 'rbp', 'rcx');
  emitLock(buf, 'rdi', 'eax');
  emitFind(buf, p, { hash: 'ebx', key: 'rsi', slot: 'rbp', link: 'r13', elem: 'r15' }, absent);

  // present (r15, linked from r13)
  alu(buf, 'cmp', 'r14d', BPF_UPDATE.NOEXIST);
  jcc(buf, 'e', eexist);
  if (inPlace) {
    imul(buf, 'rcx', 'r12', L.valueStride);
    alu(buf, 'add', 'rcx', 'r15');
    emitCopy(buf, L.valueSize, 'rdx', 0, 'rcx', L.valueOffset);
    jmp(buf, ok);
  } else {
    jmp(buf, alloc);
  }

  buf.bind(absent);
  alu(buf, 'xor', 'r15d', 'r15d');
  alu(buf, 'cmp', 'r14d', BPF_UPDATE.EXIST);
  jcc(buf, 'e', enoent);
  mov(buf, 'eax', L.maxEntries);
  alu(buf, 'cmp', dword('rdi', BPF_MAP.count), 'eax');
  jcc(buf, 'ae', e2big);

  // take a free element and fill it while no reader can see it
  buf.bind(alloc);
  mov(buf, 'rax', qword('rdi', BPF_MAP.freeList));
  test(buf, 'rax', 'rax');
  if (p.reclaim !== undefined) {
    // none free: give back what waited a grace period (the map's own reclamation), then retry once
    const have = buf.newLabel();
    jcc(buf, 'ne', have);
    call(buf, p.reclaim);
    mov(buf, 'rax', qword('rdi', BPF_MAP.freeList));
    test(buf, 'rax', 'rax');
    buf.bind(have);
  }
  jcc(buf, 'e', enomem);
  mov(buf, 'rcx', qword('rax', HTAB_ELEM.next));
  mov(buf, qword('rdi', BPF_MAP.freeList), 'rcx');
  mov(buf, dword('rax', HTAB_ELEM.hash), 'ebx');
  emitCopy(buf, L.keySize, 'rsi', 0, 'rax', HTAB_ELEM.key);
  if (mode === 'all') {
    emitCopy(buf, L.valueArea, 'rdx', 0, 'rax', L.valueOffset);
  } else if (L.perCpu) {
    emitZero(buf, L.valueArea, 'rax', L.valueOffset);
    imul(buf, 'rcx', 'r12', L.valueStride);
    alu(buf, 'add', 'rcx', 'rax');
    emitCopy(buf, L.valueSize, 'rdx', 0, 'rcx', L.valueOffset);
  } else {
    emitCopy(buf, L.valueSize, 'rdx', 0, 'rax', L.valueOffset);
  }
  // publish: next first, then the bucket head (x86 keeps the stores in order)
  mov(buf, 'rcx', qword('rbp', 0));
  mov(buf, qword('rax', HTAB_ELEM.next), 'rcx');
  mov(buf, qword('rbp', 0), 'rax');
  test(buf, 'r15', 'r15');
  jcc(buf, 'e', fresh);
  // replace: unlink the old element (now behind the new head if it was the first) and retire it
  alu(buf, 'cmp', 'r13', 'rbp');
  jcc(buf, 'ne', unlinkOld);
  mov(buf, 'r13', 'rax');
  buf.bind(unlinkOld);
  mov(buf, 'rcx', qword('r15', HTAB_ELEM.next));
  mov(buf, qword('r13', 0), 'rcx');
  emitRetire(buf, p, 'rdi', 'r15', 'rcx', 'r8');
  jmp(buf, ok);
  buf.bind(fresh);
  inc(buf, dword('rdi', BPF_MAP.count));

  buf.bind(ok);
  alu(buf, 'xor', 'eax', 'eax');
  buf.bind(unlock);
  emitUnlock(buf, 'rdi');
  for (const reg of ['r15', 'r14', 'r13', 'rbp', 'rbx'] as const) pop(buf, reg);
  ret(buf);

  fail(buf, eexist, ERRNO.EEXIST, unlock);
  fail(buf, enoent, ERRNO.ENOENT, unlock);
  fail(buf, e2big, ERRNO.E2BIG, unlock);
  fail(buf, enomem, ERRNO.ENOMEM, unlock);
  buf.bind(einval);
  mov(buf, 'rax', -ERRNO.EINVAL);
  ret(buf);
}

/**
 * Emit `delete(map rdi, key rsi) -> rax` = 0 or -ENOENT: under the lock, unlink the
 * key's element and retire it (the kernel's `htab_map_delete_elem`). Preserves rbx, rbp,
 * r12–r15.
 */
export function emitDelete(buf: CodeBuffer, p: HashCodeParams): void {
  const absent = buf.newLabel();
  const unlock = buf.newLabel();
  for (const reg of ['rbx', 'rbp', 'r13', 'r15'] as const) push(buf, reg);
  emitHashKey(buf, p.layout.keySize, p.seed, 'rsi');
  mov(buf, 'ebx', 'eax');
  emitBucketSlot(buf, p, 'ebx', 'rbp', 'rcx');
  emitLock(buf, 'rdi', 'eax');
  emitFind(buf, p, { hash: 'ebx', key: 'rsi', slot: 'rbp', link: 'r13', elem: 'r15' }, absent);
  mov(buf, 'rcx', qword('r15', HTAB_ELEM.next));
  mov(buf, qword('r13', 0), 'rcx');
  emitRetire(buf, p, 'rdi', 'r15', 'rcx', 'r8');
  dec(buf, dword('rdi', BPF_MAP.count));
  alu(buf, 'xor', 'eax', 'eax');
  buf.bind(unlock);
  emitUnlock(buf, 'rdi');
  for (const reg of ['r15', 'r13', 'rbp', 'rbx'] as const) pop(buf, reg);
  ret(buf);
  fail(buf, absent, ERRNO.ENOENT, unlock);
}
