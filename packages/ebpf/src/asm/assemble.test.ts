import { describe, expect, it } from 'vitest';
import { type Insn, encodeProgram } from '../insn.js';
import { AssembleError, assemble, rawInsn } from './assemble.js';

const hex = (insns: Insn[]) => Buffer.from(encodeProgram(insns)).toString('hex');
const one = (line: string) => hex(assemble(line));

function assembleError(text: string): AssembleError {
  try {
    assemble(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AssembleError);
    return err as AssembleError;
  }
  throw new Error(`assembled: ${text}`);
}

describe('assemble', () => {
  it('encodes ALU forms of both widths, immediate and register', () => {
    expect(one('mov %r0, 1')).toBe('b700000001000000');
    expect(one('mov32 %r1, 0x87654321')).toBe('b401000021436587');
    expect(one('add32 %r0, -3')).toBe('04000000fdffffff');
    expect(one('add %r0, %r1')).toBe('0f10000000000000');
    expect(one('add64 %r0, %r1')).toBe('0f10000000000000');
    expect(one('sdiv32 %r2, %r3')).toBe('3c32010000000000');
    expect(one('smod %r2, 7')).toBe('9702010007000000');
    expect(one('arsh32 %r4, 31')).toBe('c40400001f000000');
    expect(one('neg %r5')).toBe('8705000000000000');
    expect(one('neg32 %r5')).toBe('8405000000000000');
    expect(one('movsx1632 %r0, %r1')).toBe('bc10100000000000');
    expect(one('movsx3264 %r0, %r1')).toBe('bf10200000000000');
    expect(one('movsx864 %r0, %r1')).toBe('bf10080000000000');
  });

  it('encodes byte swaps', () => {
    expect(one('le16 %r0')).toBe('d400000010000000');
    expect(one('be32 %r0')).toBe('dc00000020000000');
    expect(one('bswap64 %r0')).toBe('d700000040000000');
    expect(one('swap16 %r0')).toBe('d700000010000000');
  });

  it('encodes loads, stores and lddw', () => {
    expect(one('ldxh %r3, [%r1+12]')).toBe('69130c0000000000');
    expect(one('ldxdw %r0, [%r1]')).toBe('7910000000000000');
    expect(one('ldxsb %r0, [%r1+0x2]')).toBe('9110020000000000');
    expect(one('stxdw [%r10-8], %r0')).toBe('7b0af8ff00000000');
    expect(one('stb [%r1+2], 0x11')).toBe('7201020011000000');
    expect(one('stdw [%r1], -1')).toBe('7a010000ffffffff');
    expect(one('lddw %r0, 0x123456789')).toBe('18000000896745230000000001000000');
    expect(one('lddw %r1, -1')).toBe('18010000ffffffff00000000ffffffff');
    expect(one('lddw %r1, 3, map_fd')).toBe('18110000030000000000000000000000');
    expect(one('ldabsh 12')).toBe('280000000c000000');
    expect(one('ldindb %r2, 4')).toBe('5020000004000000');
  });

  it('encodes atomics', () => {
    expect(one('lock add [%r10-8], %r1')).toBe('db1af8ff00000000');
    expect(one('lock fetch add32 [%r10-8], %r1')).toBe('c31af8ff01000000');
    expect(one('lock fetch xor [%r1+4], %r2')).toBe('db210400a1000000');
    expect(one('lock and32 [%r1], %r2')).toBe('c321000050000000');
    expect(one('lock xchg [%r10-8], %r1')).toBe('db1af8ffe1000000');
    expect(one('lock cmpxchg32 [%r10-8], %r1')).toBe('c31af8fff1000000');
  });

  it('resolves labels and offsets for jumps and local calls', () => {
    const text = `
      mov %r0, 0          # a comment
      jeq %r1, 0x1, L1
      jne32 %r1, %r2, +1
      ja L2
    L1:
      call local f
    L2: exit
    f:
      call 5
      exit`;
    expect(hex(assemble(text))).toBe(
      [
        'b700000000000000',
        '1501020001000000', // jeq +2
        '5e21010000000000', // jne32 +1
        '0500010000000000', // ja +1
        '8510000001000000', // call local +1
        '9500000000000000',
        '8500000005000000',
        '9500000000000000',
      ].join(''),
    );
    expect(one('ja32 -1')).toBe('06000000ffffffff');
    expect(hex(assemble('L: ja32 L'))).toBe('06000000ffffffff');
  });

  it('counts lddw as two slots when resolving labels', () => {
    expect(hex(assemble('ja L\nlddw %r0, 1\nL: exit'))).toBe('050002000000000018000000010000000000000000000000' + '9500000000000000');
  });

  it('lets `exit` name the first exit unless a label says otherwise', () => {
    expect(hex(assemble('jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit'))).toBe(
      '1501010000000000b7000000010000009500000000000000' + '9500000000000000',
    );
    expect(hex(assemble('ja exit\nexit\nexit:\nexit'))).toBe('050001000000000095000000000000009500000000000000');
  });

  it('accepts statements separated by semicolons, `//` comments, registers without %, and .raw words', () => {
    expect(hex(assemble('mov r0, 2; exit // done'))).toBe('b7000000020000009500000000000000');
    expect(hex(assemble('.raw 0x5566778800000018'))).toBe('1800000088776655');
    expect(rawInsn(0x0000000100fe21b7n)).toEqual({ code: 0xb7, dst: 1, src: 2, off: 0xfe, imm: 1 });
  });

  it('reports errors with line and column', () => {
    let e = assembleError('mov %r0, 1\n  frob %r0');
    expect([e.code, e.line, e.column]).toEqual(['ASSEMBLE', 2, 3]);
    expect(e.message).toMatch(/unknown mnemonic 'frob'/);
    e = assembleError('mov %r0, %r11');
    expect([e.line, e.column]).toEqual([1, 10]);
    e = assembleError('mov32 %r0, 0x100000000');
    expect(e.message).toMatch(/out of range/);
    e = assembleError('exit\n\n jeq %r1, 1, nowhere');
    expect([e.line, e.column]).toEqual([3, 14]);
    expect(e.message).toMatch(/undefined label 'nowhere'/);
    e = assembleError('L1:\nL1: exit');
    expect([e.line, e.column]).toEqual([2, 1]);
    e = assembleError('ldxw %r0, [%r1+40000]');
    expect(e.message).toMatch(/memory offset/);
    e = assembleError('call %r2');
    expect(e.message).toMatch(/callx/);
    e = assembleError('add %r0');
    expect(e.message).toMatch(/takes 2 operands, got 1/);
    e = assembleError('ldxsdw %r0, [%r1]');
    expect(e.message).toMatch(/sign-extending 64-bit/);
    e = assembleError('lock nand [%r1], %r2');
    expect(e.column).toBe(6);
    e = assembleError('mov %r0, , 1');
    expect(e.message).toMatch(/empty operand/);
  });

  it('refuses a jump offset beyond 16 bits to a label', () => {
    const far = ['ja L', ...Array.from({ length: 0x8000 }, () => 'mov %r0, 0'), 'L: exit'].join('\n');
    expect(assembleError(far).message).toMatch(/beyond a 16-bit offset/);
    expect(assemble(far.replace('ja L', 'ja32 L'))[0]?.imm).toBe(0x8000);
  });
});
