/**
 * The NAPI poll loop of an AF_XDP queue (`i40e_clean_rx_irq_zc` with `i40e_run_xdp_zc`),
 * JIT'd: it reads rx descriptors straight from the socket's rx ring, runs the ring's
 * program through the xdp_call site on the frame where it lies in the UMEM, and acts on
 * the verdict with the socket's other rings — DROP (and ABORTED, REDIRECT, unknown
 * verdicts) give the frame back through the fill ring, TX puts it on the tx ring (its
 * completion is reaped at the start of a later poll and the frame refilled), PASS copies
 * it to the stack queue and refills the frame. No JavaScript per packet: TypeScript only
 * kicks the socket when a ring asks for it and reads the counters.
 *
 * Ring protocol (the kernel's `xsk_queue.h`): indexes are free-running u32s; a consumer
 * reads the producer word, then the entries, then publishes its consumer word; a producer
 * writes entries, then publishes its producer word. On x86-64 loads are not reordered with
 * older loads nor stores with older stores, so plain moves give the acquire and release
 * the protocol needs. The loop publishes its rx consumer, fill producer and tx producer
 * once per poll.
 */
import { emitQuiescentState } from '@bpf-dispatcher/text-poke';
import {
  alu,
  byte,
  type CodeBuffer,
  dec,
  dword,
  type Gp64,
  inc,
  jcc,
  jmp,
  type Label,
  mov,
  qword,
  shift,
  shiftCl,
  test,
} from '@bpf-dispatcher/x86';
import { emitXdpCallRun, XDP_BUFF, XdpAction } from '@bpf-dispatcher/xdp-call';
import { checkEmit, emitVerdictSwitch, epilogue, prologue } from '../emit-common.js';
import { I40eError } from '../errors.js';
import { COUNTERS, RING } from '../ring.js';
import { describe } from '../validate.js';
import { XDP_DESC } from './uapi.js';
import { XSKQ, XskStackEntryStruct } from './xsk-queue.js';

const C = (field: keyof typeof COUNTERS) => RING.counters + COUNTERS[field];

/**
 * Stack frame of the loop: the reader's counter, the local ring indexes, and the free
 * entries of the fill and tx rings as last seen (refreshed from the kernel's consumer
 * index only when they run out: the loop reads the kernel's cache lines as rarely as it can).
 */
const F = Object.freeze({ reader: 0, rxCons: 8, rxProd: 16, fillProd: 24, txProd: 32, fillFree: 40, txFree: 48, size: 56 });

/** Options of {@link emitXskPoll}. */
export interface XskPollOptions {
  /** Program stats around each run (xdp_call_run's time-stamp counter). */
  readonly stats: boolean;
}

/**
 * Reserve an entry of a ring this loop produces (fill or tx): when the cached free count at
 * `[rsp + free]` is 0, refresh it from the kernel's consumer index (`size - (prod - cons)`)
 * and jump to `full` if the ring really is full; otherwise leave the entry's address in rax
 * (`descs + (prod & mask) * entrySize`) — the caller writes it and calls {@link commitEntry}.
 * Clobbers rax, rcx, rdx.
 */
function reserveEntry(
  buf: CodeBuffer,
  ring: { consumer: number; descs: number; mask: number },
  slots: { prod: number; free: number },
  entryShift: number,
  full: Label,
): void {
  const have = buf.newLabel();
  alu(buf, 'cmp', dword('rsp', slots.free), 0);
  jcc(buf, 'ne', have, 'short');
  mov(buf, 'rcx', qword('rbx', ring.consumer));
  mov(buf, 'eax', dword('rsp', slots.prod));
  alu(buf, 'sub', 'eax', dword('rcx', 0));
  mov(buf, 'edx', dword('rbx', ring.mask));
  inc(buf, 'edx');
  alu(buf, 'sub', 'edx', 'eax');
  mov(buf, dword('rsp', slots.free), 'edx');
  test(buf, 'edx', 'edx');
  jcc(buf, 'e', full);
  buf.bind(have);
  mov(buf, 'eax', dword('rsp', slots.prod));
  alu(buf, 'and', 'eax', dword('rbx', ring.mask));
  shift(buf, 'shl', 'rax', entryShift);
  alu(buf, 'add', 'rax', qword('rbx', ring.descs));
}

/** The entry {@link reserveEntry} gave was written: advance the local producer index, one fewer free. */
function commitEntry(buf: CodeBuffer, slots: { prod: number; free: number }): void {
  inc(buf, dword('rsp', slots.prod));
  dec(buf, dword('rsp', slots.free));
}

