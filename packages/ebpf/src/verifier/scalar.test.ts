import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BPF_ALU_OP, BPF_JMP_OP } from '../insn.js';
import { type Scalar, aluScalar, endScalar, evalAlu, evalCond, known, make, refineBranch, scalarJoin } from './scalar.js';

const U64 = (1n << 64n) - 1n;

/** A scalar range with a concrete member. */
const arbRangeAndValue = fc
  .tuple(
    fc.bigInt({ min: 0n, max: U64 }),
    fc.bigInt({ min: 0n, max: 1n << 40n }),
    fc.bigInt({ min: 0n, max: 1n << 40n }),
    fc.constantFrom(0n, 1n, 255n, 1n << 32n, 1n << 63n),
  )
  .map(([v, below, above, shape]) => {
    // ranges of several shapes around v: small ones, ones crossing 2^32 or 2^63
    const base = shape === 0n ? v : v & (shape === 1n ? 0xffn : shape - 1n);
    const lo = base >= below ? base - below : 0n;
    const hi = base + above <= U64 ? base + above : U64;
    const s = make(lo, hi, -(1n << 63n), (1n << 63n) - 1n) as Scalar;
    return { s, v: base };
  });

/** Two ranges with members, often with close values (where off-by-one errors show). */
const arbPair = fc.oneof(
  fc.tuple(arbRangeAndValue, arbRangeAndValue),
  fc
    .tuple(arbRangeAndValue, fc.integer({ min: -2, max: 2 }), fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 3n }))
    .map(([a, d, below, above]) => {
      const v = BigInt.asUintN(64, a.v + BigInt(d));
      const lo = v >= below ? v - below : 0n;
      const hi = v + above <= U64 ? v + above : U64;
      return [a, { s: make(lo, hi, -(1n << 63n), (1n << 63n) - 1n) as Scalar, v }] as const;
    }),
);

function contains(s: Scalar, v: bigint): boolean {
  const sv = BigInt.asIntN(64, v);
  return v >= s.umin && v <= s.umax && sv >= s.smin && sv <= s.smax;
}

const ALU_OPS = [
  BPF_ALU_OP.ADD,
  BPF_ALU_OP.SUB,
  BPF_ALU_OP.MUL,
  BPF_ALU_OP.DIV,
  BPF_ALU_OP.OR,
  BPF_ALU_OP.AND,
  BPF_ALU_OP.LSH,
  BPF_ALU_OP.RSH,
  BPF_ALU_OP.NEG,
  BPF_ALU_OP.MOD,
  BPF_ALU_OP.XOR,
  BPF_ALU_OP.MOV,
  BPF_ALU_OP.ARSH,
];
const JMP_OPS = [
  BPF_JMP_OP.JEQ,
  BPF_JMP_OP.JGT,
  BPF_JMP_OP.JGE,
  BPF_JMP_OP.JSET,
  BPF_JMP_OP.JNE,
  BPF_JMP_OP.JSGT,
  BPF_JMP_OP.JSGE,
  BPF_JMP_OP.JLT,
  BPF_JMP_OP.JLE,
  BPF_JMP_OP.JSLT,
  BPF_JMP_OP.JSLE,
];

describe('verifier: scalar bounds', () => {
  it('follows RFC 9669 on known values (division by zero, INT_MIN / -1, masked shifts, movsx)', () => {
    expect(evalAlu(BPF_ALU_OP.DIV, 7n, 0n, true, false)).toBe(0n);
    expect(evalAlu(BPF_ALU_OP.MOD, 7n, 0n, true, false)).toBe(7n);
    expect(evalAlu(BPF_ALU_OP.MOD, 0xffff_ffff_0000_0007n, 0n, false, false)).toBe(7n);
    expect(evalAlu(BPF_ALU_OP.DIV, 1n << 63n, U64, true, true)).toBe(1n << 63n);
    expect(evalAlu(BPF_ALU_OP.MOD, BigInt.asUintN(64, -7n), 2n, true, true)).toBe(U64); // -1
    expect(evalAlu(BPF_ALU_OP.LSH, 1n, 65n, true, false)).toBe(2n);
    expect(evalAlu(BPF_ALU_OP.LSH, 1n, 33n, false, false)).toBe(2n);
    expect(evalAlu(BPF_ALU_OP.ARSH, 0x8000_0000n, 4n, false, false)).toBe(0xf800_0000n);
    expect(evalAlu(BPF_ALU_OP.MOV, 0n, 0x80n, true, false, 8)).toBe(BigInt.asUintN(64, -128n));
    expect(evalAlu(BPF_ALU_OP.MOV, 0n, 0x8000n, false, false, 16)).toBe(0xffff_8000n);
    expect(endScalar(known(0x1122_3344n), 16, true)).toEqual(known(0x4433n));
    expect(endScalar(known(0x1122_3344n), 16, false)).toEqual(known(0x3344n));
  });

  it('ALU bounds contain every concrete result (soundness)', () => {
    fc.assert(
      fc.property(arbPair, fc.constantFrom(...ALU_OPS), fc.boolean(), fc.constantFrom(0, 1, 8, 16, 32), ([a, b], op, is64, off) => {
        const offOk =
          op === BPF_ALU_OP.MOV ? off !== 1 && (is64 || off !== 32) : op === BPF_ALU_OP.DIV || op === BPF_ALU_OP.MOD ? off <= 1 : off === 0;
        if (!offOk) return;
        const r = aluScalar(op, op === BPF_ALU_OP.MOV ? known(0n) : a.s, b.s, is64, off);
        const v = evalAlu(op, op === BPF_ALU_OP.MOV ? 0n : a.v, b.v, is64, off === 1, op === BPF_ALU_OP.MOV ? off : 0);
        expect(
          contains(r, v),
          `op ${op} ${is64} off ${off}: ${a.v} ${b.v} -> ${v} not in ${JSON.stringify(r, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))}`,
        ).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('branch refinement keeps every pair of values that takes that way (soundness)', () => {
    fc.assert(
      fc.property(arbPair, fc.constantFrom(...JMP_OPS), fc.boolean(), ([a, b], op, is64) => {
        const taken = evalCond(op, is64 ? a.v : a.v & 0xffff_ffffn, is64 ? b.v : b.v & 0xffff_ffffn, is64 ? 64 : 32);
        const r = refineBranch(op, a.s, b.s, is64, taken);
        expect(r).not.toBeNull();
        const [ra, rb] = r as [Scalar, Scalar];
        expect(contains(ra, a.v) && contains(rb, b.v)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('refinement narrows: x <= 10 (unsigned) bounds x to 0..10; an impossible way is null', () => {
    const any = make(0n, U64, -(1n << 63n), (1n << 63n) - 1n) as Scalar;
    const r = refineBranch(BPF_JMP_OP.JGT, any, known(10n), true, false);
    expect(r?.[0]).toMatchObject({ umin: 0n, umax: 10n, smin: 0n, smax: 10n });
    expect(refineBranch(BPF_JMP_OP.JEQ, known(3n), known(4n), true, true)).toBeNull();
    expect(scalarJoin(known(14n), known(18n))).toMatchObject({ umin: 14n, umax: 18n });
  });
});
