/**
 * Jumps (RFC 9669 section 4.3): `cmp`/`test` then `jcc` to the target's label, 64-bit
 * operands for class JMP and 32-bit ones for JMP32, immediates sign-extended as eBPF
 * defines. `ja` takes `off`, `gotol` (JMP32 `ja`) takes `imm`. Backward jumps use the short
 * form when the target is within rel8 reach, forward jumps the near form.
 */
import { alu, type Condition, test } from '@bpf-dispatcher/x86';
import { BPF_CLASS, BPF_JMP_OP, BPF_SRC, type Insn } from '../insn.js';
import { jumpTarget } from './analyze.js';
import type { JitContext } from './context.js';
import { bpfReg } from './registers.js';

const CONDITIONS: Readonly<Record<number, Condition>> = {
  [BPF_JMP_OP.JEQ]: 'e',
  [BPF_JMP_OP.JNE]: 'ne',
  [BPF_JMP_OP.JGT]: 'a',
  [BPF_JMP_OP.JGE]: 'ae',
  [BPF_JMP_OP.JLT]: 'b',
  [BPF_JMP_OP.JLE]: 'be',
  [BPF_JMP_OP.JSGT]: 'g',
  [BPF_JMP_OP.JSGE]: 'ge',
  [BPF_JMP_OP.JSLT]: 'l',
  [BPF_JMP_OP.JSLE]: 'le',
  [BPF_JMP_OP.JSET]: 'ne',
};

/** Emit `ja`, `gotol` or a conditional jump at slot `i` (not call/exit). */
export function emitJump(ctx: JitContext, x: Insn, i: number): void {
  const b = ctx.buf;
  const op = x.code & 0xf0;
  const target = jumpTarget(x, i);
  if (op === BPF_JMP_OP.JA) {
    if (target !== i + 1) ctx.jumpTo(null, ctx.labelAt(target), target);
    return;
  }
  const decided = ctx.env.decidedBranches.get(i);
  if (decided === false) return; // never taken on any path: no code (the kernel hard-wires it too)
  if (decided === true) {
    if (target !== i + 1) ctx.jumpTo(null, ctx.labelAt(target), target);
    return;
  }
  const bits = (x.code & 0x07) === BPF_CLASS.JMP32 ? 32 : 64;
  const dst = bpfReg(x.dst, bits);
  const isX = (x.code & BPF_SRC.X) !== 0;
  if (op === BPF_JMP_OP.JSET) {
    if (isX) test(b, dst, bpfReg(x.src, bits));
    else test(b, dst, x.imm);
  } else if (isX) alu(b, 'cmp', dst, bpfReg(x.src, bits));
  else if (x.imm === 0 && (op === BPF_JMP_OP.JEQ || op === BPF_JMP_OP.JNE)) test(b, dst, dst);
  else alu(b, 'cmp', dst, x.imm);
  ctx.jumpTo(CONDITIONS[op] as Condition, ctx.labelAt(target), target);
}