const FILL = { consumer: XSKQ.fillConsumer, descs: XSKQ.fillDescs, mask: XSKQ.fillMask } as const;
const FILL_SLOTS = { prod: F.fillProd, free: F.fillFree } as const;
const TX = { consumer: XSKQ.txConsumer, descs: XSKQ.txDescs, mask: XSKQ.txMask } as const;
const TX_SLOTS = { prod: F.txProd, free: F.txFree } as const;

/**
 * Give the frame whose UMEM offset is in `offset` back to the fill ring, unless the fill
 * ring is full — counted as `fillFull` (the fill ring is twice the frames, which rules it
 * out). Clobbers rax, rcx, rdx, `offset`.
 */
function emitFillPush(buf: CodeBuffer, offset: Gp64): void {
  const full = buf.newLabel();
  const done = buf.newLabel();
  alu(buf, 'and', offset, qword('rbx', XSKQ.frameMask));
  reserveEntry(buf, FILL, FILL_SLOTS, 3, full);
  mov(buf, qword('rax', 0), offset);
  commitEntry(buf, FILL_SLOTS);
  jmp(buf, done, 'short');
  buf.bind(full);
  inc(buf, qword('rbx', XSKQ.fillFull));
  buf.bind(done);
}

/** Copy rcx bytes from [rsi] to [rdi]: 8-byte words, then single bytes. Clobbers rax, rcx, rdx, rsi, rdi. */
function emitCopyBytes(buf: CodeBuffer): void {
  const words = buf.newLabel();
  const bytes = buf.newLabel();
  const done = buf.newLabel();
  mov(buf, 'edx', 'ecx');
  alu(buf, 'and', 'edx', 7);
  shift(buf, 'shr', 'ecx', 3);
  buf.bind(words);
  test(buf, 'ecx', 'ecx');
  jcc(buf, 'e', bytes, 'short');
  mov(buf, 'rax', qword('rsi', 0));
  mov(buf, qword('rdi', 0), 'rax');
  alu(buf, 'add', 'rsi', 8);
  alu(buf, 'add', 'rdi', 8);
  dec(buf, 'ecx');
  jmp(buf, words, 'short');
  buf.bind(bytes);
  test(buf, 'edx', 'edx');
  jcc(buf, 'e', done, 'short');
  mov(buf, 'al', byte('rsi', 0));
  mov(buf, byte('rdi', 0), 'al');
  inc(buf, 'rsi');
  inc(buf, 'rdi');
  dec(buf, 'edx');
  jmp(buf, bytes, 'short');
  buf.bind(done);
}

/**
 * Emit `xsk_poll(ring, budget, reader_counter, cpu) -> processed` — the same signature as
 * the copy-mode `napi_poll`, so the driver loop polls either. First the completion ring is
 * reaped (each transmitted frame back to the fill ring); then up to `budget` rx
 * descriptors are processed: the ring's xdp_buff is pointed at the frame in the UMEM
 * (`data_hard_start` its frame, `data` = `data_meta` the descriptor's address,
 * `data_end` = data + len, `frame_sz` the chunk size), the ring's program READ_ONCE and run
 * through the shared trampoline (no program: PASS, counted `noProg`), the verdict counted
 * and carried out. Then the rx consumer, fill producer and tx producer are published, and
 * one quiescent state is reported through `reader_counter` (if non-zero). `cpu` goes into
 * the xdp_buff, as in napi_poll.
 *
 * TX puts `{ data - umem, data_end - data }` on the tx ring (a full tx ring: `txDropped`,
 * the frame is refilled); PASS copies `data..data_end` into a stack slot and records the
 * frame's UMEM offset in the entry (a full stack queue: `stackDropped`).
 * @throws I40eError EINVAL for a bad buffer, entry or options; the encoder's errors if the
 *   trampoline is out of reach.
 */
