import { describeValue } from './describe.js';
import { DisplacementRangeError, OperandError } from './errors.js';
import { GP64, type Gp64, type Width, regOfWidth } from './registers.js';

/**
 * A memory operand `[base + disp]` with an access width (`0` when the width comes from
 * the other operand or does not matter, as for `lea`). Build it with {@link qword},
 * {@link dword}, {@link word}, {@link byte} or {@link ptr}.
 */
export interface Mem {
  readonly kind: 'mem';
  readonly base: Gp64;
  /** 4-bit id of the base register, cached for the encoder. */
  readonly baseId: number;
  readonly disp: number;
  readonly bits: Width | 0;
}

function mem(bits: Width | 0, base: Gp64, disp: number): Mem {
  const { id } = regOfWidth(base, 64, 'a memory base');
  if (typeof disp !== 'number') throw new OperandError(`[${base} + disp]: the displacement must be a number, got ${describeValue(disp)}`);
  if (!Number.isInteger(disp) || disp < -0x8000_0000 || disp > 0x7fff_ffff) {
    throw new DisplacementRangeError(Number.isFinite(disp) ? BigInt(Math.trunc(disp)) : 0n, 32, `[${base} + ${disp}]`);
  }
  return Object.freeze({ kind: 'mem', base, baseId: id, disp, bits });
}

/** `QWORD PTR [base + disp]`. @throws DisplacementRangeError if disp is not an int32. */
export const qword = (base: Gp64, disp = 0): Mem => mem(64, base, disp);
/** `DWORD PTR [base + disp]`. @throws DisplacementRangeError if disp is not an int32. */
export const dword = (base: Gp64, disp = 0): Mem => mem(32, base, disp);
/** `WORD PTR [base + disp]`. @throws DisplacementRangeError if disp is not an int32. */
export const word = (base: Gp64, disp = 0): Mem => mem(16, base, disp);
/** `BYTE PTR [base + disp]`. @throws DisplacementRangeError if disp is not an int32. */
export const byte = (base: Gp64, disp = 0): Mem => mem(8, base, disp);
/** `[base + disp]` without a width (for `lea`, or when a register operand gives it). */
export const ptr = (base: Gp64, disp = 0): Mem => mem(0, base, disp);

/**
 * True if `value` is a well-formed memory operand, as {@link qword} and friends build
 * them: a 64-bit base register with its matching id, an int32 displacement and a width of
 * 0/8/16/32/64 bits. A look-alike object with other fields is not one.
 */
export function isMem(value: unknown): value is Mem {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Record<keyof Mem, unknown>>;
  if (m.kind !== 'mem') return false;
  const { disp, bits, baseId } = m;
  return (
    typeof baseId === 'number' &&
    GP64[baseId] === m.base &&
    typeof disp === 'number' &&
    Number.isInteger(disp) &&
    disp >= -0x8000_0000 &&
    disp <= 0x7fff_ffff &&
    (bits === 0 || bits === 8 || bits === 16 || bits === 32 || bits === 64)
  );
}

/** The width of a memory operand, or `fallback`; throws if neither gives one. */
export function memWidth(m: Mem, fallback: Width | 0, what: string): Width {
  const bits = m.bits || fallback;
  if (bits === 0) throw new OperandError(`${what}: memory operand needs a width (use qword/dword/word/byte)`);
  return bits;
}
