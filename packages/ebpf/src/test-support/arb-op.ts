/**
 * fast-check arbitraries of typed instruction objects: every form of RFC 9669, with
 * every field over its whole valid range (for the round-trip property tests).
 */
import fc from 'fast-check';
import type { AluOperation, AtomicOperation, JmpCondition, MemSize, Op, Source } from '../program.js';

const reg = fc.integer({ min: 0, max: 10 });
const imm32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const off16 = fc.integer({ min: -0x8000, max: 0x7fff });
const width = fc.constantFrom(32 as const, 64 as const);
const source: fc.Arbitrary<Source> = fc.oneof(fc.record({ reg }), fc.record({ imm: imm32 }));
const size = fc.constantFrom<MemSize>('b', 'h', 'w', 'dw');

/** Every ALU operation name. */
export const ALU_OPERATIONS: readonly AluOperation[] = [
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
];
/** Every jump condition. */
export const JMP_CONDITIONS: readonly JmpCondition[] = ['jeq', 'jgt', 'jge', 'jset', 'jne', 'jsgt', 'jsge', 'jlt', 'jle', 'jslt', 'jsle'];
/** Every atomic operation. */
export const ATOMIC_OPERATIONS: readonly AtomicOperation[] = ['add', 'or', 'and', 'xor', 'xchg', 'cmpxchg'];

/** Any valid instruction object. */
export const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('alu' as const), width, operation: fc.constantFrom(...ALU_OPERATIONS), dst: reg, source }),
  fc.record({ op: fc.constant('neg' as const), width, dst: reg }),
  fc.oneof(
    fc.record({
      op: fc.constant('movsx' as const),
      width: fc.constant(32 as const),
      bits: fc.constantFrom(8 as const, 16 as const),
      dst: reg,
      src: reg,
    }),
    fc.record({
      op: fc.constant('movsx' as const),
      width: fc.constant(64 as const),
      bits: fc.constantFrom(8 as const, 16 as const, 32 as const),
      dst: reg,
      src: reg,
    }),
  ),
  fc.record({
    op: fc.constant('endian' as const),
    order: fc.constantFrom('le' as const, 'be' as const, 'bswap' as const),
    bits: fc.constantFrom(16 as const, 32 as const, 64 as const),
    dst: reg,
  }),
  fc.record({ op: fc.constant('jmp' as const), width, cond: fc.constantFrom(...JMP_CONDITIONS), dst: reg, source, off: off16 }),
  fc.record({ op: fc.constant('ja' as const), off: off16 }),
  fc.record({ op: fc.constant('gotol' as const), off: imm32 }),
  fc.oneof(
    fc.record({ op: fc.constant('ldx' as const), size, sign: fc.constant(false), dst: reg, src: reg, off: off16 }),
    fc.record({
      op: fc.constant('ldx' as const),
      size: fc.constantFrom<MemSize>('b', 'h', 'w'),
      sign: fc.constant(true),
      dst: reg,
      src: reg,
      off: off16,
    }),
  ),
  fc.record({ op: fc.constant('st' as const), size, dst: reg, off: off16, imm: imm32 }),
  fc.record({ op: fc.constant('stx' as const), size, dst: reg, src: reg, off: off16 }),
  fc
    .record({
      op: fc.constant('atomic' as const),
      width,
      operation: fc.constantFrom(...ATOMIC_OPERATIONS),
      fetch: fc.boolean(),
      dst: reg,
      src: reg,
      off: off16,
    })
    .map((o) => (o.operation === 'xchg' || o.operation === 'cmpxchg' ? { ...o, fetch: true } : o)),
  fc.record({
    op: fc.constant('lddw' as const),
    dst: reg,
    imm: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    pseudo: fc.integer({ min: 0, max: 6 }),
  }),
  fc.record({ op: fc.constant('ldabs' as const), size: fc.constantFrom('b' as const, 'h' as const, 'w' as const), imm: imm32 }),
  fc.record({ op: fc.constant('ldind' as const), size: fc.constantFrom('b' as const, 'h' as const, 'w' as const), src: reg, imm: imm32 }),
  fc.record({ op: fc.constant('call' as const), kind: fc.constantFrom('helper' as const, 'local' as const, 'kfunc' as const), imm: imm32 }),
  fc.constant({ op: 'exit' as const }),
);
