/**
 * Test support: native loops that hammer a hash map from other threads — a reader that
 * looks up random keys and checks each value it sees for tearing, and a program-side
 * writer. Values hold `valueWords` equal u64 words `generation * keys + keyIndex`.
 */
import { emitQuiescentState } from '@bpf-dispatcher/text-poke';
import { alu, type CodeBuffer, call, dec, imul, inc, jcc, jmp, mov, pause, pop, push, qword, ret, shift, test } from '@bpf-dispatcher/x86';
import { newLabels } from '../hash/list-emit.js';

/** u64 counters of the reader loop, by byte offset. */
export const READER_COUNTERS = Object.freeze({ lookups: 0, found: 8, torn: 16, batches: 24, stop: 32, wrongKey: 40, size: 64 });
/** u64 counters of the writer loop, by byte offset. */
export const WRITER_COUNTERS = Object.freeze({ updated: 0, enomem: 8, deleted: 16, errors: 24, stop: 32, iterations: 40, size: 64 });

/** What both loops know of the map. */
export interface StressShape {
  /** The map's lookup / update / delete functions. */
  readonly lookup: bigint;
  readonly update: bigint;
  readonly delete: bigint;
  /** Keys in the key array (a power of two). */
  readonly keys: number;
  /** Bytes between two keys of the key array. */
  readonly keyStride: number;
  /** u64 words per value. */
  readonly valueWords: number;
}

const CALLEE_SAVED = ['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15'] as const;

/** r15 = xorshift64(r15). Clobbers rax. */
function xorshift(buf: CodeBuffer): void {
  for (const [op, n] of [
    ['shl', 13],
    ['shr', 7],
    ['shl', 17],
  ] as const) {
    mov(buf, 'rax', 'r15');
    shift(buf, op, 'rax', n);
    alu(buf, 'xor', 'r15', 'rax');
  }
}

/** rsi = keys + (r15 & (keys - 1)) * keyStride; the index in rax. */
function randomKey(buf: CodeBuffer, s: StressShape): void {
  mov(buf, 'rax', 'r15');
  alu(buf, 'and', 'eax', s.keys - 1);
  imul(buf, 'rsi', 'rax', s.keyStride);
  alu(buf, 'add', 'rsi', 'rbp');
}

function prologue(buf: CodeBuffer): void {
  for (const reg of CALLEE_SAVED) push(buf, reg);
  alu(buf, 'sub', 'rsp', 24); // 6 pushes + 24 bytes: rsp 16-byte aligned at the calls
}

function epilogue(buf: CodeBuffer): void {
  alu(buf, 'add', 'rsp', 24);
  for (const reg of [...CALLEE_SAVED].reverse()) pop(buf, reg);
  ret(buf);
}

/**
 * Emit `reader(map, keys, iterations, counters, reader_counter) -> lookups`: as CPU 0, up to
 * `iterations` lookups of random keys (stopping early once `counters.stop` is non-zero),
 * counting values found, torn values (words that differ) and values of another key; a
 * quiescent state is reported through `reader_counter` after every `batch` lookups (and
 * at the end), never while a value is held.
 */
export function emitStressReader(buf: CodeBuffer, s: StressShape, batch = 64): void {
  const C = READER_COUNTERS;
  const { outer, inner, torn, wrong, after, flush, done } = newLabels(buf, ['outer', 'inner', 'torn', 'wrong', 'after', 'flush', 'done']);
  prologue(buf);
  mov(buf, 'rbx', 'rdi');
  mov(buf, 'rbp', 'rsi');
  mov(buf, 'r13', 'rdx');
  mov(buf, 'r14', 'rcx');
  mov(buf, qword('rsp', 0), 'r8');
  alu(buf, 'xor', 'r12d', 'r12d');
  mov(buf, 'r15', 0x2545_f491_4f6c_dd1dn);
  buf.bind(outer);
  test(buf, 'r13', 'r13');
  jcc(buf, 'e', done);
  alu(buf, 'cmp', qword('r14', C.stop), 0);
  jcc(buf, 'ne', done);
  mov(buf, qword('rsp', 8), batch);
  buf.bind(inner);
  xorshift(buf);
  randomKey(buf, s);
  mov(buf, qword('rsp', 16), 'rax');
  mov(buf, 'rdi', 'rbx');
  mov(buf, 'rax', s.lookup);
  call(buf, 'rax');
  inc(buf, qword('r14', C.lookups));
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', after);
  inc(buf, qword('r14', C.found));
  mov(buf, 'rcx', qword('rax', 0));
  for (let w = 1; w < s.valueWords; w++) {
    alu(buf, 'cmp', 'rcx', qword('rax', w * 8));
    jcc(buf, 'ne', torn);
  }
  mov(buf, 'rdx', 'rcx');
  alu(buf, 'and', 'edx', s.keys - 1);
  alu(buf, 'cmp', 'rdx', qword('rsp', 16));
  jcc(buf, 'ne', wrong);
  jmp(buf, after);
  buf.bind(torn);
  inc(buf, qword('r14', C.torn));
  jmp(buf, after);
  buf.bind(wrong);
  inc(buf, qword('r14', C.wrongKey));
  buf.bind(after);
  dec(buf, 'r13');
  jcc(buf, 'e', flush);
  dec(buf, qword('rsp', 8));
  jcc(buf, 'ne', inner);
  buf.bind(flush);
  mov(buf, 'rax', qword('rsp', 0));
  emitQuiescentState(buf, 'rax');
  inc(buf, qword('r14', C.batches));
  jmp(buf, outer);
  buf.bind(done);
  mov(buf, 'rax', qword('r14', C.lookups));
  epilogue(buf);
}

