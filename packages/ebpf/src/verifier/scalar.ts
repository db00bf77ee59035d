/**
 * The scalar domain: unsigned and signed 64-bit bounds of a register's value (the
 * kernel's `umin/umax/smin/smax`, without its tnum), with the exact semantics of
 * RFC 9669 when both operands are known constants. Values are bigints; a constant is a
 * range of one value.
 */
import { BPF_ALU_OP, BPF_JMP_OP } from '../insn.js';

/** Bounds of a scalar register. Invariant: umin <= umax, smin <= smax, both describe the same set. */
export interface Scalar {
  readonly umin: bigint;
  readonly umax: bigint;
  readonly smin: bigint;
  readonly smax: bigint;
}

const TWO64 = 1n << 64n;
const U64_MAX = TWO64 - 1n;
const S64_MAX = (1n << 63n) - 1n;
const S64_MIN = -(1n << 63n);
const U32_MAX = 0xffff_ffffn;

/** Any 64-bit value. */
export const UNKNOWN: Scalar = Object.freeze({ umin: 0n, umax: U64_MAX, smin: S64_MIN, smax: S64_MAX });
/** Any 32-bit value, zero-extended. */
export const UNKNOWN32: Scalar = Object.freeze({ umin: 0n, umax: U32_MAX, smin: 0n, smax: U32_MAX });

/** Shared scalars for the small constants -256..1023, the most frequent immediates. */
const SMALL: readonly Scalar[] = Array.from({ length: 1280 }, (_, i) => {
  const v = BigInt(i - 256);
  const u = BigInt.asUintN(64, v);
  return Object.freeze({ umin: u, umax: u, smin: v, smax: v });
});

/** The scalar known to be `v` (taken modulo 2^64). */
export function known(v: bigint): Scalar {
  if (v >= -256n && v < 1024n) return SMALL[Number(v) + 256] as Scalar;
  const u = BigInt.asUintN(64, v);
  if (u >= (1n << 64n) - 256n) return SMALL[Number(u - (1n << 64n)) + 256] as Scalar;
  const sv = BigInt.asIntN(64, u);
  return { umin: u, umax: u, smin: sv, smax: sv };
}

/** Unsigned range [lo, hi] (0 <= lo <= hi < 2^64). */
export function urange(lo: bigint, hi: bigint): Scalar {
  return make(lo, hi, S64_MIN, S64_MAX) ?? UNKNOWN;
}

/** True if the scalar has exactly one value. */
export function isConst(s: Scalar): boolean {
  return s.umin === s.umax;
}

/**
 * Build a scalar from bounds, tightening each pair by the other. Returns null when the
 * bounds contradict each other (an impossible branch).
 */
export function make(umin: bigint, umax: bigint, smin: bigint, smax: bigint): Scalar | null {
  if (umax <= S64_MAX) {
    if (umin > smin) smin = umin;
    if (umax < smax) smax = umax;
  } else if (umin > S64_MAX) {
    if (umin - TWO64 > smin) smin = umin - TWO64;
    if (umax - TWO64 < smax) smax = umax - TWO64;
  }
  if (smin >= 0n) {
    if (smin > umin) umin = smin;
    if (smax < umax) umax = smax;
  } else if (smax < 0n) {
    if (smin + TWO64 > umin) umin = smin + TWO64;
    if (smax + TWO64 < umax) umax = smax + TWO64;
  }
  if (umin > umax || smin > smax) return null;
  if (umin === umax) return known(umin);
  return { umin, umax, smin, smax };
}

/** Whether every value of `inner` is a value of `outer`. */
export function scalarContains(outer: Scalar, inner: Scalar): boolean {
  return outer.umin <= inner.umin && outer.umax >= inner.umax && outer.smin <= inner.smin && outer.smax >= inner.smax;
}

/** The smallest scalar holding the values of both. */
export function scalarJoin(a: Scalar, b: Scalar): Scalar {
  if (a === b) return a;
  return make(min(a.umin, b.umin), max(a.umax, b.umax), min(a.smin, b.smin), max(a.smax, b.smax)) as Scalar;
}

/** 2^bitlength(x) - 1: all ones up to the highest set bit of x. */
function mask(x: bigint): bigint {
  if (x <= U32_MAX) {
    const n = Number(x);
    return n === 0 ? 0n : BigInt(2 ** (32 - Math.clz32(n)) - 1);
  }
  const hi = Number(x >> 32n);
  return (1n << BigInt(64 - Math.clz32(hi))) - 1n;
}

