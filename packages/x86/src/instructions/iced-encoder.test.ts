import type * as Iced from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { CodeBuffer } from '../code-buffer.js';
import { byte, dword, qword, word } from '../memory.js';
import { hex, icedEncode } from '../test-support/iced-oracle.js';
import { alu, dec, inc, shift, test } from './alu.js';
import { call, jcc, jmp, ret } from './branch.js';
import { lfence, pop, push, rdtscp } from './misc.js';
import { cmovcc, lea, lockXadd, mov, movzx, setcc, xchg } from './mov.js';

type Make = (I: typeof Iced) => Iced.Instruction;
const M = (I: typeof Iced, base: Iced.Register, disp: number) => new I.MemoryOperand(base, I.Register.None, 1, BigInt(disp), disp === 0 ? 0 : 1, false, I.Register.None);

/** A representative sample, each compared byte for byte with iced-x86's own Encoder. */
const SAMPLE: [string, (b: CodeBuffer) => void, Make][] = [
  ['cmp rdx, imm32', (b) => alu(b, 'cmp', 'rdx', -9, 'imm32'), (I) => I.Instruction.createRegI32(I.Code.Cmp_rm64_imm32, I.Register.RDX, -9)],
  ['cmp r13, imm8', (b) => alu(b, 'cmp', 'r13', 5), (I) => I.Instruction.createRegI32(I.Code.Cmp_rm64_imm8, I.Register.R13, 5)],
  ['add rax, r9', (b) => alu(b, 'add', 'rax', 'r9'), (I) => I.Instruction.createRegReg(I.Code.Add_rm64_r64, I.Register.RAX, I.Register.R9)],
  ['sub r12d, [rbp]', (b) => alu(b, 'sub', 'r12d', dword('rbp')), (I) => I.Instruction.createRegMem(I.Code.Sub_r32_rm32, I.Register.R12D, M(I, I.Register.RBP, 0))],
  ['xor sil, dil', (b) => alu(b, 'xor', 'sil', 'dil'), (I) => I.Instruction.createRegReg(I.Code.Xor_rm8_r8, I.Register.SIL, I.Register.DIL)],
  ['and word [r12+8], 0x1ff', (b) => alu(b, 'and', word('r12', 8), 0x1ff), (I) => I.Instruction.createMemI32(I.Code.And_rm16_imm16, M(I, I.Register.R12, 8), 0x1ff)],
  ['test rcx, rcx', (b) => test(b, 'rcx', 'rcx'), (I) => I.Instruction.createRegReg(I.Code.Test_rm64_r64, I.Register.RCX, I.Register.RCX)],
  ['inc qword [r13+0x100]', (b) => inc(b, qword('r13', 0x100)), (I) => I.Instruction.createMem(I.Code.Inc_rm64, M(I, I.Register.R13, 0x100))],
  ['dec byte [rsp-1]', (b) => dec(b, byte('rsp', -1)), (I) => I.Instruction.createMem(I.Code.Dec_rm8, M(I, I.Register.RSP, -1))],
  ['shr eax, 8', (b) => shift(b, 'shr', 'eax', 8), (I) => I.Instruction.createRegI32(I.Code.Shr_rm32_imm8, I.Register.EAX, 8)],
  ['mov rdx, [rsp+8]', (b) => mov(b, 'rdx', qword('rsp', 8)), (I) => I.Instruction.createRegMem(I.Code.Mov_r64_rm64, I.Register.RDX, M(I, I.Register.RSP, 8))],
  ['mov [r12+0x12345678], r15w', (b) => mov(b, word('r12', 0x12345678), 'r15w'), (I) => I.Instruction.createMemReg(I.Code.Mov_rm16_r16, M(I, I.Register.R12, 0x12345678), I.Register.R15W)],
  ['mov r9d, imm32', (b) => mov(b, 'r9d', 0xdeadbeef), (I) => I.Instruction.createRegU32(I.Code.Mov_r32_imm32, I.Register.R9D, 0xdeadbeef)],
  ['movabs r10, imm64', (b) => mov(b, 'r10', 0x1122334455667788n, 'imm64'), (I) => I.Instruction.createRegU64(I.Code.Mov_r64_imm64, I.Register.R10, 0x1122334455667788n)],
  ['movzx eax, byte [rdi+23]', (b) => movzx(b, 'eax', byte('rdi', 23)), (I) => I.Instruction.createRegMem(I.Code.Movzx_r32_rm8, I.Register.EAX, M(I, I.Register.RDI, 23))],
  ['lea rsi, [r13+0x20]', (b) => lea(b, 'rsi', qword('r13', 0x20)), (I) => I.Instruction.createRegMem(I.Code.Lea_r64_m, I.Register.RSI, M(I, I.Register.R13, 0x20))],
  ['xchg [rdi], rax', (b) => xchg(b, qword('rdi'), 'rax'), (I) => I.Instruction.createMemReg(I.Code.Xchg_rm64_r64, M(I, I.Register.RDI, 0), I.Register.RAX)],
  ['cmovl r8, r9', (b) => cmovcc(b, 'l', 'r8', 'r9'), (I) => I.Instruction.createRegReg(I.Code.Cmovl_r64_rm64, I.Register.R8, I.Register.R9)],
  ['setg r14b', (b) => setcc(b, 'g', 'r14b'), (I) => I.Instruction.createReg(I.Code.Setg_rm8, I.Register.R14L)],
  ['push r12', (b) => push(b, 'r12'), (I) => I.Instruction.createReg(I.Code.Push_r64, I.Register.R12)],
  ['pop rbx', (b) => pop(b, 'rbx'), (I) => I.Instruction.createReg(I.Code.Pop_r64, I.Register.RBX)],
  ['jmp rdx', (b) => jmp(b, 'rdx'), (I) => I.Instruction.createReg(I.Code.Jmp_rm64, I.Register.RDX)],
  ['call r11', (b) => call(b, 'r11'), (I) => I.Instruction.createReg(I.Code.Call_rm64, I.Register.R11)],
  ['jg rel32', (b) => jcc(b, 'g', 0x1130n), (I) => I.Instruction.createBranch(I.Code.Jg_rel32_64, 0x1130n)],
  ['je rel8', (b) => jcc(b, 'e', 0x1010n, 'short'), (I) => I.Instruction.createBranch(I.Code.Je_rel8_64, 0x1010n)],
  ['jmp rel32', (b) => jmp(b, 0x9000n), (I) => I.Instruction.createBranch(I.Code.Jmp_rel32_64, 0x9000n)],
  ['call rel32', (b) => call(b, 0x800n), (I) => I.Instruction.createBranch(I.Code.Call_rel32_64, 0x800n)],
  ['ret', ret, (I) => I.Instruction.create(I.Code.Retnq)],
  ['lfence', lfence, (I) => I.Instruction.create(I.Code.Lfence)],
  ['rdtscp', rdtscp, (I) => I.Instruction.create(I.Code.Rdtscp)],
];

describe('bytes equal iced-x86 Encoder output', () => {
  it.each(SAMPLE)('%s', (_name, ours, theirs) => {
    const buf = new CodeBuffer(0x1000n);
    ours(buf);
    const bytes = buf.finish();
    const expected = icedEncode(theirs, 0x1000n);
    expect(hex(bytes)).toBe(hex(expected));
  });

  it('lock xadd carries the lock prefix first', () => {
    const buf = new CodeBuffer();
    lockXadd(buf, qword('rdi', 8), 'rax');
    expect(hex(buf.finish())).toBe('f0480fc14708');
  });
});
