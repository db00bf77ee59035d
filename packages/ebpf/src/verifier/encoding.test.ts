import { describe, expect, it } from 'vitest';
import { insn } from '../insn.js';
import { accepts, memOpts, rejects } from '../test-support/verifier.js';

const EXIT = insn(0x95, 0, 0, 0, 0);
const MOV0 = insn(0xb7, 0, 0, 0, 0);

describe('verifier: encodings (RFC 9669 opcodes and reserved fields)', () => {
  it('accepts a program using every RFC 9669 opcode with valid fields', () => {
    const r = accepts(`
      mov %r0, 1
      mov %r1, 3
      mov32 %r2, 7
      add %r0, 1
      add %r0, %r1
      sub %r0, 1
      sub %r0, %r1
      mul %r0, 3
      mul %r0, %r1
      div %r0, 3
      div %r0, %r1
      sdiv %r0, -3
      sdiv %r0, %r1
      mod %r0, 5
      mod %r0, %r1
      smod %r0, -5
      smod %r0, %r1
      or %r0, 1
      or %r0, %r1
      and %r0, 0xff
      and %r0, %r1
      lsh %r0, 3
      lsh %r0, %r1
      rsh %r0, 1
      rsh %r0, %r1
      arsh %r0, 1
      arsh %r0, %r1
      xor %r0, 1
      xor %r0, %r1
      neg %r0
      add32 %r2, 1
      add32 %r2, %r1
      sub32 %r2, %r1
      mul32 %r2, %r1
      div32 %r2, %r1
      sdiv32 %r2, %r1
      mod32 %r2, %r1
      smod32 %r2, %r1
      or32 %r2, %r1
      and32 %r2, %r1
      lsh32 %r2, %r1
      rsh32 %r2, %r1
      arsh32 %r2, %r1
      xor32 %r2, %r1
      neg32 %r2
      movsx864 %r3, %r2
      movsx1664 %r3, %r2
      movsx3264 %r3, %r2
      movsx832 %r3, %r2
      movsx1632 %r3, %r2
      le16 %r3
      le32 %r3
      le64 %r3
      be16 %r3
      be32 %r3
      be64 %r3
      bswap16 %r3
      bswap32 %r3
      bswap64 %r3
      lddw %r4, 0x123456789abcdef0
      stb [%r10-1], 1
      sth [%r10-4], 2
      stw [%r10-8], 3
      stdw [%r10-16], 4
      stxb [%r10-17], %r0
      stxh [%r10-20], %r0
      stxw [%r10-24], %r0
      stxdw [%r10-32], %r0
      ldxb %r5, [%r10-1]
      ldxh %r5, [%r10-4]
      ldxw %r5, [%r10-8]
      ldxdw %r5, [%r10-16]
      ldxsb %r5, [%r10-1]
      ldxsh %r5, [%r10-4]
      ldxsw %r5, [%r10-8]
      lock add [%r10-32], %r0
      lock or [%r10-32], %r0
      lock and [%r10-32], %r0
      lock xor [%r10-32], %r0
      lock fetch add [%r10-32], %r5
      lock fetch or [%r10-32], %r5
      lock fetch and [%r10-32], %r5
      lock fetch xor [%r10-32], %r5
      lock xchg [%r10-32], %r5
      lock cmpxchg [%r10-32], %r5
      lock add32 [%r10-8], %r0
      lock fetch add32 [%r10-8], %r5
      lock xchg32 [%r10-8], %r5
      lock cmpxchg32 [%r10-8], %r5
      jeq %r0, 1, +0
      jeq %r0, %r1, +0
      jgt %r0, 1, +0
      jge %r0, %r1, +0
      jset %r0, 1, +0
      jne %r0, %r1, +0
      jsgt %r0, 1, +0
      jsge %r0, %r1, +0
      jlt %r0, 1, +0
      jle %r0, %r1, +0
      jslt %r0, 1, +0
      jsle %r0, %r1, +0
      jeq32 %r0, 1, +0
      jne32 %r0, %r1, +0
      jsle32 %r0, %r1, +0
      ja +0
      gotol +0
      call 5
      call local f
      exit
    f:
      mov %r0, 0
      exit
    `);
    expect(r.subprograms.map((s) => s.start)).toEqual([0, r.insns.length - 2]);
  });

  it.each([
    [0xe7, 'unknown opcode 0xe7'], // ALU64 op 0xe0
    [0xf4, 'unknown opcode 0xf4'],
    [0xdf, 'unknown opcode 0xdf'], // bswap has no "to big endian" bit
    [0x8f, 'unknown opcode 0x8f'],
    [0x0d, 'unknown opcode 0x0d'], // ja with the register bit
    [0x86, 'unknown opcode 0x86'], // call in class JMP32
    [0x96, 'unknown opcode 0x96'], // exit in class JMP32
    [0xe5, 'unknown opcode 0xe5'],
    [0x38, 'unknown opcode 0x38'], // ld abs dw
    [0x99, 'unknown opcode 0x99'], // ldxsdw
    [0xa2, 'unknown opcode 0xa2'], // st with a mode other than MEM
    [0xe3, 'unknown opcode 0xe3'], // stx with mode 0xe0
    [0xd3, 'unknown opcode 0xd3'], // atomic byte
  ])('refuses opcode %i: %s', (code, reason) => {
    rejects([MOV0, insn(code, 0, 0, 0, 0), EXIT], memOpts(), reason, 1);
  });

  it('refuses reserved fields that are not zero, in the kernel words', () => {
    rejects([insn(0x07, 1, 3, 0, 1), MOV0, EXIT], memOpts(), 'BPF_ALU64 uses reserved fields', 0);
    rejects([insn(0x04, 1, 0, 1, 1), MOV0, EXIT], memOpts(), 'BPF_ALU uses reserved fields', 0);
    rejects([insn(0xbf, 1, 2, 1, 0), MOV0, EXIT], memOpts(), 'BPF_MOV uses reserved fields', 0); // movsx off 1
    rejects([insn(0xbc, 1, 2, 32, 0), MOV0, EXIT], memOpts(), 'BPF_MOV uses reserved fields', 0); // movsx32 off 32
    rejects([insn(0x87, 1, 0, 0, 1), MOV0, EXIT], memOpts(), 'BPF_NEG uses reserved fields', 0);
    rejects([insn(0xd4, 1, 0, 0, 8), MOV0, EXIT], memOpts(), 'BPF_END uses reserved fields', 0);
    rejects([insn(0x37, 1, 0, 2, 3), MOV0, EXIT], memOpts(), 'BPF_ALU64 uses reserved fields', 0); // div off 2
    rejects([insn(0x61, 0, 1, 0, 1), EXIT], memOpts(), 'BPF_LDX uses reserved fields', 0);
    rejects([insn(0x62, 10, 1, -8, 1), MOV0, EXIT], memOpts(), 'BPF_ST uses reserved fields', 0);
    rejects([insn(0x63, 10, 1, -8, 1), MOV0, EXIT], memOpts(), 'BPF_STX uses reserved fields', 0);
    rejects([MOV0, insn(0x95, 0, 0, 0, 1)], memOpts(), 'BPF_EXIT uses reserved fields', 1);
    rejects([MOV0, insn(0x05, 1, 0, 0, 0), EXIT], memOpts(), 'BPF_JA uses reserved fields', 1);
    rejects([MOV0, insn(0x15, 0, 1, 0, 0), EXIT], memOpts(), 'BPF_JMP/JMP32 uses reserved fields', 1);
    rejects([insn(0x85, 1, 0, 0, 5), MOV0, EXIT], memOpts(), 'BPF_CALL uses reserved fields', 0);
    rejects([insn(0xdb, 10, 1, -8, 0x02), MOV0, EXIT], memOpts(), 'BPF_ATOMIC uses invalid atomic opcode 0x02', 0);
  });

  it('refuses a register number above 10', () => {
    rejects([insn(0xb7, 11, 0, 0, 0), MOV0, EXIT], memOpts(), 'R11 is invalid', 0);
    rejects([insn(0xbf, 1, 12, 0, 0), MOV0, EXIT], memOpts(), 'R12 is invalid', 0);
  });

  it('refuses a malformed 64-bit immediate load: "invalid BPF_LD_IMM insn"', () => {
    rejects([MOV0, insn(0x18, 1, 0, 0, 1)], memOpts(), 'invalid BPF_LD_IMM insn', 1); // no second slot
    rejects([insn(0x18, 1, 0, 0, 1), insn(0, 1, 0, 0, 0), MOV0, EXIT], memOpts(), 'invalid BPF_LD_IMM insn', 0); // second slot dst
    rejects([insn(0x00, 1, 0, 0, 1), MOV0, EXIT], memOpts(), 'invalid BPF_LD_IMM insn', 0); // ld imm w
    rejects([insn(0x18, 1, 0, 1, 1), insn(0, 0, 0, 0, 0), MOV0, EXIT], memOpts(), 'BPF_LD_IMM64 uses reserved fields', 0);
  });

  it('refuses callx (0x8d) with a clear message, and kfunc calls', () => {
    rejects([MOV0, insn(0x8d, 0, 1, 0, 0), EXIT], memOpts(), /^callx \(call through a register\) is not supported/, 1);
    rejects([MOV0, insn(0x85, 0, 2, 0, 5), EXIT], memOpts(), 'calling kernel functions (kfuncs) is not supported', 1);
  });

  it('refuses division and modulo by an immediate zero ("div by zero"), as the kernel does', () => {
    rejects('mov %r0, 1\ndiv %r0, 0\nexit', memOpts(), 'div by zero', 1);
    rejects('mov %r0, 1\nmod32 %r0, 0\nexit', memOpts(), 'div by zero', 1);
    rejects('mov %r0, 1\nsdiv %r0, 0\nexit', memOpts(), 'div by zero', 1);
    // by a register holding zero: defined by the ISA (0, or the dividend), accepted
    accepts('mov %r0, 1\nmov %r1, 0\ndiv %r0, %r1\nmod %r0, %r1\nexit');
  });

  it('accepts shifts by an immediate out of range: the ISA masks the count (the kernel refuses them)', () => {
    accepts('mov %r0, 1\nlsh %r0, 65\nrsh32 %r0, 40\narsh %r0, -1\nexit');
  });

  it('refuses legacy packet loads (LD ABS/IND) for these program types', () => {
    rejects([insn(0x30, 0, 0, 0, 1), EXIT], memOpts(), 'BPF_LD_[ABS|IND] instructions not allowed for this program type', 0);
  });
});
