import { describe, expect, it } from 'vitest';
import { disassemble, formatLine, listing } from './index.js';

describe('disasm', () => {
  it('prints objdump Intel syntax with 16-digit addresses', () => {
    const bytes = Uint8Array.from([0x48, 0x81, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x84, 0xf2, 0xdf, 0xff, 0x3f, 0xe9, 0xfe, 0xee, 0xbf, 0xc1]);
    expect(listing(bytes, 0xffffffffc0002000n)).toBe(
      'ffffffffc0002000: cmp rdx,0xffffffffffffffff\n' +
        'ffffffffc0002007: je 0xffffffffffffffff\n' +
        'ffffffffc000200d: jmp 0xffffffff81c00f10\n',
    );
  });

  it('reports undecodable bytes one at a time as (bad)', () => {
    const out = disassemble(Uint8Array.from([0x06, 0x90]), 0x1000);
    expect(out.map((i) => [i.text, i.length, i.valid])).toEqual([
      ['(bad)', 1, false],
      ['nop', 1, true],
    ]);
    expect(formatLine(out[1] as (typeof out)[number])).toBe('0000000000001001: nop');
  });

  it('prints memory operands with their size, as objdump does', () => {
    const out = disassemble(Uint8Array.from([0x48, 0x89, 0x14, 0x24]));
    expect(out[0]?.text).toBe('mov QWORD PTR [rsp],rdx');
  });
});
