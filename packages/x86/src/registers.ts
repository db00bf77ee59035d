import { describeValue } from './describe.js';
import { OperandError } from './errors.js';

/** The sixteen 64-bit general registers, in encoding order (id 0..15). */
export const GP64 = Object.freeze([
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const);
/** The 32-bit views of the general registers, in encoding order. */
export const GP32 = Object.freeze([
  'eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi',
  'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d',
] as const);
/** The 16-bit views of the general registers, in encoding order. */
export const GP16 = Object.freeze([
  'ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di',
  'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w',
] as const);
/** The low-byte views of the general registers (REX forms: spl/bpl/sil/dil, never ah..bh). */
export const GP8 = Object.freeze([
  'al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil',
  'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b',
] as const);

/** A 64-bit general register name. */
export type Gp64 = (typeof GP64)[number];
/** A 32-bit general register name. */
export type Gp32 = (typeof GP32)[number];
/** A 16-bit general register name. */
export type Gp16 = (typeof GP16)[number];
/** An 8-bit general register name. */
export type Gp8 = (typeof GP8)[number];
/** Any general register name; its width is part of the name, as in Intel syntax. */
export type Gp = Gp64 | Gp32 | Gp16 | Gp8;
/** Operand width in bits. */
export type Width = 8 | 16 | 32 | 64;

/** What the encoder knows of a register: its 4-bit id and its width. */
export interface RegInfo {
  readonly id: number;
  readonly bits: Width;
}

const TABLE: Readonly<Record<string, RegInfo>> = (() => {
  const table: Record<string, RegInfo> = Object.create(null);
  const add = (names: readonly string[], bits: Width) =>
    names.forEach((name, id) => {
      table[name] = Object.freeze({ id, bits });
    });
  add(GP64, 64);
  add(GP32, 32);
  add(GP16, 16);
  add(GP8, 8);
  return Object.freeze(table);
})();

/**
 * Look up a register by name.
 * @throws OperandError if `name` is not a general register.
 */
export function regInfo(name: string): RegInfo {
  const info = typeof name === 'string' ? TABLE[name] : undefined;
  if (info === undefined) throw new OperandError(`unknown register ${describeValue(name)}`);
  return info;
}

/** True if `value` names a general register of any width. */
export function isGp(value: unknown): value is Gp {
  return typeof value === 'string' && TABLE[value] !== undefined;
}

/**
 * Look up a register that must have a given width.
 * @throws OperandError if it is unknown or of another width.
 */
export function regOfWidth(name: string, bits: Width, what: string): RegInfo {
  const info = regInfo(name);
  if (info.bits !== bits) throw new OperandError(`${what} needs a ${bits}-bit register, got ${name}`);
  return info;
}
