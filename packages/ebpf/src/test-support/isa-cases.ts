/**
 * Programs with their expected r0, written from RFC 9669 (not from any implementation):
 * one table for every backend (the interpreter, the JIT, the kernel oracle). Each case is
 * assembler text ending in `exit`, optional context memory (r1 = its address, r2 = its
 * length) and, for stores, the memory expected afterwards. Only the stack (r10 - 512 ..
 * r10) and the memory are touched; helper calls do not appear.
 */

/** One program and what it must return. */
export interface IsaCase {
  readonly group: string;
  readonly name: string;
  /** Assembler text (ends with `exit`). */
  readonly asm: string;
  /** The context memory at entry, if any. */
  readonly memory?: readonly number[];
  /** r0 at exit, unsigned 64-bit. */
  readonly r0: bigint;
  /** The context memory at exit (stores). */
  readonly memoryAfter?: readonly number[];
}

const U64 = (v: bigint) => BigInt.asUintN(64, v);

const ALU64: readonly [string, bigint][] = [
  ['mov %r0, -1\nadd %r0, 2', 1n],
  ['mov %r0, 0\nsub %r0, 1', U64(-1n)],
  ['lddw %r1, 0x100000000\nmov %r0, %r1\nmul %r0, %r1', 0n],
  ['mov %r0, 10\ndiv %r0, -1', 0n], // the immediate is sign-extended, then unsigned
  ['mov %r0, -1\ndiv %r0, -1', 1n],
  ['mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1', 0n],
  ['mov %r0, 7\nmov %r1, 0\nmod %r0, %r1', 7n],
  ['mov %r0, 17\nmod %r0, 5', 2n],
  ['mov %r0, -7\nsdiv %r0, 2', U64(-3n)],
  ['mov %r0, -7\nsmod %r0, 2', U64(-1n)],
  ['mov %r0, 7\nsmod %r0, -2', 1n],
  ['mov %r0, -7\nsdiv %r0, 0', 0n],
  ['mov %r0, -7\nsmod %r0, 0', U64(-7n)],
  ['lddw %r0, 0x8000000000000000\nsdiv %r0, -1', 0x8000000000000000n],
  ['lddw %r0, 0x8000000000000000\nsmod %r0, -1', 0n],
  ['mov %r0, 12\nor %r0, 10', 14n],
  ['mov %r0, 12\nand %r0, 10', 8n],
  ['mov %r0, 12\nxor %r0, 10', 6n],
  ['mov %r0, 1\nlsh %r0, 65', 2n], // shift counts are masked to 63
  ['lddw %r0, 0x8000000000000000\nrsh %r0, 4', 0x0800000000000000n],
  ['lddw %r0, 0x8000000000000000\narsh %r0, 4', 0xf800000000000000n],
  ['lddw %r0, 0x8000000000000000\nmov %r1, 68\narsh %r0, %r1', 0xf800000000000000n],
  ['mov %r0, 5\nneg %r0', U64(-5n)],
  ['mov %r1, 0x80\nmovsx864 %r0, %r1', 0xffffffffffffff80n],
  ['mov %r1, 0x7fff\nmovsx1664 %r0, %r1', 0x7fffn],
  ['lddw %r1, 0x80000000\nmovsx3264 %r0, %r1', 0xffffffff80000000n],
  ['mov %r0, 0x7fffffff\nadd %r0, 1', 0x80000000n],
];

