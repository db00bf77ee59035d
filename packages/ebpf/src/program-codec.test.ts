import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EbpfError } from './errors.js';
import { type Insn, encodeProgram, insn } from './insn.js';
import { InsnDecodeError, fromInsns, toInsns } from './program-codec.js';
import type { Op } from './program.js';
import { arbOp } from './test-support/arb-op.js';

const hex = (insns: Insn[]) => Buffer.from(encodeProgram(insns)).toString('hex');

/** The opcodes RFC 9669 defines (its appendix A), written out by class. */
function rfcOpcodes(): Set<number> {
  const s = new Set<number>();
  for (const cls of [0x04, 0x07]) {
    for (let op = 0x00; op <= 0xc0; op += 0x10) {
      s.add(cls | op);
      if (op !== 0x80) s.add(cls | 0x08 | op); // no neg with a register source
    }
    s.add(cls | 0xd0); // le / bswap
  }
  s.add(0x04 | 0x08 | 0xd0); // be (ALU only)
  for (const cls of [0x05, 0x06]) {
    s.add(cls); // ja / gotol
    for (const op of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) {
      s.add(cls | op);
      s.add(cls | 0x08 | op);
    }
  }
  s.add(0x85).add(0x95); // call, exit
  s.add(0x18); // lddw
  for (const code of [0x20, 0x28, 0x30, 0x40, 0x48, 0x50]) s.add(code); // legacy abs/ind
  for (const size of [0x00, 0x08, 0x10, 0x18]) {
    s.add(0x61 | size)
      .add(0x62 | size)
      .add(0x63 | size);
  }
  s.add(0x81).add(0x89).add(0x91); // ldxs{w,h,b}
  s.add(0xc3).add(0xdb); // atomics
  return s;
}

/** Does some plausible choice of fields make `code` decode? */
function decodes(code: number): boolean {
  for (const imm of [0, 16, 1]) {
    try {
      fromInsns([insn(code, 0, 0, 0, imm), insn(0, 0, 0, 0, 0)].slice(0, code === 0x18 ? 2 : 1));
      return true;
    } catch (err) {
      if (!(err instanceof InsnDecodeError)) throw err;
    }
  }
  return false;
}

