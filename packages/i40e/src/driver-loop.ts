import { add, alu, type CodeBuffer, call, cmovcc, inc, jcc, jmp, mov, qword, shift, test } from '@bpf-dispatcher/x86';
import { checkEmit, epilogue, prologue } from './emit-common.js';

/**
 * Emit `driver_loop(rings, nrings, packets, budget, reader_counter, cpu) -> processed`: poll the
 * rings round robin with `napi_poll` (budget capped by what is left) until `packets` have
 * been processed, or every ring came back empty in a row. No JS per packet or per poll.
 * @throws I40eError EINVAL for a bad buffer or napiPoll address.
 */
export function emitDriverLoop(buf: CodeBuffer, napiPoll: bigint): void {
  checkEmit(buf, napiPoll, 'emitDriverLoop', 'napiPoll');
  const [outer, busy, wrap, store, finish] = [buf.newLabel(), buf.newLabel(), buf.newLabel(), buf.newLabel(), buf.newLabel()];
  // [rsp] ring index, [rsp+8] consecutive empty polls, [rsp+16] the poller's CPU index
  prologue(buf, 24);
  mov(buf, qword('rsp', 16), 'r9');
  mov(buf, 'rbx', 'rdi');
  mov(buf, 'r12d', 'esi');
  mov(buf, 'r13', 'rdx');
  mov(buf, 'r14d', 'ecx');
  mov(buf, 'r15', 'r8');
  alu(buf, 'xor', 'ebp', 'ebp');
  mov(buf, qword('rsp', 0), 0);
  mov(buf, qword('rsp', 8), 0);
  buf.bind(outer);
  alu(buf, 'cmp', 'rbp', 'r13');
  jcc(buf, 'ae', finish);
  // budget for this poll: min(budget, packets - processed)
  mov(buf, 'rsi', 'r13');
  alu(buf, 'sub', 'rsi', 'rbp');
  alu(buf, 'cmp', 'rsi', 'r14');
  cmovcc(buf, 'a', 'rsi', 'r14');
  mov(buf, 'rax', qword('rsp', 0));
  shift(buf, 'shl', 'rax', 3);
  alu(buf, 'add', 'rax', 'rbx');
  mov(buf, 'rdi', qword('rax', 0));
  mov(buf, 'rdx', 'r15');
  mov(buf, 'rcx', qword('rsp', 16));
  call(buf, napiPoll);
  add(buf, 'rbp', 'rax');
  test(buf, 'rax', 'rax');
  jcc(buf, 'ne', busy, 'short');
  inc(buf, qword('rsp', 8));
  alu(buf, 'cmp', qword('rsp', 8), 'r12');
  jcc(buf, 'ae', finish);
  jmp(buf, wrap, 'short');
  buf.bind(busy);
  mov(buf, qword('rsp', 8), 0);
  buf.bind(wrap);
  mov(buf, 'rax', qword('rsp', 0));
  inc(buf, 'rax');
  alu(buf, 'cmp', 'rax', 'r12');
  jcc(buf, 'b', store, 'short');
  alu(buf, 'xor', 'eax', 'eax');
  buf.bind(store);
  mov(buf, qword('rsp', 0), 'rax');
  jmp(buf, outer);
  buf.bind(finish);
  mov(buf, 'rax', 'rbp');
  epilogue(buf, 24);
}
