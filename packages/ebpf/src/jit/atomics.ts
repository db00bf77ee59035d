/**
 * Atomic operations (`STX | ATOMIC`, RFC 9669 section 5.3), 32 or 64 bits:
 * - add/or/and/xor without fetch: `lock add/or/and/xor [dst+off], src`;
 * - add with fetch: `lock xadd` (the old value lands in src);
 * - or/and/xor with fetch: a `lock cmpxchg` retry loop through rax, R0 kept in a scratch
 *   register meanwhile (the kernel's `emit_atomic_rmw` does the same);
 * - xchg: `xchg [dst+off], src` (implicitly locked);
 * - cmpxchg: `lock cmpxchg [dst+off], src` with R0 as the comparand, R0 = the old value
 *   (zero-extended for 32 bits: the CPU leaves rax's upper half alone on success).
 */
import { alu, dword, type LockAluOp, lockAlu, lockCmpxchg, lockXadd, mov, qword, xchg } from '@bpf-dispatcher/x86';
import { BPF_ATOMIC, BPF_SIZE, type Insn } from '../insn.js';
import type { JitContext } from './context.js';
import { memOperand } from './memory.js';
import { AUX, AUX2, BPF_TO_X86, bpfReg, bpfReg64, view } from './registers.js';

const OPS: Readonly<Record<number, LockAluOp>> = {
  [BPF_ATOMIC.ADD]: 'add',
  [BPF_ATOMIC.OR]: 'or',
  [BPF_ATOMIC.AND]: 'and',
  [BPF_ATOMIC.XOR]: 'xor',
};

/** Emit one atomic instruction (already checked by `analyze`). */
export function emitAtomic(ctx: JitContext, x: Insn): void {
  const b = ctx.buf;
  const bits = (x.code & 0x18) === BPF_SIZE.DW ? 64 : 32;
  const m = memOperand(x.dst, x.off, bits);
  const src = bpfReg(x.src, bits);
  if (x.imm === BPF_ATOMIC.XCHG) {
    xchg(b, m, src);
    return;
  }
  if (x.imm === BPF_ATOMIC.CMPXCHG) {
    lockCmpxchg(b, m, src);
    if (bits === 32) mov(b, 'eax', 'eax');
    return;
  }
  const op = OPS[x.imm & ~BPF_ATOMIC.FETCH] as LockAluOp;
  if ((x.imm & BPF_ATOMIC.FETCH) === 0) {
    lockAlu(b, op, m, src);
    return;
  }
  if (op === 'add') {
    lockXadd(b, m, src);
    return;
  }
  emitFetchLoop(ctx, x, op, bits);
}

function emitFetchLoop(ctx: JitContext, x: Insn, op: LockAluOp, bits: 32 | 64): void {
  const b = ctx.buf;
  // R0 lives in rax, which cmpxchg needs: keep it in AUX2, and read R0 operands from there.
  mov(b, AUX2, 'rax');
  const base = x.dst === 0 ? AUX2 : (BPF_TO_X86[x.dst] as typeof AUX2);
  const operand = view(x.src === 0 ? AUX2 : bpfReg64(x.src), bits);
  const m = bits === 64 ? qword(base, x.off) : dword(base, x.off);
  const rax = view('rax', bits);
  const aux = view(AUX, bits);
  mov(b, rax, m);
  const retry = b.newLabel();
  b.bind(retry);
  mov(b, aux, rax);
  alu(b, op as 'or' | 'and' | 'xor', aux, operand);
  lockCmpxchg(b, m, aux);
  ctx.jumpTo('ne', retry);
  // The old value goes to src (zero-extended at 32 bits); R0 comes back unless src is R0.
  mov(b, bpfReg(x.src, bits), rax);
  if (x.src !== 0) mov(b, 'rax', AUX2);
}
