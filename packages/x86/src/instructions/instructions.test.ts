import { describe, expect, it } from 'vitest';
import { CodeBuffer } from '../code-buffer.js';
import { DisplacementRangeError, ImmediateRangeError, OperandError, BpfDispatcherError } from '../errors.js';
import { type Mem, byte, dword, ptr, qword, word } from '../memory.js';
import { GP8, GP16, GP32, GP64, type Gp, type Gp64, type Width } from '../registers.js';
import { type OracleOperand, decodeOne, hex } from '../test-support/iced-oracle.js';
import { ALU_OPS, type AluOp, SHIFT_OPS, type ShiftOp, add, alu, aluImm32, cmp, dec, inc, shift, test } from './alu.js';
import { call, jcc, jmp, ret } from './branch.js';
import { CANONICAL_CONDITIONS, conditionCode } from './conditions.js';
import { int3, leave, lfence, mfence, nop5, pause, pop, push, rdtsc, rdtscp } from './misc.js';
import { cmovcc, lea, lockXadd, mov, movzx, setcc, xchg } from './mov.js';

const REGS: Record<Width, readonly Gp[]> = { 64: GP64, 32: GP32, 16: GP16, 8: GP8 };
const WIDTHS: readonly Width[] = [64, 32, 16, 8];
const MEMS: Record<Width, (base: Gp64, disp?: number) => Mem> = { 64: qword, 32: dword, 16: word, 8: byte };
/** Displacements around every encoding boundary (none, disp8, disp32). */
const DISPS = [0, 1, -1, 127, -128, 128, -129, 0x7fff_ffff, -0x8000_0000];

function enc(emit: (buf: CodeBuffer) => void, base: bigint = 0n): Uint8Array {
  const buf = new CodeBuffer(base);
  emit(buf);
  return buf.finish();
}

/** Decode `bytes`: exactly one instruction, with this mnemonic and these operands. */
function expectInsn(bytes: Uint8Array, mnemonic: string, operands: readonly OracleOperand[], ip = 0n): void {
  const decoded = decodeOne(bytes, ip);
  expect({ hex: hex(bytes), mnemonic: decoded.mnemonic, operands: decoded.operands, length: decoded.length }).toEqual({
    hex: hex(bytes),
    mnemonic,
    operands,
    length: bytes.length,
  });
}

const r = (name: string): OracleOperand => ({ reg: name });
/** An immediate as iced reports it: sign-extended for 64-bit operands, zero-extended otherwise. */
const imm = (value: number | bigint, bits: Width): OracleOperand => ({
  imm: bits === 64 ? BigInt.asIntN(64, BigInt(value)) : BigInt.asUintN(bits, BigInt(value)),
});
const m = (base: Gp64, disp: number, bits: number): OracleOperand => ({ mem: { base, disp: BigInt(disp), bits } });

function edgeImms(bits: Width): number[] {
  const all = [0, 1, -1, 127, -128, 128, -129, 0x7fff, -0x8000, 0x7fff_ffff, -0x8000_0000];
  const lo = -(2 ** (Math.min(bits, 32) - 1));
  const hi = 2 ** (Math.min(bits, 32) - 1) - 1;
  return all.filter((v) => v >= lo && v <= hi);
}

