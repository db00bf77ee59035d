/**
 * fast-check generator of random eBPF programs the kernel's verifier accepts, for the
 * kernel differential test. Each program:
 *
 * - prologue: loads r0 and r2..r9, then r1, either from the 80-byte memory (r1 = its
 *   address: the verifier sees unknown scalars, so it explores both sides of branches on
 *   them) or from constants (mov / lddw: known values, constant-folded paths);
 *   then initialises the 64 stack bytes the body uses (no uninitialised stack reads, whose
 *   contents would differ between runtimes);
 * - body: ALU/ALU64 of every operation (incl. sdiv/smod, movsx, neg, le/be/bswap) with
 *   register or immediate operands, JMP/JMP32 of every condition jumping forward, stack
 *   stores (ST/STX) and loads (LDX, LDX MEMSX), atomics on the stack (add/or/and/xor with
 *   and without fetch, xchg, cmpxchg; 32 and 64 bits), lddw, and a "cas" shape (a 32-bit
 *   cmpxchg made to succeed with r0's upper half set, then a branch whose fall-through
 *   overwrites r0) that reaches the kernel bug described in the differential test;
 * - epilogue: folds r1..r9 and the stack into r0 (so a difference anywhere shows in r0) and exits.
 *
 * What the verifier refuses is avoided: division or modulo by a zero immediate, shift
 * immediates outside 0..width-1, unreachable instructions (no `ja`), pointer arithmetic
 * (r10 only as a memory base), misaligned stack atomics. Division by a register that may
 * be zero is generated on purpose (the kernel defines it: x/0 = 0, x%0 = x).
 */
import fc from 'fast-check';
import type { Insn } from '../insn.js';

/** A generated program and the memory it reads its inputs from (r1 = memory, r2 = length). */
export interface KernelRandomProgram {
  readonly insns: Insn[];
  readonly memory: Uint8Array;
}

/** Options of {@link arbKernelProgram}. */
export interface KernelRandomProgramOptions {
  /** Body length bounds (default 1..40 operations). */
  readonly minOps?: number;
  readonly maxOps?: number;
  /**
   * Insert `mov32 r0, r0` after every 32-bit cmpxchg: a no-op under the ISA that works
   * around the Linux 6.18 verifier bug which leaves r0's upper half set after a successful
   * cmpxchg32 on some pruned paths (see the differential test).
   */
  readonly cmpxchg32Workaround?: boolean;
}

const MEMORY_SIZE = 80;
const STACK_BYTES = 64;
const ALU_OPS = ['add', 'sub', 'mul', 'div', 'sdiv', 'or', 'and', 'lsh', 'rsh', 'mod', 'smod', 'xor', 'mov', 'arsh'] as const;
const ALU_CODE: Record<(typeof ALU_OPS)[number], [number, number]> = {
  add: [0x00, 0],
  sub: [0x10, 0],
  mul: [0x20, 0],
  div: [0x30, 0],
  sdiv: [0x30, 1],
  or: [0x40, 0],
  and: [0x50, 0],
  lsh: [0x60, 0],
  rsh: [0x70, 0],
  mod: [0x90, 0],
  smod: [0x90, 1],
  xor: [0xa0, 0],
  mov: [0xb0, 0],
  arsh: [0xc0, 0],
};
const JMP_CONDS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0] as const;
const SIZES = [
  { code: 0x18, bytes: 8 },
  { code: 0x00, bytes: 4 },
  { code: 0x08, bytes: 2 },
  { code: 0x10, bytes: 1 },
] as const;
const ATOMIC_OPS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1] as const;

type Op =
  | { kind: 'alu'; is64: boolean; op: (typeof ALU_OPS)[number]; dst: number; src: number | null; imm: number }
  | { kind: 'neg'; is64: boolean; dst: number }
  | { kind: 'movsx'; is64: boolean; bits: 8 | 16 | 32; dst: number; src: number }
  | { kind: 'end'; how: 'le' | 'be' | 'bswap'; bits: 16 | 32 | 64; dst: number }
  | { kind: 'jmp'; is64: boolean; cond: number; dst: number; src: number | null; imm: number; skip: number }
  | { kind: 'st'; size: number; slot: number; imm: number }
  | { kind: 'stx'; size: number; slot: number; src: number }
  | { kind: 'ldx'; size: number; signed: boolean; slot: number; dst: number }
  | { kind: 'atomic'; dw: boolean; op: number; slot: number; src: number }
  | { kind: 'lddw'; dst: number; value: bigint }
  | { kind: 'cas'; slot: number; src: number; cond: number; test: number; imm: number; other: number };

