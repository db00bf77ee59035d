import { emitQuiescentState } from '@bpf-dispatcher/text-poke';
import {
  alu,
  type CodeBuffer,
  dword,
  inc,
  jcc,
  jmp,
  type Label,
  lea,
  mov,
  movzx,
  ptr,
  qword,
  shift,
  test,
  word,
} from '@bpf-dispatcher/x86';
import { BPF_PROG, emitXdpCallRun, XDP_BUFF, XDP_HEADROOM, XdpAction } from '@bpf-dispatcher/xdp-call';
import { checkEmit, copyFrame, currentDesc, emitVerdictSwitch, epilogue, prologue } from './emit-common.js';
import { I40eError } from './errors.js';
import { COUNTERS, DESC, FRAME_SHIFT, RING, type RxMode, STACK_ENTRY_SHIFT, StackEntryStruct } from './ring.js';
import { describe } from './validate.js';
import { XSK_RX } from './xsk.js';

const C = (field: keyof typeof COUNTERS) => RING.counters + COUNTERS[field];

/**
 * What the NAPI poll loop asks of the receive path for its buffer handling (rbx = ring,
 * r12 = the ring's xdp_buff). Copy mode is {@link COPY_RX} here; zero-copy is xsk.ts's
 * `XSK_RX`.
 */
export interface RxBufferPath {
  /** After a verdict, before next_to_clean advances: give the buffer back. May clobber rax, rcx, rdx. */
  emitRecycle(buf: CodeBuffer): void;
  /** PASS: store the frame's data address in the stack entry at [rdx] (slot index in rcx). May clobber rsi, rdi, r8. */
  emitStackData(buf: CodeBuffer): void;
  /** TX refill: leave the index of the buffer's template frame in rsi. */
  emitTemplateIndex(buf: CodeBuffer): void;
}

/** Copy mode (`i40e_run_xdp`): the ring's own buffers stay with their descriptors; PASS hands the buffer itself to the stack. */
export const COPY_RX: RxBufferPath = Object.freeze({
  emitRecycle(): void {},
  emitStackData(buf: CodeBuffer): void {
    mov(buf, 'rsi', qword('r12', XDP_BUFF.data));
    mov(buf, qword('rdx', StackEntryStruct.offsets.data), 'rsi');
  },
  emitTemplateIndex(buf: CodeBuffer): void {
    mov(buf, 'esi', dword('rbx', RING.nextToClean));
  },
});