const ALU32: readonly [string, bigint][] = [
  ['mov32 %r0, -1', 0xffffffffn],
  ['lddw %r0, 0xffffffff00000005\nadd32 %r0, 1', 6n],
  ['mov32 %r0, 0xffffffff\nadd32 %r0, 2', 1n],
  ['mov32 %r0, 0x10000\nmul32 %r0, 0x10000', 0n],
  ['mov32 %r0, 0x80000000\nsdiv32 %r0, -1', 0x80000000n],
  ['mov32 %r0, 0x80000000\nsmod32 %r0, -1', 0n],
  ['mov32 %r0, -7\nsdiv32 %r0, 2', 0xfffffffdn],
  ['lddw %r0, 0x1234567800000009\nmov32 %r1, 0\nmod32 %r0, %r1', 9n], // the dividend, zero-extended
  ['lddw %r0, 0x1234567800000009\nmov32 %r1, 0\ndiv32 %r0, %r1', 0n],
  ['lddw %r0, 0x1234567800000009\ndiv32 %r0, 2', 4n],
  ['mov32 %r0, 1\nlsh32 %r0, 33', 2n], // masked to 31
  ['mov32 %r0, 0x80000000\narsh32 %r0, 4', 0xf8000000n],
  ['mov32 %r0, 0x80000000\nrsh32 %r0, 36', 0x08000000n],
  ['mov %r0, 5\nneg32 %r0', 0xfffffffbn],
  ['mov %r1, 0x80\nmovsx832 %r0, %r1', 0xffffff80n],
  ['lddw %r1, 0xffffffff00008000\nmovsx1632 %r0, %r1', 0xffff8000n],
  ['lddw %r1, 0x123456789\nmov32 %r0, %r1', 0x23456789n],
];

const ENDIAN: readonly [string, bigint][] = [
  ['le16', 0xcdefn],
  ['le32', 0x89abcdefn],
  ['le64', 0x0123456789abcdefn],
  ['be16', 0xefcdn],
  ['be32', 0xefcdab89n],
  ['be64', 0xefcdab8967452301n],
  ['bswap16', 0xefcdn],
  ['bswap32', 0xefcdab89n],
  ['bswap64', 0xefcdab8967452301n],
];

/** Conditional jumps with a register operand: [condition, dst, src, taken]. */
const JUMPS_REG: readonly [string, bigint, bigint, boolean][] = [
  ['jeq', 5n, 5n, true],
  ['jne', 5n, 5n, false],
  ['jgt', -1n, 1n, true],
  ['jsgt', -1n, 1n, false],
  ['jge', 1n, 1n, true],
  ['jsge', -1n, -1n, true],
  ['jlt', 1n, -1n, true],
  ['jslt', 1n, 1n, false],
  ['jle', 2n, 1n, false],
  ['jsle', -1n, 1n, true],
  ['jset', 6n, 1n, false],
  ['jset', 6n, 2n, true],
  ['jeq32', 0x100000005n, 5n, true],
  ['jgt32', 0x100000001n, 2n, false],
  ['jsgt32', 0x80000000n, 1n, false],
  ['jslt32', 0xffffffffn, 0n, true],
  ['jle32', 0xffffffff00000003n, 3n, true],
  ['jset32', 0xff00000000n, 0xff00000000n, false],
];

/** Conditional jumps with an immediate operand: [condition, dst, imm, taken]. */
const JUMPS_IMM: readonly [string, bigint, number, boolean][] = [
  ['jeq', 0xffffffff80000000n, -0x80000000, true], // the immediate is sign-extended
  ['jne', 0x80000000n, -0x80000000, true],
  ['jlt', 0xffffffff80000000n, -0x7fffffff, true],
  ['jsge', 0n, -1, true],
  ['jeq32', 0x1_8000_0000n, -0x80000000, true],
];

/** 16 bytes of context memory for the load and store cases. */
const MEMORY: readonly number[] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x80, 0, 0, 0, 0, 0, 0, 0];

const LOADS: readonly [string, bigint][] = [
  ['ldxb %r0, [%r1]', 0x11n],
  ['ldxh %r0, [%r1]', 0x2211n],
  ['ldxw %r0, [%r1]', 0x44332211n],
  ['ldxdw %r0, [%r1]', 0x8877665544332211n],
  ['ldxw %r0, [%r1+12]', 0n],
  ['ldxsb %r0, [%r1+8]', 0xffffffffffffff80n],
  ['ldxsh %r0, [%r1+7]', 0xffffffffffff8088n],
  ['ldxsw %r0, [%r1+4]', 0xffffffff88776655n],
  ['ldxsb %r0, [%r1+1]', 0x22n],
  ['mov %r2, %r1\nadd %r2, 16\nldxb %r0, [%r2-16]', 0x11n],
];

