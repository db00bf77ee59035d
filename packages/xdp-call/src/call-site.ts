import { type CodeBuffer, type Gp64, alu, call, inc, isAddress, mov, qword } from '@bpf-dispatcher/x86';
import { emitReadTsc } from './clock.js';
import { XdpError } from './errors.js';
import { BPF_PROG } from './layout.js';
import { assertCodeBuffer, describe } from './validate.js';

/** Registers preserved across calls (System V): where a call site keeps its operands. */
export const CALLEE_SAVED: readonly Gp64[] = Object.freeze(['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15']);

/** Registers of an {@link emitXdpCallRun} site. */
export interface XdpCallSiteRegs {
  /** Holds `ctx` (the xdp_buff). Callee-saved; preserved. */
  readonly ctx: Gp64;
  /** Holds the `struct bpf_prog *`. Callee-saved; preserved. */
  readonly prog: Gp64;
  /** With stats: holds the start time-stamp. Callee-saved; clobbered. */
  readonly statsScratch?: Gp64;
}

/**
 * Emit the native `xdp_call_run(name, prog, ctx)` site: call the xdp_call's trampoline as
 * `tramp(ctx, prog->insnsi, prog->bpf_func)`; the verdict ends up in eax. With
 * `statsScratch`, also read the time-stamp counter before and after and add
 * `cnt += 1`, `ticks += elapsed` to the program's stats (the kernel's
 * `bpf_prog_run_xdp` with `bpf_stats_enabled`).
 *
 * Clobbers rax, rcx, rdx, rsi, rdi, r8–r11 (a call) and flags.
 * @throws XdpError EINVAL for a bad buffer or entry, or unless the operand registers are
 *   distinct callee-saved registers; the encoder's errors if the trampoline is out of reach.
 */
export function emitXdpCallRun(buf: CodeBuffer, trampolineEntry: bigint, regs: XdpCallSiteRegs): void {
  assertCodeBuffer(buf, 'emitXdpCallRun');
  if (!isAddress(trampolineEntry)) {
    throw new XdpError('EINVAL', `emitXdpCallRun: trampolineEntry must be an address, got ${describe(trampolineEntry)}`);
  }
  if (typeof regs !== 'object' || regs === null) throw new XdpError('EINVAL', `emitXdpCallRun: regs must be an object, got ${describe(regs)}`);
  const used = [regs.ctx, regs.prog, ...(regs.statsScratch === undefined ? [] : [regs.statsScratch])];
  for (const r of used) {
    if (!CALLEE_SAVED.includes(r)) throw new XdpError('EINVAL', `emitXdpCallRun: ${String(r)} is not callee-saved (use ${CALLEE_SAVED.join(', ')})`);
  }
  if (new Set(used).size !== used.length) throw new XdpError('EINVAL', 'emitXdpCallRun: the operand registers must be distinct');
  const stats = regs.statsScratch;
  if (stats !== undefined) {
    emitReadTsc(buf);
    mov(buf, stats, 'rax');
  }
  mov(buf, 'rdi', regs.ctx);
  mov(buf, 'rsi', qword(regs.prog, BPF_PROG.insnsi));
  mov(buf, 'rdx', qword(regs.prog, BPF_PROG.bpfFunc));
  call(buf, trampolineEntry);
  if (stats !== undefined) {
    mov(buf, 'edi', 'eax');
    emitReadTsc(buf);
    alu(buf, 'sub', 'rax', stats);
    alu(buf, 'add', qword(regs.prog, BPF_PROG.statsTicks), 'rax');
    inc(buf, qword(regs.prog, BPF_PROG.statsCnt));
    mov(buf, 'eax', 'edi');
  }
}
