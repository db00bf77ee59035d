import { BPF_PROG, RECORD_META_SIZE, XDP_BUFF, XDP_HEADROOM, XdpAction, emitXdpCallRun } from '@bpf-dispatcher/xdp-call';
import {
  CodeBuffer,
  type Gp64,
  type Label,
  add,
  alu,
  cmovcc,
  dword,
  inc,
  jcc,
  jmp,
  lea,
  mov,
  movzx,
  pop,
  ptr,
  push,
  qword,
  ret,
  shift,
  test,
  word,
  call,
} from '@bpf-dispatcher/x86';
import { I40eError } from './errors.js';
import { BUFFER_SHIFT, COUNTERS, DESC, FRAME_SHIFT, FRAME_SLOT, RING } from './layout.js';
import { describe } from './validate.js';

/** Receive path flavour: copy mode (`i40e_run_xdp`) or AF_XDP zero-copy (`i40e_run_xdp_zc`). */
export type RxMode = 'copy' | 'zc';

const SAVED: readonly Gp64[] = ['rbp', 'rbx', 'r12', 'r13', 'r14', 'r15'];
const C = (field: keyof typeof COUNTERS) => RING.counters + COUNTERS[field];

function prologue(buf: CodeBuffer, frame: number): void {
  for (const r of SAVED) push(buf, r);
  alu(buf, 'sub', 'rsp', frame);
}

function epilogue(buf: CodeBuffer, frame: number): void {
  alu(buf, 'add', 'rsp', frame);
  for (const r of [...SAVED].reverse()) pop(buf, r);
  ret(buf);
}

/** Copy FRAME_SLOT bytes from [src] to [dst] with qword moves through `tmp`. */
function copyFrame(buf: CodeBuffer, dst: Gp64, src: Gp64, tmp: Gp64): void {
  for (let off = 0; off < FRAME_SLOT; off += 8) {
    mov(buf, tmp, qword(src, off));
    mov(buf, qword(dst, off), tmp);
  }
}

/**
 * Reserve a slot of a producer/consumer ring whose u32 head, tail and mask live in the
 * ring structure: jump to `full` when head - tail > mask, else leave the slot index
 * (head & mask) in ecx. Clobbers edx.
 */
function reserveSlot(buf: CodeBuffer, head: number, tail: number, maskField: number, full: Label): void {
  mov(buf, 'ecx', dword('rbx', head));
  mov(buf, 'edx', 'ecx');
  alu(buf, 'sub', 'edx', dword('rbx', tail));
  alu(buf, 'cmp', 'edx', dword('rbx', maskField));
  jcc(buf, 'a', full);
  alu(buf, 'and', 'ecx', dword('rbx', maskField));
}

/** rcx = &fill[index & fill_mask] for the u32 fill-ring index at `indexField`. */
function fillEntry(buf: CodeBuffer, indexField: number): void {
  mov(buf, 'ecx', dword('rbx', indexField));
  alu(buf, 'and', 'ecx', dword('rbx', RING.fillMask));
  shift(buf, 'shl', 'rcx', 3);
  alu(buf, 'add', 'rcx', qword('rbx', RING.fill));
}

/** rax = &descs[next_to_clean]. */
function currentDesc(buf: CodeBuffer): void {
  mov(buf, 'eax', dword('rbx', RING.nextToClean));
  shift(buf, 'shl', 'rax', 4);
  alu(buf, 'add', 'rax', qword('rbx', RING.descs));
}

function checkEmit(buf: unknown, target: unknown, what: string, name: string): void {
  if (!(buf instanceof CodeBuffer)) throw new I40eError('EINVAL', `${what}: buf must be a CodeBuffer, got ${describe(buf)}`);
  if (typeof target !== 'bigint' && !Number.isSafeInteger(target)) throw new I40eError('EINVAL', `${what}: ${name} must be an address, got ${describe(target)}`);
}

