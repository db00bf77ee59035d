import { describe, expect, it } from 'vitest';
import { CodeBuffer } from '../code-buffer.js';
import { DisplacementRangeError, OperandError } from '../errors.js';
import { decodeOne, hex } from '../test-support/iced-oracle.js';
import { FALLBACK_INDIRECT, type Fallback, assertFallback, emitFallbackJump, fallbackThunk, isFallback } from './fallback.js';
import { INLINE_RETPOLINE, indirectCall, indirectJump } from './retpoline.js';

function emit(base: bigint, fallback: Fallback): Uint8Array {
  const buf = new CodeBuffer(base);
  emitFallbackJump(buf, fallback);
  return buf.finish();
}

describe('Fallback (emit_fallback_jump)', () => {
  it('indirect: jmp rdx (ff e2)', () => {
    expect(hex(emit(0x1000n, FALLBACK_INDIRECT))).toBe('ffe2');
    expect(hex(emit(0x1000n, { kind: 'indirect' }))).toBe('ffe2');
  });

  it('thunk: jmp rel32 to the thunk, also at kernel addresses', () => {
    expect(hex(emit(0x1000n, fallbackThunk(0x2000)))).toBe('e9fb0f0000');
    const base = 0xffffffffc0020000n;
    const bytes = emit(base, fallbackThunk(0xffffffffc0010000n));
    expect(bytes.length).toBe(5);
    expect(decodeOne(bytes, base)).toMatchObject({ mnemonic: 'jmp', operands: [{ target: 0xffffffffc0010000n }] });
  });

  it('fallbackThunk normalises to an unsigned 64-bit bigint and freezes', () => {
    const f = fallbackThunk(-0x3ffe0000n);
    expect(f).toEqual({ kind: 'thunk', thunk: 0xffffffffc0020000n });
    expect(Object.isFrozen(f)).toBe(true);
    expect(Object.isFrozen(FALLBACK_INDIRECT)).toBe(true);
    expect(() => fallbackThunk('0x1000' as unknown as bigint)).toThrow(OperandError);
    expect(() => fallbackThunk(1n << 64n)).toThrow(OperandError);
  });

  it('isFallback / assertFallback accept only the two shapes', () => {
    expect(isFallback(FALLBACK_INDIRECT)).toBe(true);
    expect(isFallback({ kind: 'thunk', thunk: 5n })).toBe(true);
    for (const bad of [null, undefined, 1, 'indirect', {}, { kind: 'thunk' }, { kind: 'thunk', thunk: 5 }, { kind: 'thunk', thunk: -1n }, { kind: 'retpoline' }]) {
      expect(isFallback(bad)).toBe(false);
      expect(() => assertFallback(bad, 'test')).toThrow(OperandError);
    }
  });

  it('a bad fallback or an unreachable thunk throws typed errors and leaves the buffer unchanged', () => {
    const buf = new CodeBuffer(0x1000n);
    expect(() => emitFallbackJump(buf, { kind: 'thunk' } as unknown as Fallback)).toThrow(OperandError);
    expect(() => emitFallbackJump(buf, fallbackThunk(0x1_0000_1000n))).toThrow(DisplacementRangeError);
    expect(() => emitFallbackJump({} as CodeBuffer, FALLBACK_INDIRECT)).toThrow(OperandError);
    expect(buf.length).toBe(0);
  });

  it('indirectJump / indirectCall take the same value (or INLINE_RETPOLINE)', () => {
    const bytes = (f: (b: CodeBuffer) => void) => {
      const b = new CodeBuffer(0x1000n);
      f(b);
      return hex(b.finish());
    };
    expect(bytes((b) => indirectJump(b, 'rdx', FALLBACK_INDIRECT))).toBe('ffe2');
    expect(bytes((b) => indirectJump(b, 'rdx', fallbackThunk(0x2000n)))).toBe(bytes((b) => emitFallbackJump(b, fallbackThunk(0x2000n))));
    expect(bytes((b) => indirectCall(b, 'rax', fallbackThunk(0x2000n)))).toBe('e8fb0f0000');
    expect(bytes((b) => indirectJump(b, 'rdx', INLINE_RETPOLINE))).toBe('e807000000f3900faee8ebf948891424c3');
    for (const bad of [{ kind: 'nope' }, { retpoline: false }, null, 'indirect']) {
      expect(() => indirectJump(new CodeBuffer(), 'rdx', bad as unknown as Fallback)).toThrow(OperandError);
      expect(() => indirectCall(new CodeBuffer(), 'rdx', bad as unknown as Fallback)).toThrow(OperandError);
    }
  });
});