/** Truncate to the low 32 bits, zero-extended. */
export function trunc32(a: Scalar): Scalar {
  if (a.umax <= U32_MAX) return a;
  if (isConst(a)) return known(a.umin & U32_MAX);
  return UNKNOWN32;
}

/** Exact RFC 9669 semantics of an ALU operation on known values (`signed`: sdiv/smod, off = 1). */
export function evalAlu(op: number, a: bigint, b: bigint, is64: boolean, signed: boolean, off = 0): bigint {
  const w = is64 ? 64 : 32;
  const u = (x: bigint) => BigInt.asUintN(w, x);
  const s = (x: bigint) => BigInt.asIntN(w, x);
  a = u(a);
  b = u(b);
  let r: bigint;
  switch (op) {
    case BPF_ALU_OP.ADD:
      r = a + b;
      break;
    case BPF_ALU_OP.SUB:
      r = a - b;
      break;
    case BPF_ALU_OP.MUL:
      r = a * b;
      break;
    case BPF_ALU_OP.DIV:
      r = b === 0n ? 0n : signed ? s(a) / s(b) : a / b;
      break;
    case BPF_ALU_OP.MOD:
      r = b === 0n ? a : signed ? s(a) % s(b) : a % b;
      break;
    case BPF_ALU_OP.OR:
      r = a | b;
      break;
    case BPF_ALU_OP.AND:
      r = a & b;
      break;
    case BPF_ALU_OP.XOR:
      r = a ^ b;
      break;
    case BPF_ALU_OP.LSH:
      r = a << (b & BigInt(w - 1));
      break;
    case BPF_ALU_OP.RSH:
      r = a >> (b & BigInt(w - 1));
      break;
    case BPF_ALU_OP.ARSH:
      r = s(a) >> (b & BigInt(w - 1));
      break;
    case BPF_ALU_OP.NEG:
      r = -a;
      break;
    default: // MOV, MOVSX
      r = off === 0 ? b : BigInt.asIntN(off, b);
  }
  return u(r);
}

/**
 * Abstract ALU operation on scalars: `dst op= src` in 64 or 32 bits. `off` is the
 * instruction's offset (1 = signed division, 8/16/32 = movsx). Sound, not always tight.
 */
export function aluScalar(op: number, a: Scalar, b: Scalar, is64: boolean, off: number): Scalar {
  if (!is64) {
    a = trunc32(a);
    b = trunc32(b);
  }
  if (isConst(a) && isConst(b)) return known(evalAlu(op, a.umin, b.umin, is64, off === 1, off));
  if (op === BPF_ALU_OP.MOV) {
    if (off === 0 || b.umax < 1n << BigInt(off - 1)) return b;
    if (!is64) return UNKNOWN32;
    const half = 1n << BigInt(off - 1);
    return make(0n, U64_MAX, -half, half - 1n) as Scalar;
  }
  const r = is64 ? alu64(op, a, b, off) : alu64(op, a, b, off === 1 ? 1 : 0, 32);
  if (!is64 && r.umax > U32_MAX) return UNKNOWN32;
  return r;
}