/**
 * Emit `writer(map, keys, iterations, counters, value_buffer, cpu) -> 0`: as CPU `cpu`, up
 * to `iterations` program-side operations on random keys (stopping early once
 * `counters.stop` is non-zero): one in eight a delete, the others an update (BPF_ANY) with
 * a new generation written into `value_buffer` first, each followed by `pace` `pause`s
 * (only TypeScript reclaims: an unpaced writer would take every element it frees). Counts
 * successes, ENOMEM and any other error (ENOENT from a delete is not one). `enomem`,
 * `enoent`: the errno values.
 */
export function emitStressWriter(buf: CodeBuffer, s: StressShape, enomem: number, enoent: number, pace = 512): void {
  const C = WRITER_COUNTERS;
  const { loop, doDelete, nomem, next, done, updated, failed, deleted, backoff } = newLabels(buf, [
    'loop',
    'doDelete',
    'nomem',
    'next',
    'done',
    'updated',
    'failed',
    'deleted',
    'backoff',
  ]);
  const shiftKeys = Math.log2(s.keys);
  prologue(buf);
  mov(buf, 'rbx', 'rdi');
  mov(buf, 'rbp', 'rsi');
  mov(buf, 'r13', 'rdx');
  mov(buf, 'r14', 'rcx');
  mov(buf, qword('rsp', 0), 'r8');
  mov(buf, 'r12', 'r9');
  mov(buf, 'r15', 0x1d8e_4e27_c47d_124fn);
  mov(buf, qword('rsp', 8), 0);
  buf.bind(loop);
  test(buf, 'r13', 'r13');
  jcc(buf, 'e', done);
  alu(buf, 'cmp', qword('r14', C.stop), 0);
  jcc(buf, 'ne', done);
  inc(buf, qword('r14', C.iterations));
  xorshift(buf);
  randomKey(buf, s);
  mov(buf, 'rdi', 'rbx');
  mov(buf, 'edx', 'r15d');
  alu(buf, 'and', 'edx', 0x700);
  jcc(buf, 'e', doDelete);
  // value words = generation * keys + index
  mov(buf, 'rcx', qword('rsp', 8));
  inc(buf, 'rcx');
  mov(buf, qword('rsp', 8), 'rcx');
  shift(buf, 'shl', 'rcx', shiftKeys);
  alu(buf, 'or', 'rcx', 'rax');
  mov(buf, 'rdx', qword('rsp', 0));
  for (let w = 0; w < s.valueWords; w++) mov(buf, qword('rdx', w * 8), 'rcx');
  alu(buf, 'xor', 'ecx', 'ecx');
  mov(buf, 'rax', s.update);
  call(buf, 'rax');
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', updated);
  alu(buf, 'cmp', 'rax', -enomem);
  jcc(buf, 'e', nomem);
  buf.bind(failed);
  inc(buf, qword('r14', C.errors));
  jmp(buf, next);
  buf.bind(updated);
  inc(buf, qword('r14', C.updated));
  jmp(buf, next);
  buf.bind(nomem);
  inc(buf, qword('r14', C.enomem));
  jmp(buf, next);
  buf.bind(doDelete);
  mov(buf, 'rax', s.delete);
  call(buf, 'rax');
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', deleted);
  alu(buf, 'cmp', 'rax', -enoent);
  jcc(buf, 'ne', failed);
  jmp(buf, next);
  buf.bind(deleted);
  inc(buf, qword('r14', C.deleted));
  buf.bind(next); // pace the writer, so that TypeScript gets the elements it reclaims too
  mov(buf, 'ecx', pace);
  buf.bind(backoff);
  pause(buf);
  dec(buf, 'ecx');
  jcc(buf, 'ne', backoff);
  dec(buf, 'r13');
  jmp(buf, loop);
  buf.bind(done);
  alu(buf, 'xor', 'eax', 'eax');
  epilogue(buf);
}
