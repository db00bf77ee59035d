import { assertCodeBuffer, type CodeBuffer } from '../code-buffer.js';
import { emitModRm, emitSizePrefix } from '../encoding.js';
import { OperandError } from '../errors.js';
import { isMem, memWidth } from '../memory.js';
import { isRex8, type RM, rmInfo } from '../operands.js';
import { type Gp, regInfo } from '../registers.js';

/**
 * `movsx dst, src`: sign-extend a byte, word or doubleword (MOVSX r, r/m8: 0F BE /r;
 * MOVSX r, r/m16: 0F BF /r; MOVSXD r64, r/m32: REX.W 63 /r). REX.W for a 64-bit destination.
 * The forms of eBPF's `movsx` (ALU/ALU64 `mov` with `off` 8/16/32) and sign-extending loads.
 * @throws OperandError unless the source is narrower than the destination (and at most 32
 *   bits, a 32-bit source only into a 64-bit destination), or for a byte destination.
 */
export function movsx(buf: CodeBuffer, dst: Gp, src: RM): void {
  assertCodeBuffer(buf, 'movsx');
  const d = regInfo(dst);
  const s = rmInfo(src, 'movsx');
  const srcBits = isMem(s) ? memWidth(s, 0, 'movsx') : s.bits;
  if (d.bits === 8 || srcBits >= d.bits || (srcBits === 32 && d.bits !== 64)) {
    throw new OperandError(`movsx: cannot sign-extend ${srcBits} bits into ${dst}`);
  }
  if (srcBits === 32) {
    emitModRm(buf, true, 0x63, d.id, s);
    return;
  }
  emitSizePrefix(buf, d.bits);
  emitModRm(buf, d.bits === 64, srcBits === 8 ? 0x0fbe : 0x0fbf, d.id, s, isRex8(s, srcBits));
}

/**
 * `bswap reg` (BSWAP: 0F C8+rd; REX.W for 64 bits): reverse the byte order of a 32- or 64-bit
 * register (the 32-bit form zero-extends). eBPF's `be32`/`be64`/`bswap` on little-endian x86.
 * @throws OperandError for a 16- or 8-bit register (BSWAP of a 16-bit register is undefined;
 *   use `ror r16, 8`).
 */
export function bswap(buf: CodeBuffer, reg: Gp): void {
  assertCodeBuffer(buf, 'bswap');
  const r = regInfo(reg);
  if (r.bits !== 32 && r.bits !== 64) throw new OperandError(`bswap: needs a 32- or 64-bit register, got ${reg}`);
  const rex = (r.bits === 64 ? 8 : 0) | (r.id >> 3);
  if (rex !== 0) buf.u8(0x40 | rex);
  buf.u8x2(0x0f, 0xc8 | (r.id & 7));
}