describe('typed instruction objects', () => {
  it('round-trips every valid instruction object: object -> slots -> object', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 12 }), (ops) => {
        expect(fromInsns(toInsns(ops))).toEqual(ops);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every slot sequence that decodes: slots -> objects -> slots', () => {
    const field = (min: number, max: number) =>
      fc.oneof(fc.constant(0), fc.integer({ min, max }), fc.constantFrom(1, 8, 16, 32, 64, 0xe1, 0xf1));
    const slot = fc.record({
      code: fc.integer({ min: 0, max: 0xff }),
      dst: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 15 })),
      src: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 15 })),
      off: field(-0x8000, 0x7fff),
      imm: field(-0x8000_0000, 0x7fff_ffff),
    });
    let decoded = 0;
    fc.assert(
      fc.property(fc.array(slot, { minLength: 1, maxLength: 3 }), (insns) => {
        let ops: Op[];
        try {
          ops = fromInsns(insns);
        } catch (err) {
          expect(err).toBeInstanceOf(InsnDecodeError);
          return;
        }
        decoded++;
        expect(toInsns(ops)).toEqual(insns);
      }),
      { numRuns: 5000 },
    );
    expect(decoded).toBeGreaterThan(100);
  });

  it('accepts exactly the opcodes of RFC 9669', () => {
    const expected = rfcOpcodes();
    const actual = new Set<number>();
    for (let code = 0; code < 256; code++) if (decodes(code)) actual.add(code);
    expect([...actual].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
  });

  it('encodes the variant forms with their RFC 9669 fields', () => {
    expect(hex(toInsns([{ op: 'alu', width: 64, operation: 'sdiv', dst: 1, source: { imm: -3 } }]))).toBe('37010100fdffffff');
    expect(hex(toInsns([{ op: 'alu', width: 32, operation: 'smod', dst: 1, source: { reg: 2 } }]))).toBe('9c21010000000000');
    expect(hex(toInsns([{ op: 'movsx', width: 64, bits: 32, dst: 0, src: 1 }]))).toBe('bf10200000000000');
    expect(hex(toInsns([{ op: 'movsx', width: 32, bits: 8, dst: 0, src: 1 }]))).toBe('bc10080000000000');
    expect(hex(toInsns([{ op: 'endian', order: 'be', bits: 16, dst: 3 }]))).toBe('dc03000010000000');
    expect(hex(toInsns([{ op: 'endian', order: 'bswap', bits: 64, dst: 3 }]))).toBe('d703000040000000');
    expect(hex(toInsns([{ op: 'gotol', off: -2 }]))).toBe('06000000feffffff');
    expect(hex(toInsns([{ op: 'ldx', size: 'h', sign: true, dst: 2, src: 1, off: 4 }]))).toBe('8912040000000000');
    expect(hex(toInsns([{ op: 'atomic', width: 32, operation: 'add', fetch: true, dst: 10, src: 1, off: -8 }]))).toBe('c31af8ff01000000');
    expect(hex(toInsns([{ op: 'atomic', width: 64, operation: 'cmpxchg', fetch: true, dst: 10, src: 1, off: -8 }]))).toBe(
      'db1af8fff1000000',
    );
    expect(hex(toInsns([{ op: 'lddw', dst: 0, imm: 0x1122334455667788n, pseudo: 0 }]))).toBe('18000000887766550000000044332211');
    expect(hex(toInsns([{ op: 'call', kind: 'local', imm: 5 }]))).toBe('8510000005000000');
  });

  it('refuses slots RFC 9669 does not define, naming the slot', () => {
    const refuse = (insns: Insn[], index: number, text: RegExp) => {
      let caught: unknown;
      try {
        fromInsns(insns);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InsnDecodeError);
      const e = caught as InsnDecodeError;
      expect(e.code).toBe('DECODE');
      expect(e.index).toBe(index);
      expect(e.message).toMatch(text);
    };
    const exit = insn(0x95, 0, 0, 0, 0);
    refuse([exit, insn(0xb7, 0, 1, 0, 5)], 1, /reserved field src/);
    refuse([insn(0x8d, 2, 0, 0, 0)], 0, /callx/);
    refuse([insn(0xb7, 11, 0, 0, 0)], 0, /r11/);
    refuse([exit, exit, insn(0x18, 0, 0, 0, 1)], 2, /second slot/);
    refuse([insn(0x18, 0, 0, 0, 1), insn(0x95, 0, 0, 0, 0)], 1, /second slot/);
    refuse([insn(0xdb, 1, 2, 0, 0x02)], 0, /atomic operation/);
    refuse([insn(0xd4, 1, 0, 0, 8)], 0, /byte swap width 8/);
    refuse([insn(0xbc, 1, 2, 32, 0)], 0, /movsx32 from 32 bits/);
    refuse([insn(0x37, 1, 0, 2, 3)], 0, /reserved field off/);
    refuse([insn(0x85, 0, 3, 0, 0)], 0, /src 3/);
  });

  it('refuses objects that are not instructions with EINVAL', () => {
    const bad = [
      { op: 'alu', width: 64, operation: 'add', dst: 11, source: { imm: 0 } },
      { op: 'alu', width: 16, operation: 'add', dst: 1, source: { imm: 0 } },
      { op: 'alu', width: 64, operation: 'pow', dst: 1, source: { imm: 0 } },
      { op: 'alu', width: 64, operation: 'add', dst: 1, source: {} },
      { op: 'ldx', size: 'dw', sign: true, dst: 1, src: 1, off: 0 },
      { op: 'movsx', width: 32, bits: 32, dst: 1, src: 1 },
      { op: 'ja', off: 0x8000 },
      { op: 'atomic', width: 64, operation: 'xchg', fetch: false, dst: 1, src: 1, off: 0 },
      { op: 'lddw', dst: 1, imm: 1n << 64n, pseudo: 0 },
      { op: 'lddw', dst: 1, imm: 5, pseudo: 0 },
      { op: 'nope' },
      null,
    ];
    for (const o of bad) {
      expect(() => toInsns([o as unknown as Op])).toThrow(EbpfError);
      try {
        toInsns([o as unknown as Op]);
      } catch (err) {
        expect((err as EbpfError).code).toBe('EINVAL');
      }
    }
    expect(() => fromInsns('x' as unknown as Insn[])).toThrow(EbpfError);
    for (const garbage of [null, 5, { code: 'b7', dst: 0, src: 0, off: 0, imm: 0 }, { code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 ** 40 }, {}]) {
      expect(() => fromInsns([garbage as unknown as Insn])).toThrow(EbpfError);
      expect(() => fromInsns([insn(0x18, 0, 0, 0, 0), garbage as unknown as Insn])).toThrow(EbpfError);
    }
  });

  it('reads lddw as one object with an unsigned 64-bit immediate', () => {
    const ops = fromInsns([insn(0x18, 3, 0, 0, -1), insn(0, 0, 0, 0, -2)]);
    expect(ops).toEqual([{ op: 'lddw', dst: 3, imm: 0xfffffffe_ffffffffn, pseudo: 0 }]);
    expect(toInsns([{ op: 'lddw', dst: 3, imm: -(1n << 32n) - 1n, pseudo: 0 }])).toEqual([insn(0x18, 3, 0, 0, -1), insn(0, 0, 0, 0, -2)]);
  });
});