export function emitXskPoll(buf: CodeBuffer, trampolineEntry: bigint, options: XskPollOptions): void {
  checkEmit(buf, trampolineEntry, 'emitXskPoll', 'trampolineEntry');
  if (typeof options !== 'object' || options === null || typeof options.stats !== 'boolean') {
    throw new I40eError('EINVAL', `emitXskPoll: options must be { stats: boolean }, got ${describe(options)}`);
  }
  const L = () => buf.newLabel();
  const [reap, reaped, loop, verdict, noProg, unknown, recycle, next] = [L(), L(), L(), L(), L(), L(), L(), L()] as const;
  const [pass, stackFull, tx, txFull, done, noReader] = [L(), L(), L(), L(), L(), L()] as const;

  prologue(buf, F.size);
  mov(buf, qword('rsp', F.reader), 'rdx');
  mov(buf, 'rbx', 'rdi');
  mov(buf, 'r13d', 'esi');
  alu(buf, 'xor', 'r14d', 'r14d');
  mov(buf, 'r12', qword('rbx', RING.xdpBuff));
  mov(buf, dword('r12', XDP_BUFF.cpu), 'ecx');
  inc(buf, qword('rbx', C('polls')));
  // local copies of the indexes this poll advances
  for (const [ring, slot] of [
    [XSKQ.rxConsumer, F.rxCons],
    [XSKQ.rxProducer, F.rxProd],
    [XSKQ.fillProducer, F.fillProd],
    [XSKQ.txProducer, F.txProd],
  ] as const) {
    mov(buf, 'rax', qword('rbx', ring));
    mov(buf, 'eax', dword('rax', 0));
    mov(buf, qword('rsp', slot), 'rax');
  }
  mov(buf, qword('rsp', F.fillFree), 0);
  mov(buf, qword('rsp', F.txFree), 0);

  // reap the completion ring: each frame the kernel has sent goes back to the fill ring
  mov(buf, 'r8', qword('rbx', XSKQ.compConsumer));
  mov(buf, 'r9', qword('rbx', XSKQ.compProducer));
  mov(buf, 'r10d', dword('r8', 0));
  mov(buf, 'r11d', dword('r9', 0));
  buf.bind(reap);
  alu(buf, 'cmp', 'r10d', 'r11d');
  jcc(buf, 'e', reaped);
  mov(buf, 'esi', 'r10d');
  alu(buf, 'and', 'esi', dword('rbx', XSKQ.compMask));
  shift(buf, 'shl', 'rsi', 3);
  alu(buf, 'add', 'rsi', qword('rbx', XSKQ.compDescs));
  mov(buf, 'rsi', qword('rsi', 0));
  emitFillPush(buf, 'rsi');
  inc(buf, qword('rbx', XSKQ.completions));
  inc(buf, 'r10d');
  jmp(buf, reap);
  buf.bind(reaped);
  const noCompletions = buf.newLabel();
  alu(buf, 'cmp', dword('r8', 0), 'r10d');
  jcc(buf, 'e', noCompletions, 'short');
  mov(buf, dword('r8', 0), 'r10d');
  buf.bind(noCompletions);

  buf.align(16);
  buf.bind(loop);
  alu(buf, 'cmp', 'r14d', 'r13d');
  jcc(buf, 'ae', done);
  mov(buf, 'eax', dword('rsp', F.rxCons));
  alu(buf, 'cmp', 'eax', dword('rsp', F.rxProd));
  jcc(buf, 'e', done);
  alu(buf, 'and', 'eax', dword('rbx', XSKQ.rxMask));
  shift(buf, 'shl', 'rax', 4);
  alu(buf, 'add', 'rax', qword('rbx', XSKQ.rxDescs));
  mov(buf, 'rcx', qword('rax', XDP_DESC.addr));
  mov(buf, 'edx', dword('rax', XDP_DESC.len));
  mov(buf, 'rsi', 'rcx');
  alu(buf, 'and', 'rsi', qword('rbx', XSKQ.frameMask));
  alu(buf, 'add', 'rsi', qword('rbx', XSKQ.umem));
  mov(buf, qword('r12', XDP_BUFF.dataHardStart), 'rsi');
  alu(buf, 'add', 'rcx', qword('rbx', XSKQ.umem));
  mov(buf, qword('r12', XDP_BUFF.data), 'rcx');
  mov(buf, qword('r12', XDP_BUFF.dataMeta), 'rcx');
  alu(buf, 'add', 'rcx', 'rdx');
  mov(buf, qword('r12', XDP_BUFF.dataEnd), 'rcx');
  inc(buf, qword('rbx', C('packets')));
  alu(buf, 'add', qword('rbx', C('bytes')), 'rdx');
  mov(buf, 'rbp', qword('rbx', RING.xdpProg));
  test(buf, 'rbp', 'rbp');
  jcc(buf, 'e', noProg);
  emitXdpCallRun(buf, trampolineEntry, { ctx: 'r12', prog: 'rbp', ...(options.stats ? { statsScratch: 'r15' as const } : {}) });

  emitVerdictSwitch(buf, C('actions'), { verdict, unknown, pass, tx });

  // DROP, ABORTED, REDIRECT: the frame goes back to the fill ring
  buf.bind(recycle);
  mov(buf, 'rsi', qword('r12', XDP_BUFF.dataHardStart));
  alu(buf, 'sub', 'rsi', qword('rbx', XSKQ.umem));
  emitFillPush(buf, 'rsi');
  buf.bind(next);
  inc(buf, dword('rsp', F.rxCons));
  inc(buf, 'r14d');
  jmp(buf, loop);

  buf.bind(noProg);
  inc(buf, qword('rbx', C('noProg')));
  mov(buf, 'eax', XdpAction.PASS);
  jmp(buf, verdict);

  buf.bind(unknown);
  inc(buf, qword('rbx', C('errors')));
  jmp(buf, recycle);

  // PASS: copy into a stack slot (i40e_construct_skb_zc), then refill the frame
  buf.bind(pass);
  mov(buf, 'ecx', dword('rbx', RING.stackHead));
  mov(buf, 'edx', 'ecx');
  alu(buf, 'sub', 'edx', dword('rbx', RING.stackTail));
  alu(buf, 'cmp', 'edx', dword('rbx', RING.stackMask));
  jcc(buf, 'a', stackFull);
  alu(buf, 'and', 'ecx', dword('rbx', RING.stackMask));
  // r8 = the entry, rdi = the slot
  mov(buf, 'r8', 'rcx');
  shift(buf, 'shl', 'r8', 4);
  alu(buf, 'add', 'r8', qword('rbx', RING.stack));
  mov(buf, 'rdi', 'rcx');
  mov(buf, 'ecx', dword('rbx', XSKQ.slotShift));
  shiftCl(buf, 'shl', 'rdi');
  alu(buf, 'add', 'rdi', qword('rbx', XSKQ.stackSlots));
  mov(buf, qword('r8', XskStackEntryStruct.offsets.data), 'rdi');
  mov(buf, 'rsi', qword('r12', XDP_BUFF.data));
  mov(buf, 'rcx', qword('r12', XDP_BUFF.dataEnd));
  alu(buf, 'sub', 'rcx', 'rsi');
  mov(buf, dword('r8', XskStackEntryStruct.offsets.length), 'ecx');
  mov(buf, 'rax', qword('r12', XDP_BUFF.dataHardStart));
  alu(buf, 'sub', 'rax', qword('rbx', XSKQ.umem));
  mov(buf, dword('r8', XskStackEntryStruct.offsets.frame), 'eax');
  emitCopyBytes(buf);
  inc(buf, dword('rbx', RING.stackHead));
  inc(buf, qword('rbx', C('stackEnqueued')));
  jmp(buf, recycle);
  buf.bind(stackFull);
  inc(buf, qword('rbx', C('stackDropped')));
  jmp(buf, recycle);

  // TX: onto the tx ring, unless it is full; the frame stays with the kernel until completed
  buf.bind(tx);
  reserveEntry(buf, TX, TX_SLOTS, 4, txFull);
  mov(buf, 'rcx', qword('r12', XDP_BUFF.data));
  mov(buf, 'rdx', qword('r12', XDP_BUFF.dataEnd));
  alu(buf, 'sub', 'rdx', 'rcx');
  alu(buf, 'sub', 'rcx', qword('rbx', XSKQ.umem));
  mov(buf, qword('rax', XDP_DESC.addr), 'rcx');
  mov(buf, dword('rax', XDP_DESC.len), 'edx');
  mov(buf, dword('rax', XDP_DESC.options), 0);
  commitEntry(buf, TX_SLOTS);
  inc(buf, qword('rbx', C('txPackets')));
  jmp(buf, next);
  buf.bind(txFull);
  inc(buf, qword('rbx', C('txDropped')));
  jmp(buf, recycle);

  buf.bind(done);
  // publish: the rx entries read, the fill and tx entries written
  for (const [ring, slot] of [
    [XSKQ.rxConsumer, F.rxCons],
    [XSKQ.fillProducer, F.fillProd],
    [XSKQ.txProducer, F.txProd],
  ] as const) {
    // only when it moved: an idle poll writes nothing the kernel's CPU would have to fetch back
    const same = buf.newLabel();
    mov(buf, 'rax', qword('rbx', ring));
    mov(buf, 'ecx', dword('rsp', slot));
    alu(buf, 'cmp', dword('rax', 0), 'ecx');
    jcc(buf, 'e', same, 'short');
    mov(buf, dword('rax', 0), 'ecx');
    buf.bind(same);
  }
  mov(buf, 'rax', qword('rsp', F.reader));
  test(buf, 'rax', 'rax');
  jcc(buf, 'e', noReader, 'short');
  emitQuiescentState(buf, 'rax');
  buf.bind(noReader);
  mov(buf, 'eax', 'r14d');
  epilogue(buf, F.size);
}
