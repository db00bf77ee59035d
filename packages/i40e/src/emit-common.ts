import { XdpAction } from '@bpf-dispatcher/xdp-call';
import { alu, CodeBuffer, dword, type Gp64, inc, jcc, type Label, mov, pop, push, qword, ret, shift, toAddress } from '@bpf-dispatcher/x86';
import { I40eError } from './errors.js';
import { DESC_SHIFT, FRAME_SLOT, RING } from './ring.js';
import { describe } from './validate.js';

/** The callee-saved registers the JIT'd loops use (System V). */
const SAVED: readonly Gp64[] = ['rbp', 'rbx', 'r12', 'r13', 'r14', 'r15'];

/** Save the callee-saved registers and reserve `frame` bytes of stack (a multiple of 8, odd count keeps rsp 16-aligned). */
export function prologue(buf: CodeBuffer, frame: number): void {
  for (const r of SAVED) push(buf, r);
  alu(buf, 'sub', 'rsp', frame);
}

/** Undo {@link prologue} and return. */
export function epilogue(buf: CodeBuffer, frame: number): void {
  alu(buf, 'add', 'rsp', frame);
  for (const r of [...SAVED].reverse()) pop(buf, r);
  ret(buf);
}

/** Copy FRAME_SLOT bytes from [src] to [dst] with qword moves through `tmp`. */
export function copyFrame(buf: CodeBuffer, dst: Gp64, src: Gp64, tmp: Gp64): void {
  for (let off = 0; off < FRAME_SLOT; off += 8) {
    mov(buf, tmp, qword(src, off));
    mov(buf, qword(dst, off), tmp);
  }
}

/** rax = &descs[next_to_clean] of the ring in rbx. */
export function currentDesc(buf: CodeBuffer): void {
  mov(buf, 'eax', dword('rbx', RING.nextToClean));
  shift(buf, 'shl', 'rax', DESC_SHIFT);
  alu(buf, 'add', 'rax', qword('rbx', RING.descs));
}

/** Check an emitter's buffer and target address. @throws I40eError EINVAL. */
export function checkEmit(buf: unknown, target: unknown, what: string, name: string): asserts buf is CodeBuffer {
  if (!(buf instanceof CodeBuffer)) throw new I40eError('EINVAL', `${what}: buf must be a CodeBuffer, got ${describe(buf)}`);
  toAddress(target, `${what}: ${name}`, (message) => new I40eError('EINVAL', message));
}

/**
 * The verdict in eax, as both poll loops act on it (`i40e_run_xdp`'s switch): bind
 * `verdict`; a value above XDP_REDIRECT jumps to `unknown`; otherwise the action's counter
 * (`counters.actions[eax]` of the ring in rbx) is incremented and PASS jumps to `pass`, TX
 * to `tx`; DROP, ABORTED and REDIRECT fall through. Clobbers rcx.
 */
export function emitVerdictSwitch(
  buf: CodeBuffer,
  actions: number,
  labels: { verdict: Label; unknown: Label; pass: Label; tx: Label },
): void {
  buf.bind(labels.verdict);
  alu(buf, 'cmp', 'eax', XdpAction.REDIRECT);
  jcc(buf, 'a', labels.unknown);
  mov(buf, 'ecx', 'eax');
  shift(buf, 'shl', 'ecx', 3);
  alu(buf, 'add', 'rcx', 'rbx');
  inc(buf, qword('rcx', actions));
  alu(buf, 'cmp', 'eax', XdpAction.PASS);
  jcc(buf, 'e', labels.pass);
  alu(buf, 'cmp', 'eax', XdpAction.TX);
  jcc(buf, 'e', labels.tx);
}
