import { type CodeBuffer, assertCodeBuffer } from '../code-buffer.js';
import { type Imm, emitImm, emitModRm, emitSizePrefix, fitsInt32, imm64, immValue } from '../encoding.js';
import { describeValue } from '../describe.js';
import { OperandError } from '../errors.js';
import { type Mem, isMem, memWidth } from '../memory.js';
import { type RM, commonWidth, describe, isRex8, rmInfo } from '../operands.js';
import { type Gp, type Width, regInfo, regOfWidth } from '../registers.js';
import { type Condition, conditionCode } from './conditions.js';

/**
 * The encoding `mov` uses for an immediate into a 64-bit register: `'auto'` (the shortest:
 * C7 /0 id when the value is a sign-extended imm32, else the 10-byte imm64) or `'imm64'`
 * (always REX.W B8+r io, a fixed 10 bytes, e.g. for code patched later).
 */
export type MovForm = 'auto' | 'imm64';

/**
 * `mov dst, src`, choosing the form from the operands (Intel SDM: MOV):
 * - `reg, reg` / `mem, reg`: 89 /r (88 for bytes); `reg, mem` (a load): 8B /r (8A);
 * - `reg32, imm32`: B8+rd id (zero-extends to 64 bits); `reg16, imm16`; `reg8, imm8`;
 * - `reg64, imm`: C7 /0 id (sign-extended imm32) when it fits, else REX.W B8+r io (imm64);
 *   `form` `'imm64'` forces the 10-byte REX.W B8+r io (GNU `movabs`) whatever the value;
 * - `mem, imm`: C7 /0 id (C6 /0 ib for bytes; 64-bit stores sign-extend the imm32).
 * Every operand is checked before a byte is written: on any error the buffer is unchanged.
 * @throws ImmediateRangeError if an immediate does not fit the destination (or is not an
 *   integer: `mov rax, 1.5`, NaN, Infinity).
 * @throws OperandError for mismatched widths, memory-to-memory forms, a bad `form`, or
 *   `'imm64'` without a 64-bit register destination and an immediate source.
 */
export function mov(buf: CodeBuffer, dst: RM, src: RM | Imm, form: MovForm = 'auto'): void {
  assertCodeBuffer(buf, 'mov');
  if (form !== 'auto' && form !== 'imm64') throw new OperandError(`mov: form must be 'auto' or 'imm64', got ${describeValue(form)}`);
  if (form === 'imm64') {
    const { id } = regOfWidth(dst as string, 64, 'mov (imm64 form)');
    if (typeof src !== 'number' && typeof src !== 'bigint') throw new OperandError(`mov (imm64 form): expected an immediate (number or bigint), got ${describeValue(src)}`);
    emitMovabs(buf, id, imm64(src, 'mov'));
    return;
  }
  const d = rmInfo(dst, 'mov');
  if (typeof src === 'number' || typeof src === 'bigint') {
    movImm(buf, d, src);
    return;
  }
  const s = rmInfo(src, 'mov');
  const bits = commonWidth(d, s, 'mov');
  if (isMem(s) && isMem(d)) throw new OperandError(`mov: x86 has no memory-to-memory form (${describe(dst)}, ${describe(src)})`);
  emitSizePrefix(buf, bits);
  const byteOp = bits === 8 ? 0 : 1;
  if (!isMem(s)) emitModRm(buf, bits === 64, 0x88 | byteOp, s.id, d, isRex8(s, bits) || isRex8(d, bits));
  else emitModRm(buf, bits === 64, 0x8a | byteOp, (d as { id: number }).id, s, isRex8(d, bits));
}

function movImm(buf: CodeBuffer, d: ReturnType<typeof rmInfo>, imm: Imm): void {
  if (isMem(d)) {
    const bits = memWidth(d, 0, 'mov');
    const immBits = bits === 64 ? 32 : bits;
    const v = immValue(imm, immBits, 'mov', bits !== 64);
    emitSizePrefix(buf, bits);
    emitModRm(buf, bits === 64, bits === 8 ? 0xc6 : 0xc7, 0, d);
    emitImm(buf, v, immBits);
    return;
  }
  const { id, bits } = d;
  if (bits === 64) {
    const value = imm64(imm, 'mov');
    if (!fitsInt32(value)) {
      emitMovabs(buf, id, value);
      return;
    }
    const v = Number(value);
    emitModRm(buf, true, 0xc7, 0, d);
    emitImm(buf, v, 32);
    return;
  }
  const v = immValue(imm, bits, 'mov', true);
  emitSizePrefix(buf, bits);
  if (id >= 8 || (bits === 8 && id >= 4)) buf.u8(0x40 | (id >> 3));
  buf.u8((bits === 8 ? 0xb0 : 0xb8) | (id & 7));
  emitImm(buf, v, bits);
}

