import type { CodeBuffer } from '../code-buffer.js';
import { NOP5 } from '../nops.js';
import { type Gp64, regOfWidth } from '../registers.js';

/** `int3` (CC): breakpoint trap; pads and guards JIT images. */
export const int3 = (buf: CodeBuffer): void => void buf.u8(0xcc);
/** `pause` (F3 90): spin-wait hint; part of the retpoline's speculation trap. */
export const pause = (buf: CodeBuffer): void => void buf.u8x2(0xf3, 0x90);
/** `lfence` (0F AE E8): load fence, stops speculation in the retpoline's trap. */
export const lfence = (buf: CodeBuffer): void => void buf.raw([0x0f, 0xae, 0xe8]);
/** `mfence` (0F AE F0): full memory fence. */
export const mfence = (buf: CodeBuffer): void => void buf.raw([0x0f, 0xae, 0xf0]);
/** `rdtsc` (0F 31): time-stamp counter into edx:eax. */
export const rdtsc = (buf: CodeBuffer): void => void buf.u8x2(0x0f, 0x31);
/** `rdtscp` (0F 01 F9): time-stamp counter into edx:eax and TSC_AUX into ecx, after earlier instructions. */
export const rdtscp = (buf: CodeBuffer): void => void buf.raw([0x0f, 0x01, 0xf9]);
/** The 5-byte nop `0F 1F 44 00 00`: the patchable `__fentry__` site at a trampoline's entry. */
export const nop5 = (buf: CodeBuffer): void => void buf.raw(NOP5);

/** `push reg64` (50+r, REX.B for r8..r15). @throws OperandError unless a 64-bit register. */
export function push(buf: CodeBuffer, reg: Gp64): void {
  const { id } = regOfWidth(reg, 64, 'push');
  if (id >= 8) buf.u8(0x41);
  buf.u8(0x50 | (id & 7));
}

/** `pop reg64` (58+r, REX.B for r8..r15). @throws OperandError unless a 64-bit register. */
export function pop(buf: CodeBuffer, reg: Gp64): void {
  const { id } = regOfWidth(reg, 64, 'pop');
  if (id >= 8) buf.u8(0x41);
  buf.u8(0x58 | (id & 7));
}
