/**
 * Reclamation by the map's own code: when an update finds the free list empty, the
 * elements retired before are given back as soon as a grace period has passed for them —
 * checked by the code itself against the arena's reader table, the way a kernel CPU runs
 * RCU callbacks without waiting on anyone. So programs that churn a hash map at line rate
 * (or from a synchronous loop) reuse elements like the kernel's preallocated hash maps do,
 * yet never one a reader thread might still look at.
 *
 * One batch waits at a time (`waiting`, linked through `link`, with a snapshot of every
 * reader slot's counter taken when it was detached). Runs under the map's lock.
 */
import type { ReaderTableInfo } from '@bpf-dispatcher/text-poke';
import { alu, type CodeBuffer, cmovcc, dec, dword, inc, jcc, jmp, type Label, mov, pop, push, qword, ret, test } from '@bpf-dispatcher/x86';
import { BPF_MAP } from '../map-struct.js';
import { HTAB_ELEM } from './layout.js';
import type { HashCodeParams } from './list-emit.js';

/** Where the reclaim code finds the readers and keeps its snapshot. */
export interface ReclaimParams {
  readonly readers: ReaderTableInfo;
  /** `readers.slots` u64 counters, the snapshot of the waiting batch. */
  readonly snapshot: bigint;
}

/**
 * Jump to `notYet` unless every reader slot that is online shows a counter other than the
 * snapshot's (a reader that went offline or passed a quiescent state holds no reference).
 * Clobbers rax, rcx, r8, r9.
 */
function emitElapsed(buf: CodeBuffer, r: ReclaimParams, notYet: Label): void {
  const loop = buf.newLabel();
  const skip = buf.newLabel();
  mov(buf, 'r8', BigInt.asIntN(64, r.readers.address));
  mov(buf, 'r9', BigInt.asIntN(64, r.snapshot));
  mov(buf, 'ecx', r.readers.slots);
  buf.bind(loop);
  alu(buf, 'cmp', qword('r8', r.readers.onlineOffset), 0);
  jcc(buf, 'e', skip, 'short');
  mov(buf, 'rax', qword('r8', r.readers.counterOffset));
  alu(buf, 'cmp', 'rax', qword('r9', 0));
  jcc(buf, 'e', notYet);
  buf.bind(skip);
  alu(buf, 'add', 'r8', r.readers.slotSize);
  alu(buf, 'add', 'r9', 8);
  dec(buf, 'ecx');
  jcc(buf, 'ne', loop);
}

/** Take the snapshot: every slot's counter. Clobbers rax, rcx, r8, r9. */
function emitSnapshot(buf: CodeBuffer, r: ReclaimParams): void {
  const loop = buf.newLabel();
  mov(buf, 'r8', BigInt.asIntN(64, r.readers.address));
  mov(buf, 'r9', BigInt.asIntN(64, r.snapshot));
  mov(buf, 'ecx', r.readers.slots);
  buf.bind(loop);
  mov(buf, 'rax', qword('r8', r.readers.counterOffset));
  mov(buf, qword('r9', 0), 'rax');
  alu(buf, 'add', 'r8', r.readers.slotSize);
  alu(buf, 'add', 'r9', 8);
  dec(buf, 'ecx');
  jcc(buf, 'ne', loop);
}

/**
 * Move the list at r10 (linked through `link`) to the free list (linked through `next`),
 * at most the pool's size; edx = the elements moved. The grace period of the list must have
 * elapsed: this is where a retired element's `next` is finally overwritten (the kernel's
 * `htab_elem_free_rcu` → `pcpu_freelist_push`). Clobbers rax, rcx, rdx, r8, r10, r11.
 */
export function emitSplice(buf: CodeBuffer, p: HashCodeParams): void {
  const loop = buf.newLabel();
  const done = buf.newLabel();
  alu(buf, 'xor', 'edx', 'edx');
  mov(buf, 'r8', BigInt.asIntN(64, p.pool - 1n));
  buf.bind(loop);
  test(buf, 'r10', 'r10');
  jcc(buf, 'e', done, 'short');
  alu(buf, 'cmp', 'edx', p.layout.poolElems);
  jcc(buf, 'ae', done, 'short');
  mov(buf, 'eax', dword('r10', HTAB_ELEM.link));
  mov(buf, 'rcx', qword('rdi', BPF_MAP.freeList));
  mov(buf, qword('r10', HTAB_ELEM.next), 'rcx');
  mov(buf, qword('rdi', BPF_MAP.freeList), 'r10');
  inc(buf, 'edx');
  mov(buf, 'r11', 'rax');
  alu(buf, 'add', 'r11', 'r8');
  test(buf, 'eax', 'eax');
  cmovcc(buf, 'e', 'r11', 'rax');
  mov(buf, 'r10', 'r11');
  jmp(buf, loop, 'short');
  buf.bind(done);
}

/** Release the waiting batch (its grace period has passed) and clear `waiting`. */
function emitReleaseWaiting(buf: CodeBuffer, p: HashCodeParams): void {
  mov(buf, 'r10', qword('rdi', BPF_MAP.waiting));
  emitSplice(buf, p);
  mov(buf, qword('rdi', BPF_MAP.waiting), 0);
  mov(buf, dword('rdi', BPF_MAP.waitingCount), 0);
}

/**
 * Emit `reclaim(map rdi)`, called by the map's updates with the lock held and the free list
 * empty: release the waiting batch if its grace period has passed; then, if nothing waits,
 * detach the retired list as the new waiting batch with a fresh snapshot — released at
 * once when no reader is online (nobody can hold a reference). Preserves every register
 * but rax, rcx, r8–r11 and the flags.
 */
export function emitNativeReclaim(buf: CodeBuffer, p: HashCodeParams, r: ReclaimParams): void {
  const begin = buf.newLabel();
  const done = buf.newLabel();
  push(buf, 'rdx');
  mov(buf, 'r10', qword('rdi', BPF_MAP.waiting));
  test(buf, 'r10', 'r10');
  jcc(buf, 'e', begin);
  emitElapsed(buf, r, done);
  emitReleaseWaiting(buf, p);
  buf.bind(begin);
  mov(buf, 'r10', qword('rdi', BPF_MAP.retired));
  test(buf, 'r10', 'r10');
  jcc(buf, 'e', done);
  mov(buf, qword('rdi', BPF_MAP.waiting), 'r10');
  mov(buf, 'ecx', dword('rdi', BPF_MAP.retiredCount));
  mov(buf, dword('rdi', BPF_MAP.waitingCount), 'ecx');
  mov(buf, qword('rdi', BPF_MAP.retired), 0);
  mov(buf, dword('rdi', BPF_MAP.retiredCount), 0);
  emitSnapshot(buf, r);
  emitElapsed(buf, r, done);
  emitReleaseWaiting(buf, p);
  buf.bind(done);
  pop(buf, 'rdx');
  ret(buf);
}
