import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EbpfError } from './errors.js';
import { decodeProgram, encodeProgram, insn } from './insn.js';

const arbInsn = fc.record({
  code: fc.integer({ min: 0, max: 0xff }),
  dst: fc.integer({ min: 0, max: 15 }),
  src: fc.integer({ min: 0, max: 15 }),
  off: fc.integer({ min: -0x8000, max: 0x7fff }),
  imm: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
});

describe('wire format', () => {
  it('encodes the fields little endian in the kernel struct bpf_insn order', () => {
    const bytes = encodeProgram([insn(0xb7, 1, 2, -2, 0x12345678)]);
    expect(Buffer.from(bytes).toString('hex')).toBe('b721feff78563412');
  });

  it('round-trips every instruction slot', () => {
    fc.assert(
      fc.property(fc.array(arbInsn, { maxLength: 20 }), (insns) => {
        expect(decodeProgram(encodeProgram(insns))).toEqual(insns);
      }),
    );
  });

  it('round-trips every byte string of whole slots', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }).map((b) => b.subarray(0, b.length - (b.length % 8))), (bytes) => {
        expect(encodeProgram(decodeProgram(bytes))).toEqual(bytes);
      }),
    );
  });

  it('refuses partial slots and out-of-range fields with typed errors', () => {
    expect(() => decodeProgram(new Uint8Array(7))).toThrow(expect.objectContaining({ code: 'DECODE' }));
    for (const bad of [
      { code: 256, dst: 0, src: 0, off: 0, imm: 0 },
      { code: 0, dst: 16, src: 0, off: 0, imm: 0 },
      { code: 0, dst: 0, src: 0, off: 0x8000, imm: 0 },
      { code: 0, dst: 0, src: 0, off: 0, imm: 1.5 },
    ]) {
      expect(() => encodeProgram([bad])).toThrow(EbpfError);
    }
  });
});