/** Atomics on a stack slot: [operation, old value, src, new value, src afterwards]. */
const ATOMICS: readonly [string, bigint, bigint, bigint, bigint][] = [
  ['lock add', 10n, 5n, 15n, 5n],
  ['lock fetch add', 10n, 5n, 15n, 10n],
  ['lock or', 12n, 10n, 14n, 10n],
  ['lock fetch or', 12n, 10n, 14n, 12n],
  ['lock fetch and', 12n, 10n, 8n, 12n],
  ['lock fetch xor', 12n, 10n, 6n, 12n],
  ['lock xchg', 7n, 9n, 9n, 7n],
  ['lock fetch add32', 0xfffffffffffffff0n, 0x20n, 0xffffffff00000010n, 0xfffffff0n],
  ['lock xor32', 0xaaaaaaaa0000000fn, 0xffffffff00000001n, 0xaaaaaaaa0000000en, 0xffffffff00000001n],
  ['lock xchg32', 0xaaaaaaaa00000007n, 0xffffffff00000009n, 0xaaaaaaaa00000009n, 7n],
];

/** Compare-and-exchange: [operation, old value, src, r0, new value, r0 afterwards]. */
const CMPXCHG: readonly [string, bigint, bigint, bigint, bigint, bigint][] = [
  ['lock cmpxchg', 7n, 9n, 7n, 9n, 7n],
  ['lock cmpxchg', 7n, 9n, 8n, 7n, 7n],
  ['lock cmpxchg32', 0xaaaaaaaa00000007n, 9n, 0xffffffff00000007n, 0xaaaaaaaa00000009n, 7n],
  ['lock cmpxchg32', 0xaaaaaaaa00000007n, 9n, 8n, 0xaaaaaaaa00000007n, 7n],
];

const jump = (cond: string, a: bigint, b: bigint | number) => {
  const operand = typeof b === 'number' ? String(b) : '%r2';
  const setB = typeof b === 'number' ? '' : `lddw %r2, ${U64(b)}\n`;
  return `lddw %r1, ${U64(a)}\n${setB}mov %r0, 0\n${cond} %r1, ${operand}, +1\nexit\nmov %r0, 1\nexit`;
};

const atomic = (op: string, init: bigint, src: bigint, r0: bigint, tail: string) =>
  `lddw %r2, ${U64(init)}\nstxdw [%r10-8], %r2\nlddw %r1, ${U64(src)}\nlddw %r0, ${U64(r0)}\n${op} [%r10-8], %r1\n${tail}exit`;

