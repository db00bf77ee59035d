/**
 * Loads and stores (RFC 9669 section 5): `LDX MEM` zero-extends (movzx, or a 32-bit mov),
 * `LDX MEMSX` sign-extends to 64 bits (movsx/movsxd), `ST` stores the immediate (a double
 * word sign-extends it), `STX` stores a register; addresses are `[reg + off]` with the
 * x86 register of the eBPF base (R10 = rbp, the frame). `lddw` loads a 64-bit immediate.
 */
import { byte, dword, type Mem, mov, movsx, movzx, qword, word } from '@bpf-dispatcher/x86';
import { BPF_MODE, BPF_SIZE, type Insn } from '../insn.js';
import { movImm } from './alu.js';
import type { JitContext } from './context.js';
import { JitError } from './errors.js';
import { type Bits, bpfReg, bpfReg64 } from './registers.js';

/** Access width in bits of a load/store opcode's size field. */
export function sizeBits(code: number): Bits {
  switch (code & 0x18) {
    case BPF_SIZE.B:
      return 8;
    case BPF_SIZE.H:
      return 16;
    case BPF_SIZE.W:
      return 32;
    default:
      return 64;
  }
}

/** The memory operand `size PTR [x86(base) + off]`. */
export function memOperand(base: number, off: number, bits: Bits): Mem {
  const reg = bpfReg64(base);
  return bits === 64 ? qword(reg, off) : bits === 32 ? dword(reg, off) : bits === 16 ? word(reg, off) : byte(reg, off);
}

/**
 * `LDX`: `dst = *(size *)(src + off)`, zero- or (MEMSX) sign-extended. A load of a context
 * field the runtime keeps elsewhere is rewritten onto its layout (the kernel's
 * `convert_ctx_access`: `xdp_md.data` is the buffer's 64-bit `data` pointer).
 */
export function emitLoad(ctx: JitContext, x: Insn, i: number): void {
  const field = ctx.env.ctxFields.get(i);
  if (field !== undefined) {
    const base = bpfReg64(x.src);
    if (field.size === 8) mov(ctx.buf, bpfReg(x.dst, 64), qword(base, field.offset));
    else mov(ctx.buf, bpfReg(x.dst, 32), dword(base, field.offset));
    return;
  }
  const bits = sizeBits(x.code);
  const m = memOperand(x.src, x.off, bits);
  if ((x.code & 0xe0) === BPF_MODE.MEMSX) movsx(ctx.buf, bpfReg(x.dst, 64), m);
  else if (bits === 64) mov(ctx.buf, bpfReg(x.dst, 64), m);
  else if (bits === 32) mov(ctx.buf, bpfReg(x.dst, 32), m);
  else movzx(ctx.buf, bpfReg(x.dst, 32), m);
}

/** `ST`: `*(size *)(dst + off) = imm` (truncated to the size; a double word sign-extends). */
export function emitStoreImm(ctx: JitContext, x: Insn): void {
  const bits = sizeBits(x.code);
  const imm = bits === 8 ? x.imm & 0xff : bits === 16 ? x.imm & 0xffff : x.imm;
  mov(ctx.buf, memOperand(x.dst, x.off, bits), imm);
}

/** `STX MEM`: `*(size *)(dst + off) = src`. */
export function emitStoreReg(ctx: JitContext, x: Insn): void {
  const bits = sizeBits(x.code);
  mov(ctx.buf, memOperand(x.dst, x.off, bits), bpfReg(x.src, bits));
}

/**
 * `lddw dst, imm64` from the two slots at `i`; with pseudo source 1 the address of map
 * `imm` (BPF_PSEUDO_MAP_FD), with pseudo source 2 the address of its value plus the
 * second slot's offset (BPF_PSEUDO_MAP_VALUE): the relocation libbpf and the kernel do.
 */
export function emitLddw(ctx: JitContext, x: Insn, next: Insn, i: number): void {
  if (x.src === 1 || x.src === 2) {
    const map = ctx.env.maps.get(x.imm);
    if (map === undefined) throw new JitError(i, `lddw refers to map fd ${x.imm}, which the JIT was not given`);
    let address = map.address;
    if (x.src === 2) {
      if (map.directValue === undefined) throw new JitError(i, `map fd ${x.imm} has no direct value address`);
      address = map.directValue + BigInt(next.imm >>> 0);
    }
    mov(ctx.buf, bpfReg(x.dst, 64), BigInt.asIntN(64, address));
    return;
  }
  const value = BigInt.asIntN(64, (BigInt(next.imm >>> 0) << 32n) | BigInt(x.imm >>> 0));
  if (value >= -0x8000_0000n && value <= 0xffff_ffffn) movImm64Small(ctx, x.dst, value);
  else mov(ctx.buf, bpfReg(x.dst, 64), value);
}

function movImm64Small(ctx: JitContext, dst: number, value: bigint): void {
  if (value < 0n) movImm(ctx, dst, Number(value), 64);
  else if (value === 0n) movImm(ctx, dst, 0, 32);
  else mov(ctx.buf, bpfReg(dst, 32), Number(value));
}
