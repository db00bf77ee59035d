import { type CodeBuffer, assertCodeBuffer } from '../code-buffer.js';
import { NOP5 } from '../nops.js';
import { type Gp64, regOfWidth } from '../registers.js';

/** `int3` (CC): breakpoint trap; pads and guards JIT images. */
export function int3(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'int3');
  buf.u8(0xcc);
}
/** `pause` (F3 90): spin-wait hint; part of the retpoline's speculation trap. */
export function pause(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'pause');
  buf.u8x2(0xf3, 0x90);
}
/** `lfence` (0F AE E8): load fence, stops speculation in the retpoline's trap. */
export function lfence(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'lfence');
  buf.raw([0x0f, 0xae, 0xe8]);
}
/** `mfence` (0F AE F0): full memory fence. */
export function mfence(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'mfence');
  buf.raw([0x0f, 0xae, 0xf0]);
}
/** `rdtsc` (0F 31): time-stamp counter into edx:eax. */
export function rdtsc(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'rdtsc');
  buf.u8x2(0x0f, 0x31);
}
/** `rdtscp` (0F 01 F9): time-stamp counter into edx:eax and TSC_AUX into ecx, after earlier instructions. */
export function rdtscp(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'rdtscp');
  buf.raw([0x0f, 0x01, 0xf9]);
}
/** The 5-byte nop `0F 1F 44 00 00`: the patchable `__fentry__` site at a trampoline's entry. */
export function nop5(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'nop5');
  buf.raw(NOP5);
}

/** `leave` (C9): `mov rsp, rbp; pop rbp` in one byte, the kernel JIT's frame teardown. */
export function leave(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'leave');
  buf.u8(0xc9);
}

/** `push reg64` (50+r, REX.B for r8..r15). @throws OperandError unless a 64-bit register. */
export function push(buf: CodeBuffer, reg: Gp64): void {
  assertCodeBuffer(buf, 'push');
  const { id } = regOfWidth(reg, 64, 'push');
  if (id >= 8) buf.u8(0x41);
  buf.u8(0x50 | (id & 7));
}

/** `pop reg64` (58+r, REX.B for r8..r15). @throws OperandError unless a 64-bit register. */
export function pop(buf: CodeBuffer, reg: Gp64): void {
  assertCodeBuffer(buf, 'pop');
  const { id } = regOfWidth(reg, 64, 'pop');
  if (id >= 8) buf.u8(0x41);
  buf.u8(0x58 | (id & 7));
}
