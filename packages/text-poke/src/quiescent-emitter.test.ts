import { CodeBuffer, inc, mfence, mov, qword } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import { emitQuiescentState } from './quiescent-emitter.js';

const hex = (f: (b: CodeBuffer) => void) => {
  const b = new CodeBuffer(0x1000n);
  f(b);
  return Buffer.from(b.finish()).toString('hex');
};

describe('emitQuiescentState', () => {
  it('(buf, counterReg): inc qword [counterReg], then a full fence (liburcu\'s cmm_smp_mb)', () => {
    expect(hex((b) => emitQuiescentState(b, 'rax'))).toBe('48ff000faef0');
    expect(hex((b) => emitQuiescentState(b, 'rax'))).toBe(
      hex((b) => {
        inc(b, qword('rax', 0));
        mfence(b);
      }),
    );
    expect(hex((b) => emitQuiescentState(b, 'r13'))).toBe('49ff45000faef0');
  });

  it('(buf, reader, scratch): loads the counter address first', () => {
    const reader = { counterAddress: 0x7000_0000n };
    expect(hex((b) => emitQuiescentState(b, reader, 'r11'))).toBe(
      hex((b) => {
        mov(b, 'r11', 0x7000_0000n);
        inc(b, qword('r11'));
        mfence(b);
      }),
    );
  });

  it('refuses bad registers and disposed or malformed readers with typed errors', () => {
    const b = new CodeBuffer();
    for (const reg of ['eax', 'r8d', 'rip', '', 5]) expect(() => emitQuiescentState(b, reg as 'rax'), String(reg)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => emitQuiescentState(b, { counterAddress: 1n }, 'eax' as 'rax')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => emitQuiescentState(b, { counterAddress: 1n, disposed: true }, 'r11')).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => emitQuiescentState(b, null as unknown as 'rax')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(b.length).toBe(0);
  });
});
