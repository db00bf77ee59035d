import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EbpfError } from '../errors.js';
import { insn } from '../insn.js';
import { toInsns } from '../program-codec.js';
import { arbOp } from '../test-support/arb-op.js';
import { assemble } from './assemble.js';
import { disassemble, formatOp } from './disassemble.js';

describe('disassemble', () => {
  it('writes text that assembles back to the same slots (valid programs, labels and offsets)', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 16 }), fc.boolean(), (ops, labels) => {
        const insns = toInsns(ops);
        expect(assemble(disassemble(insns, { labels }))).toEqual(insns);
      }),
      { numRuns: 1500 },
    );
  });

  it('writes short jumps as labels', () => {
    const insns = toInsns([
      { op: 'jmp', width: 64, cond: 'jeq', dst: 1, source: { imm: 1 }, off: 2 },
      { op: 'lddw', dst: 0, imm: 0x123456789n, pseudo: 0 },
      { op: 'call', kind: 'local', imm: 1 },
      { op: 'exit' },
      { op: 'ja', off: -5 },
      { op: 'jmp', width: 32, cond: 'jsgt', dst: 2, source: { reg: 3 }, off: -3 },
    ]);
    expect(disassemble(insns)).toBe(
      [
        'jeq %r1, 1, L2',
        'L1:',
        'lddw %r0, 0x123456789',
        'L2:',
        'call local L4',
        'L3:',
        'exit',
        'L4:',
        'ja L1',
        'jsgt32 %r2, %r3, L3',
        '',
      ].join('\n'),
    );
  });

  it('uses offsets for targets outside the program or inside an lddw', () => {
    const insns = toInsns([
      { op: 'ja', off: 1 },
      { op: 'lddw', dst: 0, imm: 1n, pseudo: 0 },
      { op: 'ja', off: 10 },
    ]);
    expect(disassemble(insns)).toBe('ja +1\nlddw %r0, 0x1\nja +10\n');
    expect(assemble(disassemble(insns))).toEqual(insns);
  });

  it('writes any slots, valid or not, as text that assembles back to them (invalid ones as .raw)', () => {
    const slot = fc.record({
      code: fc.integer({ min: 0, max: 0xff }),
      dst: fc.integer({ min: 0, max: 15 }),
      src: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 15 })),
      off: fc.oneof(fc.constant(0), fc.integer({ min: -0x8000, max: 0x7fff })),
      imm: fc.oneof(fc.constant(0), fc.constant(16), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff })),
    });
    fc.assert(
      fc.property(fc.array(slot, { maxLength: 8 }), (insns) => {
        expect(assemble(disassemble(insns))).toEqual(insns);
      }),
      { numRuns: 2000 },
    );
    expect(disassemble([insn(0x8d, 2, 0, 0, 0)])).toBe('.raw 0x000000000000028d\n');
  });

  it('formats every instruction form in the suite syntax', () => {
    expect(formatOp({ op: 'alu', width: 32, operation: 'mov', dst: 1, source: { imm: -0x789abcdf } })).toBe('mov32 %r1, 0x87654321');
    expect(formatOp({ op: 'alu', width: 64, operation: 'and', dst: 1, source: { imm: -0x80000000 } })).toBe('and %r1, -0x80000000');
    expect(formatOp({ op: 'atomic', width: 32, operation: 'or', fetch: true, dst: 10, src: 1, off: -8 })).toBe(
      'lock fetch or32 [%r10-8], %r1',
    );
    expect(formatOp({ op: 'atomic', width: 64, operation: 'xchg', fetch: true, dst: 10, src: 1, off: 0 })).toBe('lock xchg [%r10], %r1');
    expect(formatOp({ op: 'ldx', size: 'w', sign: true, dst: 1, src: 2, off: 3 })).toBe('ldxsw %r1, [%r2+3]');
    expect(formatOp({ op: 'movsx', width: 64, bits: 16, dst: 1, src: 2 })).toBe('movsx1664 %r1, %r2');
    expect(formatOp({ op: 'endian', order: 'bswap', bits: 32, dst: 4 })).toBe('bswap32 %r4');
    expect(formatOp({ op: 'gotol', off: 70000 })).toBe('ja32 +70000');
    expect(formatOp({ op: 'call', kind: 'kfunc', imm: 7 })).toBe('call runtime 7');
    expect(formatOp({ op: 'lddw', dst: 1, imm: 4n, pseudo: 2 })).toBe('lddw %r1, 0x4, map_value');
  });

  it('refuses input that is not slots', () => {
    expect(() => disassemble('nope' as never)).toThrow(EbpfError);
    expect(() => disassemble([null as never])).toThrow(EbpfError);
  });
});
