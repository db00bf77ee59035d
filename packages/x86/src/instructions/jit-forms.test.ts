import { describe, expect, it } from 'vitest';
import { CodeBuffer } from '../code-buffer.js';
import { ImmediateRangeError, OperandError } from '../errors.js';
import { byte, dword, type Mem, ptr, qword, word } from '../memory.js';
import { GP8, GP16, GP32, GP64, type Gp, type Gp64, type Width } from '../registers.js';
import { decodeOne, hex, type OracleOperand } from '../test-support/iced-oracle.js';
import { SHIFT_OPS, type ShiftOp } from './alu.js';
import { LOCK_ALU_OPS, type LockAluOp, lockAlu, lockCmpxchg } from './atomic.js';
import { bswap, movsx } from './extend.js';
import { cdq, cqo, div, idiv, imul, mul, neg, not } from './muldiv.js';
import { shiftCl } from './shift-cl.js';

// The forms the eBPF JIT needs beyond the dispatcher's: every one decoded back with iced-x86.

const REGS: Record<Width, readonly Gp[]> = { 64: GP64, 32: GP32, 16: GP16, 8: GP8 };
const WIDTHS: readonly Width[] = [64, 32, 16, 8];
const MEMS: Record<Width, (base: Gp64, disp?: number) => Mem> = { 64: qword, 32: dword, 16: word, 8: byte };
const DISPS = [0, 1, -1, 127, -128, 128, -129, 0x7fff_ffff, -0x8000_0000];

function enc(emit: (buf: CodeBuffer) => void): Uint8Array {
  const buf = new CodeBuffer(0n);
  emit(buf);
  return buf.finish();
}

function expectInsn(bytes: Uint8Array, mnemonic: string, operands: readonly OracleOperand[], lock = false): void {
  const d = decodeOne(bytes);
  expect({ hex: hex(bytes), mnemonic: d.mnemonic, operands: d.operands, length: d.length, lock: d.lock }).toEqual({
    hex: hex(bytes),
    mnemonic,
    operands,
    length: bytes.length,
    lock,
  });
}

/** Nothing written when a form throws. */
function expectRejected(emit: (buf: CodeBuffer) => void, error: new (...args: never[]) => Error): void {
  const buf = new CodeBuffer(0n);
  expect(() => emit(buf)).toThrow(error);
  expect(buf.length).toBe(0);
}

const r = (name: string): OracleOperand => ({ reg: name });
const m = (base: Gp64, disp: number, bits: number): OracleOperand => ({ mem: { base, disp: BigInt(disp), bits } });
const immOf = (value: number, bits: Width): OracleOperand => ({
  imm: bits === 64 ? BigInt(value) : BigInt.asUintN(bits, BigInt(value)),
});

describe('imul (two- and three-operand), group 3 (neg/not/mul/div/idiv), cqo/cdq', () => {
  it.each([64, 32, 16] as const)('imul reg, reg / reg, mem / reg, r/m, imm at %i bits', (bits) => {
    for (const dst of REGS[bits]) {
      for (const src of REGS[bits])
        expectInsn(
          enc((b) => imul(b, dst, src)),
          'imul',
          [r(dst), r(src)],
        );
      for (const base of GP64)
        expectInsn(
          enc((b) => imul(b, dst, MEMS[bits](base, 8))),
          'imul',
          [r(dst), m(base, 8, bits)],
        );
      for (const value of [0, 1, -1, 127, -128, 128, -129, 0x7fff, -0x8000, ...(bits === 16 ? [] : [0x7fff_ffff, -0x8000_0000])]) {
        const bytes = enc((b) => imul(b, dst, dst, value));
        expectInsn(bytes, 'imul', [r(dst), r(dst), immOf(value, bits)]);
        const short = value >= -128 && value <= 127;
        expect(bytes[bytes.length - (short ? 1 : bits === 16 ? 2 : 4) - 2]).toBe(short ? 0x6b : 0x69);
      }
    }
    expect(hex(enc((b) => imul(b, 'rax', 'rbx')))).toBe('480fafc3');
  });

  it('imul rejects byte operands, mixed widths and immediates out of range, writing nothing', () => {
    expectRejected((b) => imul(b, 'al', 'bl'), OperandError);
    expectRejected((b) => imul(b, 'rax', 'ebx'), OperandError);
    expectRejected((b) => imul(b, 'rax', 'rbx', 0x8000_0000), ImmediateRangeError);
    expectRejected((b) => imul(b, 'ax', 'bx', 0x10000), ImmediateRangeError);
    expectRejected((b) => imul(b, 'rax', 'rbx', '1' as unknown as number), OperandError);
  });

  const group3 = [
    ['neg', neg],
    ['not', not],
    ['mul', mul],
    ['div', div],
    ['idiv', idiv],
  ] as const;

  it.each(WIDTHS)('neg/not/mul/div/idiv on every %i-bit register and on memory', (bits) => {
    for (const [name, emit] of group3) {
      for (const reg of REGS[bits])
        expectInsn(
          enc((b) => emit(b, reg)),
          name,
          [r(reg)],
        );
      for (const base of GP64)
        for (const disp of DISPS)
          expectInsn(
            enc((b) => emit(b, MEMS[bits](base, disp))),
            name,
            [m(base, disp, bits)],
          );
    }
  });

  it('group 3 rejects a width-less memory operand and unknown registers', () => {
    for (const [, emit] of group3) {
      expectRejected((b) => emit(b, ptr('rax')), OperandError);
      expectRejected((b) => emit(b, 'xmm1' as Gp), OperandError);
    }
  });

  it('cqo and cdq', () => {
    expect(hex(enc(cqo))).toBe('4899');
    expect(decodeOne(enc(cqo)).mnemonic).toBe('cqo');
    expect(hex(enc(cdq))).toBe('99');
    expect(decodeOne(enc(cdq)).mnemonic).toBe('cdq');
  });
});