/**
 * Emit `napi_poll(ring, budget, reader_counter) -> processed`: the i40e rx clean loop with
 * XDP. Per descriptor with DD set: build the ring's xdp_buff, READ_ONCE the ring's
 * program, run it through the shared trampoline (`xdp_call_run`), count the verdict and
 * act on it — DROP recycles the buffer; PASS hands the frame to the stack queue (copy
 * mode: the buffer itself; zero-copy: a copy, as `i40e_construct_skb_zc`); TX copies it
 * to the tx ring and the "NIC" receives the template frame again; REDIRECT and ABORTED
 * are counted and recycled. Zero-copy returns each umem frame to the fill ring and
 * re-arms the descriptor with the next fill-ring frame. After the batch, one quiescent
 * state is reported through `reader_counter` (if non-zero).
 *
 * The rx model is a line-rate replay NIC: recycled descriptors stay ready, so the loop
 * never runs dry. With `verifyHandlers`, the loop clears the 4 bytes in front of each
 * packet before the call and afterwards checks that the program signed them with the id
 * of the program it meant to run (as `xdp_record` does), counting `misrouted` otherwise.
 * @throws I40eError EINVAL for a bad buffer, entry or options; the encoder's errors if the
 *   trampoline is out of reach.
 */
export function emitNapiPoll(buf: CodeBuffer, trampolineEntry: bigint, options: { mode: RxMode; stats: boolean; verifyHandlers?: boolean }): void {
  checkEmit(buf, trampolineEntry, 'emitNapiPoll', 'trampolineEntry');
  if (typeof options !== 'object' || options === null) throw new I40eError('EINVAL', `emitNapiPoll: options must be an object, got ${describe(options)}`);
  const { mode, stats } = options;
  if (mode !== 'copy' && mode !== 'zc') throw new I40eError('EINVAL', `emitNapiPoll: mode must be 'copy' or 'zc', got ${describe(mode)}`);
  if (typeof stats !== 'boolean') throw new I40eError('EINVAL', `emitNapiPoll: stats must be a boolean, got ${describe(stats)}`);
  if (options.verifyHandlers !== undefined && typeof options.verifyHandlers !== 'boolean') throw new I40eError('EINVAL', 'emitNapiPoll: verifyHandlers must be a boolean');
  const verify = options.verifyHandlers === true;
  const L = () => buf.newLabel();
  const [loop, verdict, next, noProg, unknown, pass, stackFull, tx, txFull, restore, done, noReader] = [L(), L(), L(), L(), L(), L(), L(), L(), L(), L(), L(), L()] as const;

  prologue(buf, 8);
  mov(buf, qword('rsp', 0), 'rdx');
  mov(buf, 'rbx', 'rdi');
  mov(buf, 'r13d', 'esi');
  alu(buf, 'xor', 'r14d', 'r14d');
  mov(buf, 'r12', qword('rbx', RING.xdpBuff));
  inc(buf, qword('rbx', C('polls')));

  buf.align(16);
  buf.bind(loop);
  alu(buf, 'cmp', 'r14d', 'r13d');
  jcc(buf, 'ae', done);
  currentDesc(buf);
  test(buf, word('rax', DESC.status), DESC.DD);
  jcc(buf, 'e', done);
  mov(buf, 'rcx', qword('rax', DESC.addr));
  movzx(buf, 'edx', word('rax', DESC.length));
  mov(buf, qword('r12', XDP_BUFF.dataHardStart), 'rcx');
  lea(buf, 'rcx', ptr('rcx', XDP_HEADROOM));
  mov(buf, qword('r12', XDP_BUFF.data), 'rcx');
  mov(buf, qword('r12', XDP_BUFF.dataMeta), 'rcx');
  alu(buf, 'add', 'rcx', 'rdx');
  mov(buf, qword('r12', XDP_BUFF.dataEnd), 'rcx');
  inc(buf, qword('rbx', C('packets')));
  alu(buf, 'add', qword('rbx', C('bytes')), 'rdx');
  mov(buf, 'rbp', qword('rbx', RING.xdpProg));
  test(buf, 'rbp', 'rbp');
  jcc(buf, 'e', noProg);
  if (verify) {
    // clear the signature in front of the packet; the program that runs must sign it
    mov(buf, 'rcx', qword('r12', XDP_BUFF.data));
    mov(buf, dword('rcx', -RECORD_META_SIZE), 0);
  }
  emitXdpCallRun(buf, trampolineEntry, { ctx: 'r12', prog: 'rbp', ...(stats ? { statsScratch: 'r15' as const } : {}) });
  if (verify) {
    const signed = buf.newLabel();
    mov(buf, 'rcx', qword('r12', XDP_BUFF.data));
    mov(buf, 'ecx', dword('rcx', -RECORD_META_SIZE));
    alu(buf, 'cmp', 'ecx', dword('rbp', BPF_PROG.id));
    jcc(buf, 'e', signed, 'short');
    inc(buf, qword('rbx', C('misrouted')));
    buf.bind(signed);
  }

  buf.bind(verdict);
  alu(buf, 'cmp', 'eax', XdpAction.REDIRECT);
  jcc(buf, 'a', unknown);
  mov(buf, 'ecx', 'eax');
  shift(buf, 'shl', 'ecx', 3);
  alu(buf, 'add', 'rcx', 'rbx');
  inc(buf, qword('rcx', C('actions')));
  alu(buf, 'cmp', 'eax', XdpAction.PASS);
  jcc(buf, 'e', pass);
  alu(buf, 'cmp', 'eax', XdpAction.TX);
  jcc(buf, 'e', tx);

  buf.bind(next);
  if (mode === 'zc') {
    // the umem frame goes back to the fill ring; the descriptor takes the next one
    currentDesc(buf);
    fillEntry(buf, RING.fillProd);
    mov(buf, 'rdx', qword('rax', DESC.addr));
    mov(buf, qword('rcx', 0), 'rdx');
    inc(buf, dword('rbx', RING.fillProd));
    fillEntry(buf, RING.fillCons);
    mov(buf, 'rdx', qword('rcx', 0));
    mov(buf, qword('rax', DESC.addr), 'rdx');
    inc(buf, dword('rbx', RING.fillCons));
  }
  mov(buf, 'eax', dword('rbx', RING.nextToClean));
  inc(buf, 'eax');
  alu(buf, 'and', 'eax', dword('rbx', RING.mask));
  mov(buf, dword('rbx', RING.nextToClean), 'eax');
  inc(buf, 'r14d');
  jmp(buf, loop);

  buf.bind(noProg);
  inc(buf, qword('rbx', C('noProg')));
  mov(buf, 'eax', XdpAction.PASS);
  jmp(buf, verdict);

  buf.bind(unknown);
  inc(buf, qword('rbx', C('errors')));
  jmp(buf, next);

  // PASS: to the stack queue, unless it is full
  buf.bind(pass);
  reserveSlot(buf, RING.stackHead, RING.stackTail, RING.stackMask, stackFull);
  mov(buf, 'rdx', 'rcx');
  shift(buf, 'shl', 'rdx', 4);
  alu(buf, 'add', 'rdx', qword('rbx', RING.stack));
  if (mode === 'zc') {
    // copy out of the umem frame into a stack buffer (after the entries)
    mov(buf, 'esi', dword('rbx', RING.stackMask));
    inc(buf, 'esi');
    shift(buf, 'shl', 'rsi', 4);
    alu(buf, 'add', 'rsi', qword('rbx', RING.stack));
    mov(buf, 'rdi', 'rcx');
    shift(buf, 'shl', 'rdi', FRAME_SHIFT);
    alu(buf, 'add', 'rdi', 'rsi');
    mov(buf, 'rsi', qword('r12', XDP_BUFF.data));
    copyFrame(buf, 'rdi', 'rsi', 'r8');
    mov(buf, qword('rdx', 0), 'rdi');
  } else {
    mov(buf, 'rsi', qword('r12', XDP_BUFF.data));
    mov(buf, qword('rdx', 0), 'rsi');
  }
  mov(buf, 'rsi', qword('r12', XDP_BUFF.dataEnd));
  alu(buf, 'sub', 'rsi', qword('r12', XDP_BUFF.data));
  mov(buf, qword('rdx', 8), 'rsi');
  inc(buf, dword('rbx', RING.stackHead));
  inc(buf, qword('rbx', C('stackEnqueued')));
  jmp(buf, next);
  buf.bind(stackFull);
  inc(buf, qword('rbx', C('stackDropped')));
  jmp(buf, next);

  // TX: copy to the tx ring, unless it is full; then the NIC refills the buffer
  buf.bind(tx);
  reserveSlot(buf, RING.txHead, RING.txTail, RING.txMask, txFull);
  mov(buf, 'rdi', 'rcx');
  shift(buf, 'shl', 'rdi', FRAME_SHIFT);
  alu(buf, 'add', 'rdi', qword('rbx', RING.tx));
  mov(buf, 'rsi', qword('r12', XDP_BUFF.data));
  copyFrame(buf, 'rdi', 'rsi', 'r8');
  mov(buf, 'rdx', qword('r12', XDP_BUFF.dataEnd));
  alu(buf, 'sub', 'rdx', qword('r12', XDP_BUFF.data));
  mov(buf, 'rsi', 'rcx');
  shift(buf, 'shl', 'rsi', 3);
  alu(buf, 'add', 'rsi', qword('rbx', RING.txLengths));
  mov(buf, qword('rsi', 0), 'rdx');
  inc(buf, dword('rbx', RING.txHead));
  inc(buf, qword('rbx', C('txPackets')));
  jmp(buf, restore);
  buf.bind(txFull);
  inc(buf, qword('rbx', C('txDropped')));
  buf.bind(restore);
  if (mode === 'zc') {
    // template of this umem frame: templates + ((hard_start - umem) >> BUFFER_SHIFT) << FRAME_SHIFT
    mov(buf, 'rsi', qword('r12', XDP_BUFF.dataHardStart));
    alu(buf, 'sub', 'rsi', qword('rbx', RING.buffers));
    shift(buf, 'shr', 'rsi', BUFFER_SHIFT);
  } else {
    mov(buf, 'esi', dword('rbx', RING.nextToClean));
  }
  shift(buf, 'shl', 'rsi', FRAME_SHIFT);
  alu(buf, 'add', 'rsi', qword('rbx', RING.templates));
  mov(buf, 'rdi', qword('r12', XDP_BUFF.data));
  copyFrame(buf, 'rdi', 'rsi', 'r8');
  jmp(buf, next);

  buf.bind(done);
  mov(buf, 'rax', qword('rsp', 0));
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', noReader, 'short');
  inc(buf, qword('rax', 0));
  buf.bind(noReader);
  mov(buf, 'eax', 'r14d');
  epilogue(buf, 8);
}

/**
 * Emit `driver_loop(rings, nrings, packets, budget, reader_counter) -> processed`: poll the
 * rings round robin with `napi_poll` (budget capped by what is left) until `packets` have
 * been processed, or every ring came back empty in a row. No JS per packet or per poll.
 * @throws I40eError EINVAL for a bad buffer or napiPoll address.
 */
export function emitDriverLoop(buf: CodeBuffer, napiPoll: bigint): void {
  checkEmit(buf, napiPoll, 'emitDriverLoop', 'napiPoll');
  const [outer, busy, wrap, store, finish] = [buf.newLabel(), buf.newLabel(), buf.newLabel(), buf.newLabel(), buf.newLabel()];
  // [rsp] ring index, [rsp+8] consecutive empty polls
  prologue(buf, 24);
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
