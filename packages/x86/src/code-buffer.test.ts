import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodeBuffer, type Label } from './code-buffer.js';
import { DisplacementRangeError, LabelError, X86Error } from './errors.js';
import { jcc, jmp } from './instructions/branch.js';
import { int3 } from './instructions/misc.js';
import { P6_NOPS } from './nops.js';
import { decodeOne, hex } from './test-support/iced-oracle.js';

describe('CodeBuffer', () => {
  it('writes little-endian fields and grows past its initial capacity', () => {
    const buf = new CodeBuffer(0n, 16);
    for (let i = 0; i < 1000; i++) buf.u8(i & 0xff);
    buf.u16(0x1234).u32(-2).u64(0x0102030405060708n);
    const bytes = buf.finish();
    expect(bytes.length).toBe(1014);
    expect(hex(bytes.subarray(1000))).toBe('3412feffffff0807060504030201');
  });

  it('reports addresses relative to its base, wrapping as 64-bit values', () => {
    const buf = new CodeBuffer(0xfffffffffffffff0n);
    buf.nops(32);
    expect(buf.address()).toBe(0x10n);
    expect(new CodeBuffer(-1).base).toBe(0xffffffffffffffffn);
  });

  it('pads with exactly the kernel P6 nops, greedily, at most 8 bytes each', () => {
    expect(P6_NOPS.map((n) => hex(Uint8Array.from(n)))).toEqual([
      '',
      '90',
      '6690',
      '0f1f00',
      '0f1f4000',
      '0f1f440000',
      '660f1f440000',
      '0f1f8000000000',
      '0f1f840000000000',
    ]);
    for (let n = 0; n < 40; n++) {
      const bytes = new CodeBuffer().nops(n).finish();
      expect(bytes.length).toBe(n);
      // decodes as nops only, each at most 8 bytes
      let at = 0;
      while (at < n) {
        const d = decodeOne(bytes.subarray(at));
        expect(['nop', 'xchg']).toContain(d.mnemonic);
        expect(d.length).toBe(Math.min(8, n - at));
        at += d.length;
      }
    }
  });

  it('align(n) pads to the next multiple of n of the absolute address', () => {
    for (const base of [0n, 3n, 0xffffffffc0020000n, 0xffffffffc0020007n])
      for (const start of [0, 1, 7, 15, 16, 17])
        for (const n of [1, 2, 4, 8, 16, 64]) {
          const buf = new CodeBuffer(base).nops(start).align(n);
          expect(buf.address() % BigInt(n)).toBe(0n);
          expect(buf.length - start).toBeLessThan(n);
        }
    expect(() => new CodeBuffer().align(12)).toThrow(X86Error);
    expect(() => new CodeBuffer().align(0)).toThrow(X86Error);
  });

  it('patches forward and backward label references, short and near', () => {
    const buf = new CodeBuffer(0x1000n);
    const fwd = buf.newLabel();
    const back = buf.newLabel();
    buf.bind(back);
    jcc(buf, 'g', fwd, 'short'); // 0x1000
    jcc(buf, 'e', fwd); // 0x1002
    jmp(buf, back, 'short'); // 0x1008
    buf.nops(5);
    buf.bind(fwd); // 0x100f
    int3(buf);
    const bytes = buf.finish();
    expect(decodeOne(bytes, 0x1000n).operands).toEqual([{ target: 0x100fn }]);
    expect(decodeOne(bytes.subarray(2), 0x1002n).operands).toEqual([{ target: 0x100fn }]);
    expect(decodeOne(bytes.subarray(8), 0x1008n).operands).toEqual([{ target: 0x1000n }]);
    expect(buf.labelOffset(fwd)).toBe(0xf);
  });

  it('rejects a short branch that cannot reach its label, with the distance', () => {
    const buf = new CodeBuffer();
    const far = buf.newLabel();
    jmp(buf, far, 'short');
    buf.nops(128);
    try {
      buf.bind(far);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DisplacementRangeError);
      expect((error as DisplacementRangeError).distance).toBe(128n);
    }
    const back = new CodeBuffer();
    const target = back.newLabel();
    back.bind(target).nops(127);
    expect(() => jmp(back, target, 'short')).toThrow(/-129/);
  });

  it('throws typed errors for foreign, rebound and unbound labels', () => {
    const a = new CodeBuffer();
    const b = new CodeBuffer();
    const label = a.newLabel();
    expect(() => jmp(b, label)).toThrow(LabelError);
    expect(() => b.bind(label)).toThrow(expect.objectContaining({ code: 'UNKNOWN_LABEL' }));
    expect(() => jmp(b, {} as Label)).toThrow(LabelError);
    a.bind(label);
    expect(() => a.bind(label)).toThrow(expect.objectContaining({ code: 'LABEL_REBOUND' }));
    const c = new CodeBuffer();
    jmp(c, c.newLabel());
    expect(() => c.finish()).toThrow(expect.objectContaining({ code: 'UNBOUND_LABEL' }));
    const d = new CodeBuffer();
    expect(() => d.labelAddress(d.newLabel())).toThrow(expect.objectContaining({ code: 'UNBOUND_LABEL' }));
  });

  it('refuses to emit after finish()', () => {
    const buf = new CodeBuffer();
    buf.finish();
    expect(() => int3(buf)).toThrow(expect.objectContaining({ code: 'BUFFER_FINISHED' }));
  });

  it('property: every branch to a label decodes to the address the label was bound at', () => {
    // A random program: n labels, a random sequence of jumps (random condition, random
    // label, short or near) and nop runs, labels bound at random points.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('jump' as const), label: fc.nat(7), cond: fc.constantFrom('e', 'ne', 'g', 'l', 'jmp'), short: fc.boolean() }),
      fc.record({ kind: fc.constant('nops' as const), count: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('bind' as const), label: fc.nat(7) }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.array(step, { maxLength: 60 }), (base, steps) => {
        const buf = new CodeBuffer(base);
        const labels = Array.from({ length: 8 }, () => buf.newLabel());
        const bound = new Map<number, number>();
        const jumps: { at: number; label: number; short: boolean }[] = [];
        let rangeError = false;
        try {
          for (const s of steps) {
            if (s.kind === 'nops') buf.nops(s.count);
            else if (s.kind === 'bind') {
              if (!bound.has(s.label)) {
                bound.set(s.label, buf.length);
                buf.bind(labels[s.label] as Label);
              }
            } else {
              jumps.push({ at: buf.length, label: s.label, short: s.short });
              const target = labels[s.label] as Label;
              if (s.cond === 'jmp') jmp(buf, target, s.short ? 'short' : 'near');
              else jcc(buf, s.cond, target, s.short ? 'short' : 'near');
            }
          }
          for (let l = 0; l < 8; l++)
            if (!bound.has(l)) {
              bound.set(l, buf.length);
              buf.bind(labels[l] as Label);
            }
        } catch (error) {
          // only a short branch beyond rel8 may fail, and it must say so
          expect(error).toBeInstanceOf(DisplacementRangeError);
          rangeError = true;
        }
        if (rangeError) return;
        const bytes = buf.finish();
        for (const j of jumps) {
          const d = decodeOne(bytes.subarray(j.at), buf.address(j.at));
          expect(d.length).toBe(j.short ? 2 : d.mnemonic === 'jmp' ? 5 : 6);
          expect(d.operands).toEqual([{ target: buf.address(bound.get(j.label) as number) }]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: absolute rel32 targets decode back exactly or raise a range error', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: -(1n << 33n), max: 1n << 33n }), (base, delta) => {
        const target = BigInt.asUintN(64, base + delta);
        const buf = new CodeBuffer(base);
        const rel = delta - 5n;
        if (rel < -(1n << 31n) || rel >= 1n << 31n) {
          expect(() => jmp(buf, target)).toThrow(DisplacementRangeError);
          return;
        }
        jmp(buf, target);
        expect(decodeOne(buf.finish(), base).operands).toEqual([{ target }]);
      }),
      { numRuns: 500 },
    );
  });
});
