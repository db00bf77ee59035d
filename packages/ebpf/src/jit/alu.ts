/**
 * ALU and ALU64 instructions (RFC 9669 section 4), as the kernel's `do_jit()` translates
 * them: 32-bit operations use the 32-bit x86 forms, which zero-extend; immediates are
 * sign-extended to 64 bits for ALU64. Division and modulo test the divisor: eBPF defines
 * `x / 0 = 0` and `x % 0 = x`, and signed `INT_MIN / -1 = INT_MIN`, `INT_MIN % -1 = 0`
 * (the kernel verifier patches the same checks in before its JIT runs). Shifts by a register
 * go through `cl`, saving rcx (R4) with push/pop as the kernel does without BMI2.
 */
import {
  type AluOp,
  bswap,
  cdq,
  cqo,
  div,
  type Gp,
  idiv,
  imul,
  jcc,
  jmp,
  mov,
  movsx,
  movzx,
  neg,
  pop,
  push,
  type ShiftOp,
  shift,
  shiftCl,
  test,
  alu as x86alu,
} from '@bpf-dispatcher/x86';
import { BPF_ALU_OP, BPF_CLASS, BPF_SRC, type Insn } from '../insn.js';
import type { JitContext } from './context.js';
import { AUX, type Bits, bpfReg, bpfReg64, view } from './registers.js';

/** x86 ALU operation by `op >> 4` (add, sub, or, and, xor), else undefined. */
const SIMPLE: readonly (AluOp | undefined)[] = (() => {
  const t: (AluOp | undefined)[] = new Array(16).fill(undefined);
  t[BPF_ALU_OP.ADD >> 4] = 'add';
  t[BPF_ALU_OP.SUB >> 4] = 'sub';
  t[BPF_ALU_OP.OR >> 4] = 'or';
  t[BPF_ALU_OP.AND >> 4] = 'and';
  t[BPF_ALU_OP.XOR >> 4] = 'xor';
  return Object.freeze(t);
})();

/** x86 shift by `op >> 4` (lsh, rsh, arsh), else undefined. */
const SHIFTS: readonly (ShiftOp | undefined)[] = (() => {
  const t: (ShiftOp | undefined)[] = new Array(16).fill(undefined);
  t[BPF_ALU_OP.LSH >> 4] = 'shl';
  t[BPF_ALU_OP.RSH >> 4] = 'shr';
  t[BPF_ALU_OP.ARSH >> 4] = 'sar';
  return Object.freeze(t);
})();

/** `dst = imm` at a width: the shortest exact form (`mov r32, imm32` zero-extends). */
export function movImm(ctx: JitContext, dst: number, imm: number, bits: 32 | 64): void {
  const b = ctx.buf;
  if (bits === 64 && imm < 0) mov(b, bpfReg(dst, 64), imm);
  else if (imm === 0) x86alu(b, 'xor', bpfReg(dst, 32), bpfReg(dst, 32));
  else mov(b, bpfReg(dst, 32), imm);
}

/** Emit one ALU/ALU64 instruction (already checked by `analyze`). */
export function emitAlu(ctx: JitContext, x: Insn): void {
  const b = ctx.buf;
  const bits: 32 | 64 = (x.code & 0x07) === BPF_CLASS.ALU64 ? 64 : 32;
  const op = x.code & 0xf0;
  const isX = (x.code & BPF_SRC.X) !== 0;
  const dst = bpfReg(x.dst, bits);
  const simple = SIMPLE[op >> 4];
  if (simple !== undefined) {
    if (isX) x86alu(b, simple, dst, bpfReg(x.src, bits));
    else x86alu(b, simple, dst, x.imm);
    return;
  }
  const shiftOp = SHIFTS[op >> 4];
  if (shiftOp !== undefined) {
    if (isX) emitShiftX(ctx, shiftOp, x.dst, x.src, bits);
    else {
      const count = x.imm & (bits - 1);
      // A 32-bit shift by 0 still has to zero-extend; mov r32, r32 does.
      if (count === 0) {
        if (bits === 32) mov(b, dst, dst);
      } else shift(b, shiftOp, dst, count);
    }
    return;
  }
  switch (op) {
    case BPF_ALU_OP.MOV:
      if (!isX) movImm(ctx, x.dst, x.imm, bits);
      else if (x.off !== 0) movsx(b, dst, bpfReg(x.src, x.off as Bits));
      else if (bits === 32 || x.dst !== x.src) mov(b, dst, bpfReg(x.src, bits));
      return;
    case BPF_ALU_OP.MUL:
      if (isX) imul(b, dst, bpfReg(x.src, bits));
      else imul(b, dst, dst, x.imm);
      return;
    case BPF_ALU_OP.NEG:
      neg(b, dst);
      return;
    case BPF_ALU_OP.DIV:
    case BPF_ALU_OP.MOD:
      emitDivMod(ctx, x, bits, op === BPF_ALU_OP.MOD, x.off === 1, isX);
      return;
    default:
      emitEndian(ctx, x, bits);
  }
}

/**
 * Shift `dst` by the count in eBPF register `src` (the CPU masks it like eBPF does). A 32-bit
 * shift writes its register even for a count of 0, so the result is zero-extended (the
 * kernel relies on this too; the tests check it natively).
 */