function alu64(op: number, a: Scalar, b: Scalar, off: number, width = 64): Scalar {
  const shiftMask = BigInt(width - 1);
  switch (op) {
    case BPF_ALU_OP.ADD: {
      const umax = a.umax + b.umax;
      const smin = a.smin + b.smin;
      const smax = a.smax + b.smax;
      const sOk = smin >= S64_MIN && smax <= S64_MAX;
      return (
        make(umax > U64_MAX ? 0n : a.umin + b.umin, umax > U64_MAX ? U64_MAX : umax, sOk ? smin : S64_MIN, sOk ? smax : S64_MAX) ?? UNKNOWN
      );
    }
    case BPF_ALU_OP.SUB: {
      const uOk = a.umin >= b.umax;
      const smin = a.smin - b.smax;
      const smax = a.smax - b.smin;
      const sOk = smin >= S64_MIN && smax <= S64_MAX;
      return make(uOk ? a.umin - b.umax : 0n, uOk ? a.umax - b.umin : U64_MAX, sOk ? smin : S64_MIN, sOk ? smax : S64_MAX) ?? UNKNOWN;
    }
    case BPF_ALU_OP.MUL:
      return a.umax * b.umax <= U64_MAX ? urange(a.umin * b.umin, a.umax * b.umax) : UNKNOWN;
    case BPF_ALU_OP.AND:
      return urange(0n, min(a.umax, b.umax));
    case BPF_ALU_OP.OR:
      return urange(max(a.umin, b.umin), mask(max(a.umax, b.umax)));
    case BPF_ALU_OP.XOR:
      return urange(0n, mask(max(a.umax, b.umax)));
    case BPF_ALU_OP.LSH: {
      if (!isConst(b)) return UNKNOWN;
      const sh = b.umin & shiftMask;
      return a.umax << sh <= U64_MAX ? urange(a.umin << sh, a.umax << sh) : UNKNOWN;
    }
    case BPF_ALU_OP.RSH: {
      if (!isConst(b)) return urange(0n, a.umax);
      const sh = b.umin & shiftMask;
      return urange(a.umin >> sh, a.umax >> sh);
    }
    case BPF_ALU_OP.ARSH: {
      if (!isConst(b) || width !== 64) return UNKNOWN;
      const sh = b.umin & shiftMask;
      return make(0n, U64_MAX, a.smin >> sh, a.smax >> sh) ?? UNKNOWN;
    }
    case BPF_ALU_OP.DIV:
      if (off === 1) return UNKNOWN;
      if (isConst(b) && b.umin !== 0n) return urange(a.umin / b.umin, a.umax / b.umin);
      return urange(0n, a.umax);
    case BPF_ALU_OP.MOD:
      if (off === 1) return UNKNOWN;
      if (isConst(b) && b.umin !== 0n) return urange(0n, a.umax < b.umin - 1n ? a.umax : b.umin - 1n);
      return urange(0n, a.umax);
    default: // NEG
      return UNKNOWN;
  }
}

/** Abstract byte swap (`le`/`be` in class ALU, `bswap` in ALU64) of `bits` bits. */
export function endScalar(a: Scalar, bits: number, swap: boolean): Scalar {
  const w = BigInt(bits);
  if (isConst(a)) {
    let v = BigInt.asUintN(bits, a.umin);
    if (swap) {
      let r = 0n;
      for (let i = 0n; i < w; i += 8n) r = (r << 8n) | ((v >> i) & 0xffn);
      v = r;
    }
    return known(v);
  }
  if (!swap && a.umax < 1n << w) return a;
  return bits === 64 ? UNKNOWN : urange(0n, (1n << w) - 1n);
}

function negate(op: number): number {
  switch (op) {
    case BPF_JMP_OP.JEQ:
      return BPF_JMP_OP.JNE;
    case BPF_JMP_OP.JNE:
      return BPF_JMP_OP.JEQ;
    case BPF_JMP_OP.JGT:
      return BPF_JMP_OP.JLE;
    case BPF_JMP_OP.JLE:
      return BPF_JMP_OP.JGT;
    case BPF_JMP_OP.JGE:
      return BPF_JMP_OP.JLT;
    case BPF_JMP_OP.JLT:
      return BPF_JMP_OP.JGE;
    case BPF_JMP_OP.JSGT:
      return BPF_JMP_OP.JSLE;
    case BPF_JMP_OP.JSLE:
      return BPF_JMP_OP.JSGT;
    case BPF_JMP_OP.JSGE:
      return BPF_JMP_OP.JSLT;
    case BPF_JMP_OP.JSLT:
      return BPF_JMP_OP.JSGE;
    default:
      return -1; // not-JSET
  }
}

/** Result of refining two scalars by a branch: null = the branch cannot be taken. */
export type Refined = readonly [Scalar, Scalar] | null;

/**
 * Refine `a op b` for the branch where the condition is `taken` (true) or not. Returns
 * the narrowed pair, or null when that branch is impossible. JMP32 comparisons refine only
 * when both values fit in 32 bits (31 for the signed ones).
 */
