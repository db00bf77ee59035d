/**
 * The kernel x86-64 JIT's register map (arch/x86/net/bpf_jit_comp.c, `reg2hex`):
 * eBPF R0..R10 onto x86-64 registers so that R1..R5 are already the System V argument
 * registers of a helper call, R0 is its return register, R6..R9 are callee-saved across it
 * and R10 is the frame pointer.
 */
import { GP8, GP16, GP32, GP64, type Gp, type Gp64 } from '@bpf-dispatcher/x86';

/** x86-64 register of each eBPF register, R0..R10. */
export const BPF_TO_X86: readonly Gp64[] = Object.freeze([
  'rax', // R0: return value
  'rdi', // R1: argument 1 / context
  'rsi', // R2
  'rdx', // R3
  'rcx', // R4
  'r8', // R5
  'rbx', // R6: callee-saved
  'r13', // R7
  'r14', // R8
  'r15', // R9
  'rbp', // R10: read-only frame pointer
] as const);

/** eBPF registers whose x86 registers are callee-saved and must be pushed if a frame uses them (R6..R9). */
export const CALLEE_SAVED_BPF_REGS: readonly number[] = Object.freeze([6, 7, 8, 9]);

/** Scratch registers the translation of one instruction may clobber (caller-saved, unmapped). */
export const AUX = 'r11' as const;
/** A second scratch register (holds R0 across an atomic loop). */
export const AUX2 = 'r10' as const;

/** Operand width of an eBPF operation or access. */
export type Bits = 8 | 16 | 32 | 64;

const ID: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(GP64.map((name, id) => [name, id])));
const VIEWS: Readonly<Record<number, readonly Gp[]>> = Object.freeze({ 8: GP8, 16: GP16, 32: GP32, 64: GP64 });
const BPF8: readonly Gp[] = BPF_TO_X86.map((r) => GP8[ID[r] as number] as Gp);
const BPF16: readonly Gp[] = BPF_TO_X86.map((r) => GP16[ID[r] as number] as Gp);
const BPF32: readonly Gp[] = BPF_TO_X86.map((r) => GP32[ID[r] as number] as Gp);

/** The view of a 64-bit x86 register at a width (`'rdi'`, 32 → `'edi'`). */
export function view(reg: Gp64, bits: Bits): Gp {
  return (VIEWS[bits] as readonly Gp[])[ID[reg] as number] as Gp;
}

/** The x86 register of eBPF register `r` at a width. */
export function bpfReg(r: number, bits: Bits = 64): Gp {
  return (bits === 64 ? BPF_TO_X86[r] : bits === 32 ? BPF32[r] : bits === 16 ? BPF16[r] : BPF8[r]) as Gp;
}

/** The 64-bit x86 register of eBPF register `r`. */
export function bpfReg64(r: number): Gp64 {
  return BPF_TO_X86[r] as Gp64;
}
