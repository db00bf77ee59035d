import { describe, expect, it } from 'vitest';
import { CodeBuffer } from '../code-buffer.js';
import { OperandError } from '../errors.js';
import { GP64, type Gp64 } from '../registers.js';
import { decodeOne, hex } from '../test-support/iced-oracle.js';
import { FALLBACK_INDIRECT, fallbackThunk } from './fallback.js';
import { INLINE_RETPOLINE, indirectCall, indirectJump, retpolineThunk } from './retpoline.js';

function decodeAll(bytes: Uint8Array, base: bigint) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    const d = decodeOne(bytes.subarray(at), base + BigInt(at));
    out.push({ at, ...d });
    at += d.length;
  }
  return out;
}

describe('retpolines', () => {
  it('emits call/pause/lfence/jmp/mov [rsp],reg/ret for every register but rsp', () => {
    const base = 0xffffffff81c00f00n;
    for (const reg of GP64.filter((r) => r !== 'rsp')) {
      const buf = new CodeBuffer(base);
      expect(retpolineThunk(buf, reg)).toBe(0);
      const insns = decodeAll(buf.finish(), base);
      expect(insns.map((i) => i.mnemonic)).toEqual(['call', 'pause', 'lfence', 'jmp', 'mov', 'ret']);
      const [callI, pauseI, , jmpI, movI] = insns;
      expect(callI?.operands).toEqual([{ target: base + BigInt(movI?.at ?? -1) }]);
      expect(jmpI?.operands).toEqual([{ target: base + BigInt(pauseI?.at ?? -1) }]);
      expect(movI?.operands).toEqual([{ mem: { base: 'rsp', disp: 0n, bits: 64 } }, { reg }]);
    }
  });

  it('matches the kernel thunk for rdx byte for byte', () => {
    const buf = new CodeBuffer();
    retpolineThunk(buf, 'rdx');
    expect(hex(buf.finish())).toBe('e807000000f3900faee8ebf9488914' + '24c3');
  });

  it('rejects rsp and non-64-bit registers', () => {
    expect(() => retpolineThunk(new CodeBuffer(), 'rsp')).toThrow(OperandError);
    expect(() => retpolineThunk(new CodeBuffer(), 'edx' as Gp64)).toThrow(OperandError);
  });

  it('indirectJump: plain, through a thunk, or inline', () => {
    const plain = new CodeBuffer();
    indirectJump(plain, 'rdx', FALLBACK_INDIRECT);
    expect(hex(plain.finish())).toBe('ffe2');
    const viaThunk = new CodeBuffer(0x1000n);
    indirectJump(viaThunk, 'rdx', fallbackThunk(0x2000n));
    expect(decodeOne(viaThunk.finish(), 0x1000n)).toMatchObject({ mnemonic: 'jmp', operands: [{ target: 0x2000n }] });
    const inline = new CodeBuffer();
    indirectJump(inline, 'r11', INLINE_RETPOLINE);
    expect(decodeAll(inline.finish(), 0n).map((i) => i.mnemonic)).toEqual(['call', 'pause', 'lfence', 'jmp', 'mov', 'ret']);
  });

  it('indirectCall: plain, through a thunk, or a call to an inline thunk', () => {
    const plain = new CodeBuffer();
    indirectCall(plain, 'rax', FALLBACK_INDIRECT);
    expect(hex(plain.finish())).toBe('ffd0');
    const viaThunk = new CodeBuffer(0x1000n);
    indirectCall(viaThunk, 'rax', fallbackThunk(0x2000n));
    expect(decodeOne(viaThunk.finish(), 0x1000n)).toMatchObject({ mnemonic: 'call', operands: [{ target: 0x2000n }] });
    const inline = new CodeBuffer();
    indirectCall(inline, 'rax', INLINE_RETPOLINE);
    const insns = decodeAll(inline.finish(), 0n);
    expect(insns.map((i) => i.mnemonic)).toEqual(['jmp', 'call', 'pause', 'lfence', 'jmp', 'mov', 'ret', 'call']);
    expect(insns.at(-1)?.operands).toEqual([{ target: 2n }]);
  });
});