/** Options of {@link emitNapiPoll}. */
export interface NapiPollOptions {
  /** The receive path: copy mode, or zero-copy (xsk.ts). */
  readonly mode: RxMode;
  /** Program stats around each run (xdp_call_run's time-stamp counter). */
  readonly stats: boolean;
  /** Check that each packet was handled by the program the loop meant to run (default false). */
  readonly verifyHandlers?: boolean;
  /**
   * With `verifyHandlers`: where, relative to `data`, programs sign packets with their id
   * (a u32 in the headroom, -XDP_HEADROOM..-4; xdp_record's is `-RECORD_META_SIZE`).
   */
  readonly signatureOffset?: number;
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

/**
 * Emit `napi_poll(ring, budget, reader_counter, cpu) -> processed`: the i40e rx clean loop with
 * XDP. Per descriptor with DD set: build the ring's xdp_buff, READ_ONCE the ring's
 * program, run it through the shared trampoline (`xdp_call_run`), count the verdict and
 * act on it — DROP recycles the buffer; PASS hands the frame to the stack queue (copy
 * mode: the buffer itself; zero-copy: a copy, as `i40e_construct_skb_zc`); TX copies it
 * to the tx ring and the "NIC" receives the template frame again; REDIRECT and ABORTED
 * are counted and recycled. Zero-copy returns each umem frame to the fill ring and
 * re-arms the descriptor with the next fill-ring frame. After the batch, one quiescent
 * state is reported through `reader_counter` (if non-zero). `cpu` is the index of the poller
 * thread (the ring's xdp_buff gets it: programs' per-CPU maps and
 * `bpf_get_smp_processor_id()` use it); one poller per index at a time.
 *
 * The rx model is a line-rate replay NIC: recycled descriptors stay ready, so the loop
 * never runs dry. With `verifyHandlers`, the loop clears the u32 at `data +
 * signatureOffset` before the call and afterwards checks that the program signed it with
 * the id of the program it meant to run (`bpf_prog.id`), counting `misrouted` otherwise;
 * the offset is the caller's (xdp_record signs at `-RECORD_META_SIZE`).
 * @throws I40eError EINVAL for a bad buffer, entry or options; the encoder's errors if the
 *   trampoline is out of reach.
 */
export function emitNapiPoll(buf: CodeBuffer, trampolineEntry: bigint, options: NapiPollOptions): void {
  checkEmit(buf, trampolineEntry, 'emitNapiPoll', 'trampolineEntry');
  if (typeof options !== 'object' || options === null)
    throw new I40eError('EINVAL', `emitNapiPoll: options must be an object, got ${describe(options)}`);
  const { mode, stats } = options;
  if (mode !== 'copy' && mode !== 'zc') throw new I40eError('EINVAL', `emitNapiPoll: mode must be 'copy' or 'zc', got ${describe(mode)}`);
  if (typeof stats !== 'boolean') throw new I40eError('EINVAL', `emitNapiPoll: stats must be a boolean, got ${describe(stats)}`);
  if (options.verifyHandlers !== undefined && typeof options.verifyHandlers !== 'boolean')
    throw new I40eError('EINVAL', 'emitNapiPoll: verifyHandlers must be a boolean');
  const verify = options.verifyHandlers === true;
  const signature = options.signatureOffset;
  if (verify && (!Number.isInteger(signature) || (signature as number) < -XDP_HEADROOM || (signature as number) > -4)) {
    throw new I40eError(
      'EINVAL',
      `emitNapiPoll: verifyHandlers needs a signatureOffset from -${XDP_HEADROOM} to -4 (in the headroom), got ${describe(signature)}`,
    );
  }
  const path = mode === 'zc' ? XSK_RX : COPY_RX;
  const L = () => buf.newLabel();
  const [loop, verdict, next, noProg, unknown, pass, stackFull, tx, txFull, restore, done, noReader] = [
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
    L(),
  ] as const;

  prologue(buf, 8);
  mov(buf, qword('rsp', 0), 'rdx');
  mov(buf, 'rbx', 'rdi');
  mov(buf, 'r13d', 'esi');
  alu(buf, 'xor', 'r14d', 'r14d');
  mov(buf, 'r12', qword('rbx', RING.xdpBuff));
  // the poller running this poll: the CPU of per-CPU maps and bpf_get_smp_processor_id()
  mov(buf, dword('r12', XDP_BUFF.cpu), 'ecx');
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
    mov(buf, dword('rcx', signature as number), 0);
  }
  emitXdpCallRun(buf, trampolineEntry, { ctx: 'r12', prog: 'rbp', ...(stats ? { statsScratch: 'r15' as const } : {}) });
  if (verify) {
    const signed = buf.newLabel();
    mov(buf, 'rcx', qword('r12', XDP_BUFF.data));
    mov(buf, 'ecx', dword('rcx', signature as number));
    alu(buf, 'cmp', 'ecx', dword('rbp', BPF_PROG.id));
    jcc(buf, 'e', signed, 'short');
    inc(buf, qword('rbx', C('misrouted')));
    buf.bind(signed);
  }

  emitVerdictSwitch(buf, C('actions'), { verdict, unknown, pass, tx });

  buf.bind(next);
  path.emitRecycle(buf);
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
  shift(buf, 'shl', 'rdx', STACK_ENTRY_SHIFT);
  alu(buf, 'add', 'rdx', qword('rbx', RING.stack));
  path.emitStackData(buf);
  mov(buf, 'rsi', qword('r12', XDP_BUFF.dataEnd));
  alu(buf, 'sub', 'rsi', qword('r12', XDP_BUFF.data));
  mov(buf, qword('rdx', StackEntryStruct.offsets.length), 'rsi');
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
  // template of this buffer: templates + (index << FRAME_SHIFT)
  path.emitTemplateIndex(buf);
  shift(buf, 'shl', 'rsi', FRAME_SHIFT);
  alu(buf, 'add', 'rsi', qword('rbx', RING.templates));
  mov(buf, 'rdi', qword('r12', XDP_BUFF.data));
  copyFrame(buf, 'rdi', 'rsi', 'r8');
  jmp(buf, next);

  buf.bind(done);
  // one quiescent state per poll, for the dispatcher's grace periods (none without a reader)
  mov(buf, 'rax', qword('rsp', 0));
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', noReader, 'short');
  emitQuiescentState(buf, 'rax');
  buf.bind(noReader);
  mov(buf, 'eax', 'r14d');
  epilogue(buf, 8);
}