const reg = fc.integer({ min: 0, max: 9 });
const imm32 = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }) },
  { weight: 2, arbitrary: fc.integer({ min: -16, max: 16 }) },
  { weight: 1, arbitrary: fc.constantFrom(-0x8000_0000, 0x7fff_ffff, 31, 32, 63, 64, 0xffff, 0x8000, 0x80) },
);
const imm64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 1n << 63n, (1n << 64n) - 1n, 0xffff_ffffn, 1n << 32n),
);
const srcOrImm = fc.option(reg, { freq: 2, nil: null });

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('alu' as const),
      is64: fc.boolean(),
      op: fc.constantFrom(...ALU_OPS),
      dst: reg,
      src: srcOrImm,
      imm: imm32,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('neg' as const), is64: fc.boolean(), dst: reg }) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        kind: fc.constant('movsx' as const),
        is64: fc.boolean(),
        bits: fc.constantFrom(8 as const, 16 as const, 32 as const),
        dst: reg,
        src: reg,
      })
      .map((o) => (o.is64 || o.bits !== 32 ? o : { ...o, bits: 16 as const })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('end' as const),
      how: fc.constantFrom('le' as const, 'be' as const, 'bswap' as const),
      bits: fc.constantFrom(16 as const, 32 as const, 64 as const),
      dst: reg,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('jmp' as const),
      is64: fc.boolean(),
      cond: fc.constantFrom(...JMP_CONDS),
      dst: reg,
      src: srcOrImm,
      imm: imm32,
      skip: fc.integer({ min: 0, max: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('st' as const), size: fc.integer({ min: 0, max: 3 }), slot: fc.nat(63), imm: imm32 }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('stx' as const), size: fc.integer({ min: 0, max: 3 }), slot: fc.nat(63), src: reg }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('ldx' as const),
      size: fc.integer({ min: 0, max: 3 }),
      signed: fc.boolean(),
      slot: fc.nat(63),
      dst: reg,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('atomic' as const),
      dw: fc.boolean(),
      op: fc.constantFrom(...ATOMIC_OPS),
      slot: fc.nat(63),
      src: reg,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lddw' as const), dst: reg, value: imm64 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('cas' as const),
      slot: fc.nat(63),
      src: reg,
      cond: fc.constantFrom(...JMP_CONDS),
      test: reg,
      imm: imm32,
      other: reg,
    }),
  },
);

/** How one of r0, r2..r9, r1 starts: from memory (unknown to the verifier) or a constant. */
const arbInit = fc.oneof(
  fc.constant({ from: 'memory' as const }),
  fc.record({ from: fc.constant('imm' as const), imm: imm32 }),
  fc.record({ from: fc.constant('lddw' as const), value: imm64 }),
);

const i = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const lddw = (dst: number, value: bigint): Insn[] => [
  i(0x18, dst, 0, 0, Number(BigInt.asIntN(32, value))),
  i(0, 0, 0, 0, Number(BigInt.asIntN(32, value >> 32n))),
];
/** A stack offset below r10 inside the initialised 64 bytes, aligned to `bytes`. */
const stackOff = (slot: number, bytes: number): number => -STACK_BYTES + (slot % (STACK_BYTES / bytes)) * bytes;