describe('ALU: add/or/and/sub/xor/cmp', () => {
  const ops = Object.keys(ALU_OPS) as AluOp[];

  it.each(WIDTHS)('reg, reg for every pair of %i-bit registers', (bits) => {
    for (const op of ops)
      for (const dst of REGS[bits])
        for (const src of REGS[bits]) expectInsn(enc((b) => alu(b, op, dst, src)), op, [r(dst), r(src)]);
  });

  it.each(WIDTHS)('reg, imm on every %i-bit register with edge immediates (imm8 form when it fits)', (bits) => {
    for (const op of ops)
      for (const dst of REGS[bits])
        for (const value of edgeImms(bits)) {
          const bytes = enc((b) => alu(b, op, dst, value));
          expectInsn(bytes, op, [r(dst), imm(value, bits)]);
          if (bits !== 8) {
            const short = value >= -128 && value <= 127;
            const opcodeAt = bytes.length - (short ? 2 : bits === 16 ? 3 : 5);
            expect(bytes[opcodeAt - 1]).toBe(short ? 0x83 : 0x81);
          }
        }
  });

  it('mem, reg / reg, mem / mem, imm on every base and displacement class', () => {
    for (const op of ops)
      for (const bits of WIDTHS)
        for (const base of GP64)
          for (const disp of DISPS) {
            const reg = REGS[bits][(GP64.indexOf(base) + 3) % 16] as Gp;
            expectInsn(enc((b) => alu(b, op, MEMS[bits](base, disp), reg)), op, [m(base, disp, bits), r(reg)]);
            expectInsn(enc((b) => alu(b, op, reg, MEMS[bits](base, disp))), op, [r(reg), m(base, disp, bits)]);
            expectInsn(enc((b) => alu(b, op, MEMS[bits](base, disp), -2)), op, [m(base, disp, bits), imm(-2, bits)]);
          }
  });

  it("the 'imm32' form keeps the imm32 encoding: cmp rdx, -1 is 48 81 FA FF FF FF FF (the dispatcher compare)", () => {
    expect(hex(enc((b) => cmp(b, 'rdx', -1, 'imm32')))).toBe('4881faffffffff');
    expect(hex(enc((b) => alu(b, 'cmp', 'rdx', 0xfffffffffffffff7n, 'imm32')))).toBe('4881faf7ffffff');
    for (const reg of GP64) expectInsn(enc((b) => cmp(b, reg, 5, 'imm32')), 'cmp', [r(reg), imm(5, 64)]);
    expect(hex(enc((b) => cmp(b, 'rdx', -1)))).toBe('4883faff'); // 'auto': imm8 when it fits
    expect(hex(enc((b) => add(b, 'eax', 1, 'imm32')))).toBe('81c001000000');
    // the deprecated aluImm32 is the same encoding
    expect(hex(enc((b) => aluImm32(b, 'cmp', 'rdx', -1)))).toBe('4881faffffffff');
    expect(() => alu(new CodeBuffer(), 'cmp', 'rdx', 'rax', 'imm32')).toThrow(OperandError);
    expect(() => cmp(new CodeBuffer(), 'rdx', 1, 'imm16' as 'imm32')).toThrow(OperandError);
  });

  it('rejects immediates that are not sign-extended imm32, naming the value', () => {
    for (const bad of [0x8000_0000, -0x8000_0001, 0xffff_ffffn, 2n ** 40n]) {
      const buf = new CodeBuffer();
      expect(() => alu(buf, 'cmp', 'rdx', bad)).toThrow(ImmediateRangeError);
      expect(buf.length).toBe(0);
    }
    expect(() => alu(new CodeBuffer(), 'add', 'al', 256)).toThrow(ImmediateRangeError);
    expect(() => alu(new CodeBuffer(), 'add', 'ax', 0x10000)).toThrow(ImmediateRangeError);
    expect(() => alu(new CodeBuffer(), 'add', 'eax', 1.5)).toThrow(ImmediateRangeError);
    // 32-bit and narrower operands also take the unsigned spelling
    expectInsn(enc((b) => alu(b, 'and', 'eax', 0xffff_ff00)), 'and', [r('eax'), imm(0xffff_ff00, 32)]);
  });

  it('rejects mixed widths, memory-to-memory and unknown registers', () => {
    expect(() => alu(new CodeBuffer(), 'add', 'rax', 'ebx')).toThrow(OperandError);
    expect(() => alu(new CodeBuffer(), 'add', qword('rax'), qword('rbx'))).toThrow(OperandError);
    expect(() => alu(new CodeBuffer(), 'add', 'xmm0' as Gp, 'rax')).toThrow(OperandError);
    expect(() => alu(new CodeBuffer(), 'add', ptr('rax'), 1)).toThrow(OperandError);
  });
});