export function refineBranch(op: number, a: Scalar, b: Scalar, is64: boolean, taken: boolean): Refined {
  if (!is64) {
    if (isConst(a) && isConst(b)) {
      return evalCond(op, a.umin & U32_MAX, b.umin & U32_MAX, 32) === taken ? [a, b] : null;
    }
    const signedOp = op === BPF_JMP_OP.JSGT || op === BPF_JMP_OP.JSGE || op === BPF_JMP_OP.JSLT || op === BPF_JMP_OP.JSLE;
    const limit = signedOp ? 0x7fff_ffffn : U32_MAX;
    if (a.umax > limit || b.umax > limit) return [a, b];
  }
  if (isConst(a) && isConst(b)) return evalCond(op, a.umin, b.umin, 64) === taken ? [a, b] : null;
  const o = taken ? op : negate(op);
  switch (o) {
    case BPF_JMP_OP.JEQ: {
      const r = make(max(a.umin, b.umin), min(a.umax, b.umax), max(a.smin, b.smin), min(a.smax, b.smax));
      return r === null ? null : [r, r];
    }
    case BPF_JMP_OP.JNE: {
      if (isConst(b)) {
        const na = exclude(a, b.umin);
        return na === null ? null : [na, b];
      }
      if (isConst(a)) {
        const nb = exclude(b, a.umin);
        return nb === null ? null : [a, nb];
      }
      return [a, b];
    }
    case BPF_JMP_OP.JGT:
      return pair(make(max(a.umin, b.umin + 1n), a.umax, a.smin, a.smax), make(b.umin, min(b.umax, a.umax - 1n), b.smin, b.smax));
    case BPF_JMP_OP.JGE:
      return pair(make(max(a.umin, b.umin), a.umax, a.smin, a.smax), make(b.umin, min(b.umax, a.umax), b.smin, b.smax));
    case BPF_JMP_OP.JLT:
      return pair(make(a.umin, min(a.umax, b.umax - 1n), a.smin, a.smax), make(max(b.umin, a.umin + 1n), b.umax, b.smin, b.smax));
    case BPF_JMP_OP.JLE:
      return pair(make(a.umin, min(a.umax, b.umax), a.smin, a.smax), make(max(b.umin, a.umin), b.umax, b.smin, b.smax));
    case BPF_JMP_OP.JSGT:
      return pair(make(a.umin, a.umax, max(a.smin, b.smin + 1n), a.smax), make(b.umin, b.umax, b.smin, min(b.smax, a.smax - 1n)));
    case BPF_JMP_OP.JSGE:
      return pair(make(a.umin, a.umax, max(a.smin, b.smin), a.smax), make(b.umin, b.umax, b.smin, min(b.smax, a.smax)));
    case BPF_JMP_OP.JSLT:
      return pair(make(a.umin, a.umax, a.smin, min(a.smax, b.smax - 1n)), make(b.umin, b.umax, max(b.smin, a.smin + 1n), b.smax));
    case BPF_JMP_OP.JSLE:
      return pair(make(a.umin, a.umax, a.smin, min(a.smax, b.smax)), make(b.umin, b.umax, max(b.smin, a.smin), b.smax));
    default: // JSET taken / not taken
      if (taken && (a.umax === 0n || b.umax === 0n)) return null;
      return [a, b];
  }
}

function pair(a: Scalar | null, b: Scalar | null): Refined {
  return a === null || b === null ? null : [a, b];
}

function exclude(a: Scalar, v: bigint): Scalar | null {
  if (a.umin === v) return make(a.umin + 1n, a.umax, a.smin, a.smax);
  if (a.umax === v) return make(a.umin, a.umax - 1n, a.smin, a.smax);
  return a;
}

/** The larger of two bigints (Math.max does not take bigints). */
function max(a: bigint, b: bigint): bigint {
  if (a > b) return a;
  return b;
}

/** The smaller of two bigints. */
function min(a: bigint, b: bigint): bigint {
  if (a < b) return a;
  return b;
}

/** Exact outcome of a conditional jump on known values of `w` bits. */
export function evalCond(op: number, a: bigint, b: bigint, w: 32 | 64): boolean {
  const sa = BigInt.asIntN(w, a);
  const sb = BigInt.asIntN(w, b);
  switch (op) {
    case BPF_JMP_OP.JEQ:
      return a === b;
    case BPF_JMP_OP.JNE:
      return a !== b;
    case BPF_JMP_OP.JGT:
      return a > b;
    case BPF_JMP_OP.JGE:
      return a >= b;
    case BPF_JMP_OP.JLT:
      return a < b;
    case BPF_JMP_OP.JLE:
      return a <= b;
    case BPF_JMP_OP.JSGT:
      return sa > sb;
    case BPF_JMP_OP.JSGE:
      return sa >= sb;
    case BPF_JMP_OP.JSLT:
      return sa < sb;
    case BPF_JMP_OP.JSLE:
      return sa <= sb;
    default:
      return (a & b) !== 0n;
  }
}
