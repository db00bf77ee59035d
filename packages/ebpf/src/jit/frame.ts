/**
 * Prologue and epilogue of one subprogram, after the kernel's `emit_prologue()` /
 * the `BPF_EXIT` epilogue: `push rbp; mov rbp, rsp; sub rsp, depth` gives R10 its frame,
 * then only the callee-saved registers the subprogram uses (rbx, r13, r14, r15 for
 * R6..R9) are pushed; the epilogue pops them, `leave`s and returns.
 *
 * Unlike the kernel (kernel code has no ABI alignment rule) the frame keeps rsp 16-byte
 * aligned at every call, as System V requires of the native helpers a caller provides.
 */
import { alu, dword, jcc, leave, mov, nop5, pop, push, qword, ret } from '@bpf-dispatcher/x86';
import type { SubprogInfo } from './analyze.js';
import type { JitContext } from './context.js';
import { bpfReg64 } from './registers.js';

/** Bytes of eBPF stack a frame gets when nothing better is known (the kernel's MAX_BPF_STACK). */
export const MAX_BPF_STACK = 512;

/** The stack bytes `sub rsp` reserves: the depth rounded up to 16, plus 8 if an odd number of registers is pushed. */
export function frameSize(stackDepth: number, pushed: number): number {
  const rounded = Math.ceil(stackDepth / 16) * 16;
  return rounded + (pushed % 2 === 1 ? 8 : 0);
}

/**
 * Emit a subprogram's prologue. The main program starts with the 5-byte nop the kernel
 * leaves at every `bpf_func` for trampolines (`bpf_arch_text_poke`). With `zeroStack`, the
 * frame's `stackDepth` bytes (rounded up to 8) below rbp are zeroed by a loop on r11 (a
 * scratch register: R1-R5, the arguments, are untouched).
 */
export function emitPrologue(ctx: JitContext, sp: SubprogInfo, stackDepth: number, main: boolean, zeroStack = false): void {
  const b = ctx.buf;
  const cpu = main ? ctx.env.cpu : undefined;
  if (main) nop5(b);
  push(b, 'rbp');
  mov(b, 'rbp', 'rsp');
  const size = frameSize(stackDepth, sp.calleeSaved.length + (cpu === undefined ? 0 : 1));
  if (size > 0) alu(b, 'sub', 'rsp', size);
  const zeroed = Math.ceil(stackDepth / 8) * 8;
  if (zeroStack && zeroed > 0) {
    mov(b, 'r11', 'rbp');
    alu(b, 'sub', 'r11', zeroed);
    const top = b.newLabel();
    b.bind(top);
    mov(b, qword('r11'), 0);
    alu(b, 'add', 'r11', 8);
    alu(b, 'cmp', 'r11', 'rbp');
    jcc(b, 'ne', top, 'short');
  }
  for (const r of sp.calleeSaved) push(b, bpfReg64(r));
  if (cpu !== undefined) {
    // r12 = the CPU index for helpers and per-CPU maps (the runtime ABI), below the CPU count
    push(b, 'r12');
    if (cpu.kind === 'zero') alu(b, 'xor', 'r12d', 'r12d');
    else {
      const ok = b.newLabel();
      mov(b, 'r12d', dword('rdi', cpu.offset));
      alu(b, 'cmp', 'r12d', cpu.cpus);
      jcc(b, 'b', ok, 'short');
      alu(b, 'xor', 'r12d', 'r12d');
      b.bind(ok);
    }
  }
}

/** Emit a subprogram's epilogue: pop what the prologue pushed, `leave; ret`. */
export function emitEpilogue(ctx: JitContext, sp: SubprogInfo, main = false): void {
  const b = ctx.buf;
  if (main && ctx.env.cpu !== undefined) pop(b, 'r12');
  for (let k = sp.calleeSaved.length - 1; k >= 0; k--) pop(b, bpfReg64(sp.calleeSaved[k] as number));
  leave(b);
  ret(b);
}