describe('test, inc, dec, shifts', () => {
  it.each(WIDTHS)('test reg,reg / reg,imm / mem,imm at %i bits', (bits) => {
    for (const dst of REGS[bits]) {
      for (const src of REGS[bits]) expectInsn(enc((b) => test(b, dst, src)), 'test', [r(dst), r(src)]);
      for (const value of edgeImms(bits)) expectInsn(enc((b) => test(b, dst, value)), 'test', [r(dst), imm(value, bits)]);
    }
    for (const base of GP64) expectInsn(enc((b) => test(b, MEMS[bits](base, 8), 1)), 'test', [m(base, 8, bits), imm(1, bits)]);
  });

  it.each(WIDTHS)('inc/dec every %i-bit register and memory', (bits) => {
    for (const reg of REGS[bits]) {
      expectInsn(enc((b) => inc(b, reg)), 'inc', [r(reg)]);
      expectInsn(enc((b) => dec(b, reg)), 'dec', [r(reg)]);
    }
    for (const base of GP64)
      for (const disp of DISPS) expectInsn(enc((b) => inc(b, MEMS[bits](base, disp))), 'inc', [m(base, disp, bits)]);
  });

  it('shifts and rotates by 1 and by an immediate', () => {
    for (const op of Object.keys(SHIFT_OPS) as ShiftOp[])
      for (const bits of WIDTHS)
        for (const reg of REGS[bits])
          for (const count of [1, 3, bits - 1]) {
            expectInsn(enc((b) => shift(b, op, reg, count)), op, [r(reg), imm(count, 8)]);
          }
    expect(() => shift(new CodeBuffer(), 'shl', 'rax', 64)).toThrow(OperandError);
  });
});