function emitMovabs(buf: CodeBuffer, id: number, value: bigint): void {
  buf.u8x2(0x48 | (id >> 3), 0xb8 | (id & 7));
  buf.u64(value);
}

/**
 * `movzx dst, src`: zero-extend a byte or word (0F B6 /r, 0F B7 /r; REX.W for a 64-bit destination).
 * @throws OperandError unless dst is 16/32/64-bit and src an 8/16-bit register or byte/word memory.
 */
export function movzx(buf: CodeBuffer, dst: Gp, src: RM): void {
  assertCodeBuffer(buf, 'movzx');
  const d = regInfo(dst);
  const s = rmInfo(src, 'movzx');
  const srcBits = isMem(s) ? memWidth(s, 0, 'movzx') : s.bits;
  if (d.bits === 8 || srcBits >= d.bits || srcBits > 16) {
    throw new OperandError(`movzx: cannot zero-extend ${srcBits} bits into ${dst}`);
  }
  emitSizePrefix(buf, d.bits);
  emitModRm(buf, d.bits === 64, srcBits === 8 ? 0x0fb6 : 0x0fb7, d.id, s, isRex8(s, srcBits));
}

/**
 * `lea dst, [base + disp]` (8D /r).
 * @throws OperandError if dst is not a 16/32/64-bit register or src not a memory operand.
 */
export function lea(buf: CodeBuffer, dst: Gp, src: Mem): void {
  assertCodeBuffer(buf, 'lea');
  const d = regInfo(dst);
  if (!isMem(src)) throw new OperandError('lea: the source must be a memory operand');
  if (d.bits === 8) throw new OperandError('lea: the destination cannot be a byte register');
  emitSizePrefix(buf, d.bits);
  emitModRm(buf, d.bits === 64, 0x8d, d.id, src);
}

/**
 * `xchg [mem], reg` (87 /r; 86 for bytes). Implicitly locked by the CPU: an atomic swap.
 * @throws OperandError for mismatched widths.
 */
export function xchg(buf: CodeBuffer, dst: Mem, src: Gp): void {
  assertCodeBuffer(buf, 'xchg');
  if (!isMem(dst)) throw new OperandError('xchg: the first operand must be a memory operand');
  const s = regInfo(src);
  const bits = commonWidth(dst, s, 'xchg');
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0x86 : 0x87, s.id, dst, isRex8(s, bits));
}

/**
 * `lock xadd [mem], reg` (F0 0F C1 /r; 0F C0 for bytes): atomically add `reg` to memory and
 * return the old value in `reg`.
 * @throws OperandError for mismatched widths.
 */
export function lockXadd(buf: CodeBuffer, dst: Mem, src: Gp): void {
  assertCodeBuffer(buf, 'lockXadd');
  if (!isMem(dst)) throw new OperandError('lock xadd: the first operand must be a memory operand');
  const s = regInfo(src);
  const bits = commonWidth(dst, s, 'lock xadd');
  buf.u8(0xf0);
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, bits === 8 ? 0x0fc0 : 0x0fc1, s.id, dst, isRex8(s, bits));
}

/**
 * `cmovcc dst, src` (0F 40+cc /r): move if the condition holds.
 * @throws OperandError for byte operands or mismatched widths.
 */
export function cmovcc(buf: CodeBuffer, cond: Condition, dst: Gp, src: RM): void {
  assertCodeBuffer(buf, 'cmovcc');
  const cc = conditionCode(cond);
  const d = regInfo(dst);
  const s = rmInfo(src, 'cmovcc');
  const bits: Width = commonWidth(d, s, 'cmovcc');
  if (bits === 8) throw new OperandError('cmovcc: byte operands are not encodable');
  emitSizePrefix(buf, bits);
  emitModRm(buf, bits === 64, 0x0f40 | cc, d.id, s);
}

/**
 * `setcc r/m8` (0F 90+cc /0): set a byte to 1 if the condition holds, else 0.
 * @throws OperandError unless the operand is a byte register or byte memory.
 */
export function setcc(buf: CodeBuffer, cond: Condition, dst: RM): void {
  assertCodeBuffer(buf, 'setcc');
  const cc = conditionCode(cond);
  const d = rmInfo(dst, 'setcc');
  const bits = isMem(d) ? memWidth(d, 8, 'setcc') : d.bits;
  if (bits !== 8) throw new OperandError(`setcc: needs a byte operand, got ${describe(dst)}`);
  emitModRm(buf, false, 0x0f90 | cc, 0, d, isRex8(d, 8));
}