describe('movsx / movsxd and bswap', () => {
  it('movsx from bytes and words into 16/32/64-bit registers, registers and memory', () => {
    for (const dst of [...GP16, ...GP32, ...GP64]) {
      for (const src of GP8)
        expectInsn(
          enc((b) => movsx(b, dst, src)),
          'movsx',
          [r(dst), r(src)],
        );
      for (const base of GP64)
        expectInsn(
          enc((b) => movsx(b, dst, byte(base, -3))),
          'movsx',
          [r(dst), m(base, -3, 8)],
        );
    }
    for (const dst of [...GP32, ...GP64]) {
      for (const src of GP16)
        expectInsn(
          enc((b) => movsx(b, dst, src)),
          'movsx',
          [r(dst), r(src)],
        );
      for (const base of GP64)
        expectInsn(
          enc((b) => movsx(b, dst, word(base, 300))),
          'movsx',
          [r(dst), m(base, 300, 16)],
        );
    }
  });

  it('movsxd from 32-bit registers and memory into 64-bit registers', () => {
    for (const dst of GP64) {
      for (const src of GP32)
        expectInsn(
          enc((b) => movsx(b, dst, src)),
          'movsxd',
          [r(dst), r(src)],
        );
      for (const base of GP64)
        for (const disp of DISPS)
          expectInsn(
            enc((b) => movsx(b, dst, dword(base, disp))),
            'movsxd',
            [r(dst), m(base, disp, 32)],
          );
    }
    expect(hex(enc((b) => movsx(b, 'rax', 'ecx')))).toBe('4863c1');
  });

  it('movsx rejects widening that is not a widening, writing nothing', () => {
    expectRejected((b) => movsx(b, 'eax', 'ecx'), OperandError);
    expectRejected((b) => movsx(b, 'ax', 'ecx'), OperandError);
    expectRejected((b) => movsx(b, 'al', 'cl'), OperandError);
    expectRejected((b) => movsx(b, 'rax', ptr('rcx')), OperandError);
    expectRejected((b) => movsx(b, 'rax', qword('rcx')), OperandError);
  });

  it('bswap every 32- and 64-bit register; rejects 16- and 8-bit ones', () => {
    for (const reg of [...GP32, ...GP64])
      expectInsn(
        enc((b) => bswap(b, reg)),
        'bswap',
        [r(reg)],
      );
    expect(hex(enc((b) => bswap(b, 'r15')))).toBe('490fcf');
    expectRejected((b) => bswap(b, 'ax'), OperandError);
    expectRejected((b) => bswap(b, 'al'), OperandError);
  });
});

describe('shifts by cl', () => {
  it('every operation, width and register, and memory operands', () => {
    for (const op of Object.keys(SHIFT_OPS) as ShiftOp[])
      for (const bits of WIDTHS) {
        for (const reg of REGS[bits])
          expectInsn(
            enc((b) => shiftCl(b, op, reg)),
            op,
            [r(reg), r('cl')],
          );
        for (const base of GP64)
          expectInsn(
            enc((b) => shiftCl(b, op, MEMS[bits](base, 16))),
            op,
            [m(base, 16, bits), r('cl')],
          );
      }
    expect(hex(enc((b) => shiftCl(b, 'shl', 'rdi')))).toBe('48d3e7');
  });

  it('rejects unknown operations and width-less memory, writing nothing', () => {
    expectRejected((b) => shiftCl(b, 'rcl' as ShiftOp, 'rax'), OperandError);
    expectRejected((b) => shiftCl(b, 'toString' as ShiftOp, 'rax'), OperandError);
    expectRejected((b) => shiftCl(b, 'shl', ptr('rax')), OperandError);
  });
});

describe('locked read-modify-write forms', () => {
  it('lock add/or/and/sub/xor [mem], reg at every width, register and base', () => {
    for (const op of LOCK_ALU_OPS)
      for (const bits of WIDTHS)
        for (const reg of REGS[bits])
          for (const base of GP64)
            expectInsn(
              enc((b) => lockAlu(b, op, MEMS[bits](base, -16), reg)),
              op,
              [m(base, -16, bits), r(reg)],
              true,
            );
    expect(hex(enc((b) => lockAlu(b, 'add', qword('rdi', 8), 'rsi')))).toBe('f0480177' + '08');
  });

  it('lock cmpxchg [mem], reg at every width, register, base and displacement class', () => {
    for (const bits of WIDTHS)
      for (const reg of REGS[bits])
        for (const base of GP64)
          for (const disp of DISPS)
            expectInsn(
              enc((b) => lockCmpxchg(b, MEMS[bits](base, disp), reg)),
              'cmpxchg',
              [m(base, disp, bits), r(reg)],
              true,
            );
  });

  it('reject cmp (not lockable), register destinations and mixed widths, writing nothing', () => {
    expectRejected((b) => lockAlu(b, 'cmp' as LockAluOp, qword('rax'), 'rbx'), OperandError);
    expectRejected((b) => lockAlu(b, 'add', 'rax' as unknown as Mem, 'rbx'), OperandError);
    expectRejected((b) => lockAlu(b, 'add', qword('rax'), 'ebx'), OperandError);
    expectRejected((b) => lockCmpxchg(b, dword('rax'), 'rbx'), OperandError);
    expectRejected((b) => lockCmpxchg(b, 'rax' as unknown as Mem, 'rbx'), OperandError);
  });
});
