import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { alu, type CodeBuffer, dword, inc, mov, qword, shift } from '@bpf-dispatcher/x86';
import { XDP_BUFF } from '@bpf-dispatcher/xdp-call';
import { copyFrame, currentDesc } from './emit-common.js';
import type { RxBufferPath } from './napi-poll.js';
import { BUFFER_SHIFT, BUFFER_STRIDE, DESC, FRAME_SHIFT, RING, RxRing, STACK_ENTRY_SHIFT, StackEntryStruct } from './ring.js';

/*
 * The AF_XDP zero-copy path (`i40e_run_xdp_zc`, `i40e_clean_rx_irq_zc`): the ring's
 * buffers are umem frames owned by user space, handed to the driver through a fill ring.
 * The NAPI poll loop (napi-poll.ts) asks this file for the zero-copy pieces of its code.
 */

/** Umem frames behind a ring of `ringSize` descriptors: one per descriptor, as many again in the fill ring. */
export function umemFrames(ringSize: number): number {
  return 2 * ringSize;
}

/**
 * @internal Set up the fill ring of a zero-copy `ring` (the umem is the ring's buffers,
 * {@link umemFrames} of them): the descriptors hold frames 0..R-1, the fill ring the
 * frames R..2R-1 (producer R, consumer 0). The fill ring's memory comes from `alloc`.
 * @throws TextPokeError ENOMEM when the arena is too small.
 */
export function setupFillRing(arena: TextArena, ring: RxRing, alloc: (size: number, align: number) => Region): void {
  const R = ring.size;
  const frames = umemFrames(R);
  const fill = alloc(8 * frames, 64);
  const view = RxRing.structOf(ring);
  const umem = view.get('buffers');
  const entries = arena.memory(fill);
  for (let i = 0; i < R; i++) entries.setU64(i * 8, umem + BigInt((R + i) * BUFFER_STRIDE));
  view.set('fill', fill.address);
  view.set('fillMask', frames - 1);
  view.set('fillProd', R);
  view.set('fillCons', 0);
}

/** rcx = &fill[index & fill_mask] for the u32 fill-ring index at `indexField` (rbx = ring). */
function fillEntry(buf: CodeBuffer, indexField: number): void {
  mov(buf, 'ecx', dword('rbx', indexField));
  alu(buf, 'and', 'ecx', dword('rbx', RING.fillMask));
  shift(buf, 'shl', 'rcx', 3);
  alu(buf, 'add', 'rcx', qword('rbx', RING.fill));
}

/**
 * The zero-copy pieces of the NAPI poll loop: a used umem frame goes back to the fill
 * ring and the descriptor takes the next fill-ring frame (`xsk_buff_free` /
 * `i40e_alloc_rx_buffers_zc`); PASS copies the frame out of the umem into a stack buffer
 * (`i40e_construct_skb_zc`); TX refills a umem frame from that frame's template.
 */
export const XSK_RX: RxBufferPath = Object.freeze({
  emitRecycle(buf: CodeBuffer): void {
    currentDesc(buf);
    fillEntry(buf, RING.fillProd);
    mov(buf, 'rdx', qword('rax', DESC.addr));
    mov(buf, qword('rcx', 0), 'rdx');
    inc(buf, dword('rbx', RING.fillProd));
    fillEntry(buf, RING.fillCons);
    mov(buf, 'rdx', qword('rcx', 0));
    mov(buf, qword('rax', DESC.addr), 'rdx');
    inc(buf, dword('rbx', RING.fillCons));
  },
  emitStackData(buf: CodeBuffer): void {
    // copy out of the umem frame into stack buffer rcx (after the entries)
    mov(buf, 'esi', dword('rbx', RING.stackMask));
    inc(buf, 'esi');
    shift(buf, 'shl', 'rsi', STACK_ENTRY_SHIFT);
    alu(buf, 'add', 'rsi', qword('rbx', RING.stack));
    mov(buf, 'rdi', 'rcx');
    shift(buf, 'shl', 'rdi', FRAME_SHIFT);
    alu(buf, 'add', 'rdi', 'rsi');
    mov(buf, 'rsi', qword('r12', XDP_BUFF.data));
    copyFrame(buf, 'rdi', 'rsi', 'r8');
    mov(buf, qword('rdx', StackEntryStruct.offsets.data), 'rdi');
  },
  emitTemplateIndex(buf: CodeBuffer): void {
    // the umem frame's index: (hard_start - umem) >> BUFFER_SHIFT
    mov(buf, 'rsi', qword('r12', XDP_BUFF.dataHardStart));
    alu(buf, 'sub', 'rsi', qword('rbx', RING.buffers));
    shift(buf, 'shr', 'rsi', BUFFER_SHIFT);
  },
});