function emitShiftX(ctx: JitContext, op: ShiftOp, dst: number, src: number, bits: 32 | 64): void {
  const b = ctx.buf;
  if (src === 4) {
    shiftCl(b, op, bpfReg(dst, bits));
    return;
  }
  if (dst === 4) {
    // R4 is rcx itself: shift a copy, then put it back (the kernel's non-BMI2 sequence).
    mov(b, AUX, 'rcx');
    mov(b, 'rcx', bpfReg64(src));
    shiftCl(b, op, view(AUX, bits));
    mov(b, 'rcx', AUX);
  } else {
    // push/pop (1 byte each) keep R4 as the kernel does without BMI2; nothing between them calls.
    push(b, 'rcx');
    mov(b, 'rcx', bpfReg64(src));
    shiftCl(b, op, bpfReg(dst, bits));
    pop(b, 'rcx');
  }
}

/** What `dst / 0` and `dst % 0` leave: 0, or the dividend (zero-extended at 32 bits). */
function emitDivByZero(ctx: JitContext, dst: number, isMod: boolean, bits: 32 | 64): void {
  const d32 = bpfReg(dst, 32);
  if (!isMod) x86alu(ctx.buf, 'xor', d32, d32);
  else if (bits === 32) mov(ctx.buf, d32, d32);
}

/** What signed `dst / -1` and `dst % -1` give: `-dst` (wrapping: INT_MIN stays INT_MIN), 0. */
function emitDivByMinusOne(ctx: JitContext, dst: number, isMod: boolean, bits: 32 | 64): void {
  if (isMod) x86alu(ctx.buf, 'xor', bpfReg(dst, 32), bpfReg(dst, 32));
  else neg(ctx.buf, bpfReg(dst, bits));
}

/**
 * Division and modulo in the kernel's shape: the divisor is tested where it lies (copied to
 * r11 only if it is rax or rdx, which the division clobbers; an immediate goes to r11), the
 * special cases branch over the division with short jumps, and rax/rdx are saved with
 * push/pop around `div`/`idiv` only when they are not the destination.
 */
function emitDivMod(ctx: JitContext, x: Insn, bits: 32 | 64, isMod: boolean, signed: boolean, isX: boolean): void {
  const b = ctx.buf;
  const done = b.newLabel();
  let usedDone = false;
  let divisor: Gp;
  if (!isX) {
    if (x.imm === 0) {
      emitDivByZero(ctx, x.dst, isMod, bits);
      return;
    }
    if (signed && x.imm === -1) {
      emitDivByMinusOne(ctx, x.dst, isMod, bits);
      return;
    }
    divisor = view(AUX, bits);
    if (bits === 64) mov(b, AUX, x.imm);
    else mov(b, divisor, x.imm);
  } else {
    divisor = x.src === 0 || x.src === 3 ? view(AUX, bits) : bpfReg(x.src, bits);
    if (x.src === 0 || x.src === 3) mov(b, divisor, bpfReg(x.src, bits));
    test(b, divisor, divisor);
    usedDone = true;
    if (isMod && bits === 64)
      jcc(b, 'e', done, 'short'); // x % 0 = x: nothing to do
    else {
      const nonzero = b.newLabel();
      jcc(b, 'ne', nonzero, 'short');
      emitDivByZero(ctx, x.dst, isMod, bits);
      jmp(b, done, 'short');
      b.bind(nonzero);
    }
    if (signed) {
      const normal = b.newLabel();
      x86alu(b, 'cmp', divisor, -1);
      jcc(b, 'ne', normal, 'short');
      emitDivByMinusOne(ctx, x.dst, isMod, bits);
      jmp(b, done, 'short');
      b.bind(normal);
    }
  }
  const d = bpfReg64(x.dst);
  if (d !== 'rax') push(b, 'rax');
  if (d !== 'rdx') push(b, 'rdx');
  if (d !== 'rax') mov(b, view('rax', bits), bpfReg(x.dst, bits));
  if (signed) {
    if (bits === 64) cqo(b);
    else cdq(b);
    idiv(b, divisor);
  } else {
    x86alu(b, 'xor', 'edx', 'edx');
    div(b, divisor);
  }
  const result = isMod ? 'rdx' : 'rax';
  if (d !== result) mov(b, bpfReg(x.dst, bits), view(result, bits));
  if (d !== 'rdx') pop(b, 'rdx');
  if (d !== 'rax') pop(b, 'rax');
  if (usedDone) b.bind(done);
}

/** `le16/32/64`, `be16/32/64` (class ALU) and `bswap16/32/64` (class ALU64); results zero-extended. */
function emitEndian(ctx: JitContext, x: Insn, bits: 32 | 64): void {
  const b = ctx.buf;
  const toBig = bits === 64 || (x.code & BPF_SRC.X) !== 0;
  const r = x.dst;
  if (!toBig) {
    if (x.imm === 16) movzx(b, bpfReg(r, 32), bpfReg(r, 16));
    else if (x.imm === 32) mov(b, bpfReg(r, 32), bpfReg(r, 32));
    return;
  }
  if (x.imm === 16) {
    shift(b, 'ror', bpfReg(r, 16), 8);
    movzx(b, bpfReg(r, 32), bpfReg(r, 16));
  } else bswap(b, bpfReg(r, x.imm === 32 ? 32 : 64));
}
