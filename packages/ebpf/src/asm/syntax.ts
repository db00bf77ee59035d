/**
 * Shared pieces of the uBPF / bpf_conformance assembly syntax: mnemonic tables and
 * number formatting used by both the assembler and the disassembler.
 */
import type { AluOperation, JmpCondition } from '../program.js';

/** Two-operand ALU mnemonics (without the `32`/`64` width suffix). */
export const ALU_MNEMONICS: ReadonlySet<AluOperation> = new Set<AluOperation>([
  'add',
  'sub',
  'mul',
  'div',
  'sdiv',
  'or',
  'and',
  'lsh',
  'rsh',
  'mod',
  'smod',
  'xor',
  'mov',
  'arsh',
]);

/** Conditional jump mnemonics (without the `32` suffix). */
export const JMP_MNEMONICS: ReadonlySet<JmpCondition> = new Set<JmpCondition>([
  'jeq',
  'jgt',
  'jge',
  'jset',
  'jne',
  'jsgt',
  'jsge',
  'jlt',
  'jle',
  'jslt',
  'jsle',
]);

/** Names of `lddw`'s pseudo sources (the `src` field, RFC 9669 table 12), by value. */
export const LDDW_PSEUDO_NAMES = Object.freeze([
  'imm64',
  'map_fd',
  'map_value',
  'var_addr',
  'code_addr',
  'map_idx',
  'map_value_idx',
] as const);

/** Format a signed immediate: small values in decimal, others in (signed) hex. */
export function formatImm(value: number): string {
  if (value >= -1024 && value <= 1024) return String(value);
  return value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** Format a 32-bit immediate of a 32-bit operation: small values in decimal, others as unsigned hex. */
export function formatImm32(value: number): string {
  if (value >= -1024 && value <= 1024) return String(value);
  return `0x${(value >>> 0).toString(16)}`;
}

/** Format a memory operand `[%rN+off]` / `[%rN-off]` / `[%rN]`. */
export function formatMem(reg: number, off: number): string {
  if (off === 0) return `[%r${reg}]`;
  return off < 0 ? `[%r${reg}-${-off}]` : `[%r${reg}+${off}]`;
}

/** Format a relative jump offset `+N` / `-N`. */
export function formatOffset(off: number): string {
  return off < 0 ? String(off) : `+${off}`;
}