describe('mov and friends', () => {
  it.each(WIDTHS)('mov reg,reg / load / store with every %i-bit register and base', (bits) => {
    for (const dst of REGS[bits]) for (const src of REGS[bits]) expectInsn(enc((b) => mov(b, dst, src)), 'mov', [r(dst), r(src)]);
    for (const reg of REGS[bits])
      for (const base of GP64)
        for (const disp of DISPS) {
          expectInsn(enc((b) => mov(b, reg, MEMS[bits](base, disp))), 'mov', [r(reg), m(base, disp, bits)]);
          expectInsn(enc((b) => mov(b, MEMS[bits](base, disp), reg)), 'mov', [m(base, disp, bits), r(reg)]);
        }
  });

  it('a width-less memory operand takes the register width', () => {
    expectInsn(enc((b) => mov(b, 'ecx', ptr('r13'))), 'mov', [r('ecx'), m('r13', 0, 32)]);
  });

  it('mov r32, imm32 (B8+r) zero-extends and takes unsigned values', () => {
    for (const reg of GP32)
      for (const value of [0, 1, -1, 0x7fff_ffff, -0x8000_0000, 0xffff_ffff]) {
        const bytes = enc((b) => mov(b, reg, value));
        expectInsn(bytes, 'mov', [r(reg), imm(value, 32)]);
        expect(bytes.length).toBe(GP32.indexOf(reg) >= 8 ? 6 : 5);
      }
    expect(() => mov(new CodeBuffer(), 'eax', 2 ** 32)).toThrow(ImmediateRangeError);
  });

  it('mov r64, imm uses C7 for a sign-extended imm32 and movabs beyond', () => {
    for (const reg of GP64) {
      expectInsn(enc((b) => mov(b, reg, -1)), 'mov', [r(reg), imm(-1, 64)]);
      expect(enc((b) => mov(b, reg, -1)).length).toBe(7);
      const big = 0x1234_5678_9abc_def0n;
      expectInsn(enc((b) => mov(b, reg, big)), 'mov', [r(reg), imm(big, 64)]);
      expectInsn(enc((b) => mov(b, reg, 1, 'imm64')), 'mov', [r(reg), imm(1, 64)]);
      expect(enc((b) => mov(b, reg, 1, 'imm64')).length).toBe(10);
    }
    expectInsn(enc((b) => mov(b, 'rax', 0x8000_0000)), 'mov', [r('rax'), imm(0x8000_0000, 64)]);
    expect(() => mov(new CodeBuffer(), 'eax' as Gp64, 1, 'imm64')).toThrow(OperandError);
    expect(() => mov(new CodeBuffer(), 'rax', 'rbx', 'imm64')).toThrow(OperandError);
    expect(() => mov(new CodeBuffer(), 'rax', 1, 'imm8' as 'imm64')).toThrow(OperandError);
  });

  it('mov r16/r8, imm and mov mem, imm', () => {
    for (const reg of GP16) expectInsn(enc((b) => mov(b, reg, 0xbeef)), 'mov', [r(reg), imm(0xbeef, 16)]);
    for (const reg of GP8) expectInsn(enc((b) => mov(b, reg, 0xab)), 'mov', [r(reg), imm(0xab, 8)]);
    for (const bits of WIDTHS)
      for (const base of GP64) expectInsn(enc((b) => mov(b, MEMS[bits](base, -8), 7)), 'mov', [m(base, -8, bits), imm(7, bits)]);
  });

  it('movzx from bytes and words, registers and memory', () => {
    for (const dst of [...GP32, ...GP64]) {
      for (const src of GP8) expectInsn(enc((b) => movzx(b, dst, src)), 'movzx', [r(dst), r(src)]);
      for (const src of GP16) expectInsn(enc((b) => movzx(b, dst, src)), 'movzx', [r(dst), r(src)]);
      for (const base of GP64) {
        expectInsn(enc((b) => movzx(b, dst, byte(base, 14))), 'movzx', [r(dst), m(base, 14, 8)]);
        expectInsn(enc((b) => movzx(b, dst, word(base, 300))), 'movzx', [r(dst), m(base, 300, 16)]);
      }
    }
    expect(() => movzx(new CodeBuffer(), 'eax', 'ebx')).toThrow(OperandError);
    expect(() => movzx(new CodeBuffer(), 'al', 'bl')).toThrow(OperandError);
  });

  it('lea with every destination and base', () => {
    for (const dst of GP64) for (const base of GP64) for (const disp of DISPS) expectInsn(enc((b) => lea(b, dst, ptr(base, disp))), 'lea', [r(dst), m(base, disp, 0)]);
    expect(() => lea(new CodeBuffer(), 'al', ptr('rax'))).toThrow(OperandError);
  });

  it('xchg [mem], reg and lock xadd [mem], reg at every width', () => {
    for (const bits of WIDTHS)
      for (const reg of REGS[bits])
        for (const base of GP64) {
          expectInsn(enc((b) => xchg(b, MEMS[bits](base, 16), reg)), 'xchg', [m(base, 16, bits), r(reg)]);
          const bytes = enc((b) => lockXadd(b, MEMS[bits](base, 16), reg));
          expectInsn(bytes, 'xadd', [m(base, 16, bits), r(reg)]);
          expect(decodeOne(bytes).lock).toBe(true);
        }
  });

  it('cmovcc and setcc for all 16 conditions and every register', () => {
    for (const cond of CANONICAL_CONDITIONS) {
      for (const dst of GP64) for (const src of GP64) expectInsn(enc((b) => cmovcc(b, cond, dst, src)), `cmov${cond}`, [r(dst), r(src)]);
      for (const dst of GP32) expectInsn(enc((b) => cmovcc(b, cond, dst, dword('rsp', 4))), `cmov${cond}`, [r(dst), m('rsp', 4, 32)]);
      for (const dst of GP8) expectInsn(enc((b) => setcc(b, cond, dst)), `set${cond}`, [r(dst)]);
      expectInsn(enc((b) => setcc(b, cond, byte('r12', 1))), `set${cond}`, [m('r12', 1, 8)]);
    }
    expect(() => setcc(new CodeBuffer(), 'e', 'eax')).toThrow(OperandError);
    expect(() => cmovcc(new CodeBuffer(), 'e', 'al', 'bl')).toThrow(OperandError);
  });
});