function emitOp(o: Op, options: KernelRandomProgramOptions): Insn[] {
  switch (o.kind) {
    case 'alu': {
      const cls = o.is64 ? 0x07 : 0x04;
      const [code, off] = ALU_CODE[o.op];
      if (o.src !== null) return [i(cls | code | 0x08, o.dst, o.src, off, 0)];
      let imm = o.imm;
      const width = o.is64 ? 64 : 32;
      if (code === 0x30 || code === 0x90) imm = imm === 0 ? 1 : imm; // the verifier refuses x / 0 by an immediate
      if (code === 0x60 || code === 0x70 || code === 0xc0) imm = ((imm % width) + width) % width; // and shifts out of range
      return [i(cls | code, o.dst, 0, off, imm)];
    }
    case 'neg':
      return [i((o.is64 ? 0x07 : 0x04) | 0x80, o.dst, 0, 0, 0)];
    case 'movsx':
      return [i((o.is64 ? 0x07 : 0x04) | 0xb0 | 0x08, o.dst, o.src, o.bits, 0)];
    case 'end':
      return [i(o.how === 'bswap' ? 0xd7 : o.how === 'be' ? 0xdc : 0xd4, o.dst, 0, 0, o.bits)];
    case 'jmp': // `off` is patched by the caller
      return [i((o.is64 ? 0x05 : 0x06) | o.cond | (o.src !== null ? 0x08 : 0), o.dst, o.src ?? 0, 0, o.src !== null ? 0 : o.imm)];
    case 'st': {
      const size = SIZES[o.size] ?? SIZES[0];
      return [i(0x62 | size.code, 10, 0, stackOff(o.slot, size.bytes), o.imm)];
    }
    case 'stx': {
      const size = SIZES[o.size] ?? SIZES[0];
      return [i(0x63 | size.code, 10, o.src, stackOff(o.slot, size.bytes), 0)];
    }
    case 'ldx': {
      const size = SIZES[o.size] ?? SIZES[0];
      const signed = o.signed && size.bytes !== 8;
      return [i((signed ? 0x81 : 0x61) | size.code, o.dst, 10, stackOff(o.slot, size.bytes), 0)];
    }
    case 'atomic': {
      const bytes = o.dw ? 8 : 4;
      const out = [i(0xc3 | (o.dw ? 0x18 : 0x00), 10, o.src, stackOff(o.slot, bytes), o.op)];
      // Linux 6.18 verifier bug (see the differential test): after a successful 32-bit
      // cmpxchg, a pruned path can keep r0's upper half; a no-op mov32 forces the zero-extension.
      if (!o.dw && o.op === 0xf1 && options.cmpxchg32Workaround === true) out.push(i(0xbc, 0, 0, 0, 0));
      return out;
    }
    case 'lddw':
      return lddw(o.dst, o.value);
    case 'cas': {
      // A 32-bit cmpxchg that succeeds with r0's upper half set (r0 = the whole 8-byte slot,
      // compared with its low half), then a branch whose fall-through overwrites r0: the
      // shape of the kernel bug described in the differential test.
      const off = stackOff(o.slot, 8);
      const out = [i(0x79, 0, 10, off, 0), i(0xc3, 10, o.src, off, 0xf1)];
      if (options.cmpxchg32Workaround === true) out.push(i(0xbc, 0, 0, 0, 0));
      out.push(i(0x05 | o.cond, o.test, 0, 1, o.imm), i(0xbf, 0, o.other, 0, 0));
      return out;
    }
  }
}

/** Assemble a generated program from its parts. */
function build(
  inits: readonly { from: 'memory' | 'imm' | 'lddw'; imm?: number; value?: bigint }[],
  stackInit: readonly number[],
  ops: readonly Op[],
  options: KernelRandomProgramOptions,
): Insn[] {
  const out: Insn[] = [];
  // r0, r2..r9 first (r1 still points to the memory), r1 last.
  [0, 2, 3, 4, 5, 6, 7, 8, 9, 1].forEach((r, n) => {
    const init = inits[n] ?? { from: 'memory' };
    if (init.from === 'memory') out.push(i(0x79, r, 1, n * 8, 0));
    else if (init.from === 'imm') out.push(i(0xb7, r, 0, 0, init.imm ?? 0));
    else out.push(...lddw(r, init.value ?? 0n));
  });
  for (let k = 0; k < STACK_BYTES / 8; k++) out.push(i(0x7a, 10, 0, -8 * (k + 1), stackInit[k] ?? 0));
  const groups = ops.map((o) => emitOp(o, options));
  groups.forEach((g, n) => {
    const o = ops[n] as Op;
    if (o.kind === 'jmp') {
      // forward only, never past the epilogue's first instruction
      const skip = Math.min(o.skip, groups.length - n - 1);
      let off = 0;
      for (let k = 1; k <= skip; k++) off += (groups[n + k] as Insn[]).length;
      const [j] = g as [Insn];
      out.push({ ...j, off });
    } else {
      out.push(...g);
    }
  });
  // epilogue: fold r1..r9 and the stack into r0
  const fold = (r: number): void => {
    out.push(i(0x27, 0, 0, 0, 0x5bd1e995)); // r0 *= C
    out.push(i(0xaf, 0, r, 0, 0)); // r0 ^= r
  };
  for (let r = 1; r <= 9; r++) fold(r);
  for (let k = 0; k < STACK_BYTES / 8; k++) {
    out.push(i(0x79, 1, 10, -8 * (k + 1), 0));
    fold(1);
  }
  out.push(i(0x95, 0, 0, 0, 0));
  return out;
}

/** fast-check arbitrary of kernel-verifiable random programs with their memory. */
export function arbKernelProgram(options: KernelRandomProgramOptions = {}): fc.Arbitrary<KernelRandomProgram> {
  return fc
    .record({
      memory: fc.uint8Array({ minLength: MEMORY_SIZE, maxLength: MEMORY_SIZE }),
      inits: fc.array(arbInit, { minLength: 10, maxLength: 10 }),
      stack: fc.array(imm32, { minLength: STACK_BYTES / 8, maxLength: STACK_BYTES / 8 }),
      ops: fc.array(arbOp, { minLength: options.minOps ?? 1, maxLength: options.maxOps ?? 40 }),
    })
    .map(({ memory, inits, stack, ops }) => ({ insns: build(inits, stack, ops, options), memory }));
}
