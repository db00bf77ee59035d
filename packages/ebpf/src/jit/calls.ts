/**
 * Calls and exit: a helper call is a direct `call rel32` to the helper's address (the
 * kernel's `__bpf_call_base + imm`), with R1..R5 already in rdi, rsi, rdx, rcx, r8 and the
 * result in rax; a BPF-to-BPF call is `call rel32` to the callee subprogram's entry, which
 * sets up its own frame; `exit` jumps to the subprogram's epilogue (or falls into it).
 */
import { call } from '@bpf-dispatcher/x86';
import type { Insn } from '../insn.js';
import { BPF_PSEUDO_CALL } from '../insn.js';
import type { JitContext } from './context.js';
import { JitError } from './errors.js';

/** Emit `call` at slot `i`. @throws JitError for a helper id with no address in the options. */
export function emitCall(ctx: JitContext, x: Insn, i: number): void {
  if (x.src === BPF_PSEUDO_CALL.LOCAL) {
    const k = ctx.analysis.subprogs.findIndex((sp) => sp.start === i + 1 + x.imm);
    call(ctx.buf, ctx.entries[k] as NonNullable<(typeof ctx.entries)[number]>);
    return;
  }
  const target = ctx.helpers.get(x.imm);
  if (target === undefined) throw new JitError(i, `helper ${x.imm} has no address (pass it in options.helpers)`);
  ctx.helperCall(x.imm, target, i);
}

/** Emit `exit` at slot `i`: nothing if it is the subprogram's last instruction (the epilogue follows), else a jump to the epilogue. */
export function emitExit(ctx: JitContext, i: number): void {
  const sp = ctx.subprog;
  const epilogue = ctx.epilogue;
  if (sp === undefined || epilogue === undefined) throw new JitError(i, 'exit outside a subprogram');
  if (i === sp.end - 1) return;
  ctx.jumpTo(null, epilogue, sp.end);
}