describe('branches', () => {
  const base = 0xffffffffc0020000n;

  it('jcc short and near for all 16 conditions, to absolute addresses', () => {
    for (const cond of CANONICAL_CONDITIONS) {
      expect(conditionCode(cond)).toBe(CANONICAL_CONDITIONS.indexOf(cond));
      const near = enc((b) => jcc(b, cond, 0xffffffffffffffffn), base);
      expect(near.length).toBe(6);
      expectInsn(near, `j${cond}`, [{ target: 0xffffffffffffffffn }], base);
      const short = enc((b) => jcc(b, cond, base + 0x40n, 'short'), base);
      expect(short.length).toBe(2);
      expectInsn(short, `j${cond}`, [{ target: base + 0x40n }], base);
    }
  });

  it('jmp/call to addresses, rel8/rel32 edges, and out-of-range errors that say the distance', () => {
    expectInsn(enc((b) => jmp(b, base + 2n + 127n, 'short'), base), 'jmp', [{ target: base + 129n }], base);
    expectInsn(enc((b) => jmp(b, base + 2n - 128n, 'short'), base), 'jmp', [{ target: base - 126n }], base);
    expectInsn(enc((b) => jmp(b, 0xffffffff81c00f10n), base), 'jmp', [{ target: 0xffffffff81c00f10n }], base);
    const far = BigInt.asUintN(64, base + 5n + 0x7fffffffn);
    expectInsn(enc((b) => call(b, far), base), 'call', [{ target: far }], base);
    try {
      jmp(new CodeBuffer(base), base + 2n + 128n, 'short');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DisplacementRangeError);
      expect((error as DisplacementRangeError).distance).toBe(128n);
      expect(BpfDispatcherError.hasCode(error, 'DISPLACEMENT_RANGE')).toBe(true);
    }
    expect(() => call(new CodeBuffer(0n), 0x8000_0005n)).toThrow(/2147483648/);
    expect(() => call(new CodeBuffer(0n), -0x8000_0000n + 5n)).not.toThrow();
    // addresses as signed numbers, as the cover letter writes them
    expectInsn(enc((b) => jcc(b, 'e', -1), base), 'je', [{ target: 0xffffffffffffffffn }], base);
  });

  it('jmp reg / call reg for every register; ret', () => {
    for (const reg of GP64) {
      expectInsn(enc((b) => jmp(b, reg)), 'jmp', [r(reg)]);
      expectInsn(enc((b) => call(b, reg)), 'call', [r(reg)]);
    }
    expect(hex(enc((b) => jmp(b, 'rdx')))).toBe('ffe2');
    expect(hex(enc(ret))).toBe('c3');
    expect(() => jmp(new CodeBuffer(), 'edx' as Gp64)).toThrow(OperandError);
  });
});

describe('single-purpose instructions', () => {
  it('int3, pause, lfence, mfence, rdtsc, rdtscp, nop5', () => {
    const cases: [(b: CodeBuffer) => void, string, string][] = [
      [int3, 'cc', 'int3'],
      [pause, 'f390', 'pause'],
      [lfence, '0faee8', 'lfence'],
      [mfence, '0faef0', 'mfence'],
      [rdtsc, '0f31', 'rdtsc'],
      [rdtscp, '0f01f9', 'rdtscp'],
      [nop5, '0f1f440000', 'nop'],
      [leave, 'c9', 'leave'],
    ];
    for (const [emit, bytes, mnemonic] of cases) {
      expect(hex(enc(emit))).toBe(bytes);
      expect(decodeOne(enc(emit)).mnemonic).toBe(mnemonic);
    }
  });

  it('push/pop every register', () => {
    for (const reg of GP64) {
      expectInsn(enc((b) => push(b, reg)), 'push', [r(reg)]);
      expectInsn(enc((b) => pop(b, reg)), 'pop', [r(reg)]);
    }
    expect(() => push(new CodeBuffer(), 'eax' as Gp64)).toThrow(OperandError);
  });
});
