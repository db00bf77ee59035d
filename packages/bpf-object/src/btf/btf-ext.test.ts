import { describe, expect, it } from 'vitest';
import { BtfBuilder, btfExt } from '../test-support/btf-builder.js';
import { expectError } from '../test-support/expect-error.js';
import { fixture, headers } from '../test-support/fixtures.js';
import { parseBtf } from './btf.js';
import { findCoreRelocations } from './btf-ext.js';

function section(name: Parameters<typeof fixture>[0], sec: string) {
  const bytes = fixture(name);
  const s = headers(bytes).section(sec);
  return { bytes: bytes.subarray(s.offset, s.offset + s.size), offset: s.offset };
}

describe('findCoreRelocations', () => {
  it('finds the CO-RE relocation clang emits for __builtin_preserve_access_index', () => {
    const btf = section('core', '.BTF');
    const ext = section('core', '.BTF.ext');
    const core = findCoreRelocations(ext.bytes, ext.offset, parseBtf(btf.bytes, btf.offset));
    expect(core).toMatchObject({ count: 1, section: 'xdp', typeName: 'task_like', access: '0:1', kind: 'field byte offset' });
  });

  it('finds none in objects without CO-RE', () => {
    for (const name of ['btf-maps', 'global-data', 'subprograms'] as const) {
      const ext = section(name, '.BTF.ext');
      expect(findCoreRelocations(ext.bytes, ext.offset, undefined)).toBeUndefined();
    }
    expect(findCoreRelocations(btfExt([]), 0, undefined)).toBeUndefined();
  });

  it('names the section and type from BTF, and counts every record', () => {
    const b = new BtfBuilder();
    const s = b.struct('task', 8, []);
    const sec = b.strings.add('kprobe/x');
    const acc = b.strings.add('0:1');
    const btf = parseBtf(b.build(), 0);
    const core = findCoreRelocations(
      btfExt([
        [
          sec,
          [
            [0, s, acc, 0],
            [8, s, acc, 9],
          ],
        ],
        [sec, [[16, s, acc, 2]]],
      ]),
      0,
      btf,
    );
    expect(core).toMatchObject({ count: 3, section: 'kprobe/x', typeName: 'task', access: '0:1', kind: 'field byte offset', offset: 44 });
    // Without BTF the relocation is still found.
    expect(findCoreRelocations(btfExt([[sec, [[0, s, acc, 0]]]]), 0, undefined)).toMatchObject({ count: 1, section: '' });
  });

  it('checks the header and the core_relo subsection', () => {
    const ok = btfExt([[1, [[0, 1, 1, 0]]]]);
    const patch = (f: (v: DataView, b: Uint8Array) => void, bytes = ok.slice()) => {
      f(new DataView(bytes.buffer), bytes);
      return bytes;
    };
    const cases: [Uint8Array, RegExp][] = [
      [patch((v) => v.setUint16(0, 0x1234, true)), /magic/],
      [patch((_, b) => (b[2] = 2)), /version/],
      [patch((v) => v.setUint32(4, 8, true)), /hdr_len/],
      [patch((v) => v.setUint32(4, 4096, true)), /header/],
      [patch((v) => v.setUint32(12, 4096, true)), /func_info/],
      [patch((v) => v.setUint32(20, 4096, true)), /line_info/],
      [patch((v) => v.setUint32(28, 4096, true)), /core_relo/],
      [patch((v) => v.setUint32(32, 12, true)), /record size/],
      [patch((v) => v.setUint32(32, 18, true)), /record size/],
      [patch((v) => v.setUint32(40, 0, true)), /no records/],
      [patch((v) => v.setUint32(40, 1000, true)), /core_relo records/],
      [ok.slice(0, 30), /header/],
    ];
    for (const [bytes, message] of cases) expectError(() => findCoreRelocations(bytes, 0, undefined), 'MALFORMED', message);
    const b = new BtfBuilder();
    b.int('int', 4);
    expectError(() => findCoreRelocations(btfExt([[1000, [[0, 1, 1, 0]]]]), 0, parseBtf(b.build(), 0)), 'MALFORMED', /string offset/);
  });
});