/** Every case, by group. */
export const ISA_CASES: readonly IsaCase[] = [
  ...ALU64.map(([asm, r0]) => ({ group: 'alu64', name: asm.replaceAll('\n', '; '), asm: `${asm}\nexit`, r0 })),
  ...ALU32.map(([asm, r0]) => ({ group: 'alu32', name: asm.replaceAll('\n', '; '), asm: `${asm}\nexit`, r0 })),
  ...ENDIAN.map(([op, r0]) => ({ group: 'endian', name: op, asm: `lddw %r0, 0x0123456789abcdef\n${op} %r0\nexit`, r0 })),
  ...JUMPS_REG.map(([cond, a, b, taken]) => ({
    group: 'jmp',
    name: `${cond} ${U64(a).toString(16)}, %r = ${U64(b).toString(16)}`,
    asm: jump(cond, a, b),
    r0: taken ? 1n : 0n,
  })),
  ...JUMPS_IMM.map(([cond, a, b, taken]) => ({
    group: 'jmp',
    name: `${cond} ${U64(a).toString(16)}, ${b}`,
    asm: jump(cond, a, b),
    r0: taken ? 1n : 0n,
  })),
  { group: 'jmp', name: 'ja and ja32 both ways', asm: 'mov %r0, 0\nja32 L2\nL1: add %r0, 100\nexit\nL2: add %r0, 1\nja L1', r0: 101n },
  { group: 'jmp', name: 'backward conditional loop', asm: 'mov %r0, 0\nL: add %r0, 1\njlt %r0, 10, L\nexit', r0: 10n },
  ...LOADS.map(([asm, r0]) => ({ group: 'ldx', name: asm.replaceAll('\n', '; '), asm: `${asm}\nexit`, memory: MEMORY, r0 })),
  { group: 'ldx', name: 'r2 is the memory length', asm: 'mov %r0, %r2\nexit', memory: MEMORY, r0: 16n },
  {
    group: 'st',
    name: 'stores little endian in place; stdw sign-extends its immediate',
    asm: 'mov %r2, 0x12345678\nstxh [%r1+10], %r2\nstdw [%r1], -2\nstb [%r1+15], 0x1ff\nmov %r0, 0\nexit',
    memory: MEMORY,
    r0: 0n,
    memoryAfter: [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0x78, 0x56, 0, 0, 0, 0xff],
  },
  {
    group: 'st',
    name: 'the stack holds 512 bytes below r10',
    asm: 'stw [%r10-512], 7\nstxdw [%r10-8], %r10\nldxw %r0, [%r10-512]\nexit',
    r0: 7n,
  },
  ...ATOMICS.flatMap(([op, init, src, after, srcAfter]) => [
    {
      group: 'atomic',
      name: `${op} [${init.toString(16)}], ${src.toString(16)}: memory`,
      asm: atomic(op, init, src, 0n, 'ldxdw %r0, [%r10-8]\n'),
      r0: after,
    },
    {
      group: 'atomic',
      name: `${op} [${init.toString(16)}], ${src.toString(16)}: src`,
      asm: atomic(op, init, src, 0n, 'mov %r0, %r1\n'),
      r0: srcAfter,
    },
  ]),
  ...CMPXCHG.flatMap(([op, init, src, r0, after, r0After]) => [
    {
      group: 'atomic',
      name: `${op} [${init.toString(16)}], r0 ${r0.toString(16)}: memory`,
      asm: atomic(op, init, src, r0, 'ldxdw %r0, [%r10-8]\n'),
      r0: after,
    },
    { group: 'atomic', name: `${op} [${init.toString(16)}], r0 ${r0.toString(16)}: r0`, asm: atomic(op, init, src, r0, ''), r0: r0After },
  ]),
  {
    group: 'call',
    name: 'a local call has its own stack frame and preserves r6..r9',
    asm: `mov %r6, 1
mov %r9, 9
stdw [%r10-8], 100
call local f
ldxdw %r1, [%r10-8]
add %r0, %r1
add %r0, %r6
add %r0, %r9
exit
f:
stdw [%r10-8], 5
ldxdw %r0, [%r10-8]
mov %r6, 50
mov %r9, 50
exit`,
    r0: 5n + 100n + 1n + 9n,
  },
  {
    group: 'call',
    name: "a callee reads the caller's stack through a pointer, r1..r5 pass",
    asm: `stdw [%r10-8], 40
mov %r1, %r10
add %r1, -8
mov %r2, 2
call local f
exit
f:
ldxdw %r0, [%r1]
add %r0, %r2
exit`,
    r0: 42n,
  },
  {
    group: 'call',
    name: '8 frames deep (main + 7)',
    asm: 'mov %r1, 6\ncall local f\nexit\nf: jeq %r1, 0, +3\nsub %r1, 1\ncall local f\nexit\nmov %r0, 42\nexit',
    r0: 42n,
  },
];
