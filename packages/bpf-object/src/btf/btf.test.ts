import { describe, expect, it } from 'vitest';
import { readElfFile } from '../elf/elf-file.js';
import { BtfBuilder } from '../test-support/btf-builder.js';
import { expectError } from '../test-support/expect-error.js';
import { fixture, headers } from '../test-support/fixtures.js';
import { parseBtf } from './btf.js';
import { LayoutBuilder, resolveSize, skipModsAndTypedefs } from './layout.js';

function fixtureBtf(name: Parameters<typeof fixture>[0]) {
  const bytes = fixture(name);
  const s = headers(bytes).section('.BTF');
  return parseBtf(bytes.subarray(s.offset, s.offset + s.size), s.offset);
}

describe('parseBtf', () => {
  it('parses clang BTF (as bpftool btf dump shows it)', () => {
    const btf = fixtureBtf('btf-maps');
    expect(btf.types).toHaveLength(51); // void + [1]..[50]
    expect(btf.type(9)).toMatchObject({ kind: 'struct', name: 'datarec', size: 24 });
    expect(btf.type(3)).toMatchObject({ kind: 'array', type: 2, indexType: 4, nelems: 6 });
    expect(btf.type(41)).toMatchObject({ kind: 'var', name: 'flows', type: 40, linkage: 1 });
    const maps = btf.datasec('.maps');
    expect(maps?.vars.map((v) => btf.type(v.type).name)).toEqual(['stats', 'counters', 'percpu_flows', 'flows']);
    expect(maps?.vars.map((v) => v.size)).toEqual([40, 32, 32, 40]);
    expect(btf.datasec('.data')).toBeUndefined();
    expect(resolveSize(btf, 40)).toBe(40);
    expect(resolveSize(btf, 16)).toBe(2); // __u8 pad[2]
  });

  it('gives layouts with member names and offsets', () => {
    const btf = fixtureBtf('global-data');
    const cfg = btf.types.findIndex((t) => t.kind === 'var' && t.name === 'cfg');
    expect(new LayoutBuilder(btf).layout(cfg)).toEqual({
      name: 'config',
      kind: 'struct',
      size: 8,
      members: [
        { name: 'mode', offset: 0, layout: { name: '__u32', kind: 'int', size: 4, signed: false } },
        { name: 'port', offset: 4, layout: { name: '__u16', kind: 'int', size: 2, signed: false } },
        { name: 'enabled', offset: 6, layout: { name: '__u8', kind: 'int', size: 1, signed: false } },
      ],
    });
  });

  it('reports bitfields, unions, enums, floats and pointers', () => {
    const b = new BtfBuilder();
    const u32 = b.int('unsigned int', 4);
    const s8 = b.int('signed char', 1, true);
    const e = b.enum('color', [
      ['RED', 0],
      ['BLUE', -1],
    ]);
    const f = b.float('double', 8);
    const p = b.ptr(u32);
    const bits = b.struct(
      'flags',
      4,
      [
        ['a', u32, (3 << 24) | 0],
        ['b', u32, (5 << 24) | 3],
      ],
      true,
    );
    const un = b.struct(
      'u',
      8,
      [
        ['x', f, 0],
        ['y', s8, 0],
      ],
      false,
      true,
    );
    const outer = b.struct('outer', 32, [
      ['bits', bits, 0],
      ['u', un, 64],
      ['e', e, 128],
      ['p', p, 192],
    ]);
    const btf = parseBtf(b.build(), 0);
    const layout = new LayoutBuilder(btf).layout(outer);
    expect(layout.members?.[0]?.layout.members).toEqual([
      { name: 'a', offset: 0, bitOffset: 0, bitSize: 3, layout: { name: 'unsigned int', kind: 'int', size: 4, signed: false } },
      { name: 'b', offset: 0, bitOffset: 3, bitSize: 5, layout: { name: 'unsigned int', kind: 'int', size: 4, signed: false } },
    ]);
    expect(layout.members?.[1]).toMatchObject({ name: 'u', offset: 8, layout: { kind: 'union', size: 8 } });
    expect(layout.members?.[1]?.layout.members?.[1]?.layout).toEqual({ name: 'signed char', kind: 'int', size: 1, signed: true });
    expect(layout.members?.[2]).toMatchObject({ offset: 16, layout: { name: 'color', kind: 'enum', size: 4, signed: false } });
    expect(layout.members?.[3]).toMatchObject({ offset: 24, layout: { kind: 'ptr', size: 8 } });
    expect(btf.type(e)).toMatchObject({
      values: [
        { name: 'RED', value: 0n },
        { name: 'BLUE', value: -1n },
      ],
    });
  });

  it('parses ENUM64, FUNC, FUNC_PROTO, DECL_TAG, TYPE_TAG and RESTRICT records', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, true);
    const e64 = b.raw('big', 19, 2, 8, [b.strings.add('A'), 0xffff_ffff, 0x7fff_ffff, b.strings.add('B'), 1, 0]);
    const s64 = b.raw('neg', 19, 1, 8, [b.strings.add('M'), 0xffff_ffff, 0xffff_ffff], true);
    const proto = b.funcProto(int, [['x', int]]);
    const func = b.func('f', proto, 1);
    const tag = b.raw('my_tag', 17, 0, func, [0xffff_ffff]);
    const typeTag = b.raw('user', 18, 0, int);
    const restrict = b.raw('', 11, 0, b.ptr(typeTag));
    const btf = parseBtf(b.build(), 0);
    expect(btf.type(e64)).toMatchObject({
      kind: 'enum64',
      name: 'big',
      size: 8,
      signed: false,
      values: [
        { name: 'A', value: 0x7fff_ffff_ffff_ffffn },
        { name: 'B', value: 1n },
      ],
    });
    expect(btf.type(s64)).toMatchObject({ kind: 'enum64', signed: true, values: [{ name: 'M', value: -1n }] });
    expect(btf.type(proto)).toMatchObject({ kind: 'func_proto', returnType: int, params: [{ name: 'x', type: int }] });
    expect(btf.type(func)).toMatchObject({ kind: 'func', name: 'f', type: proto, linkage: 1 });
    expect(btf.type(tag)).toMatchObject({ kind: 'decl_tag', name: 'my_tag', type: func, componentIdx: -1 });
    expect(skipModsAndTypedefs(btf, typeTag).type).toMatchObject({ kind: 'int', name: 'int' });
    const layouts = new LayoutBuilder(btf);
    expect(layouts.layout(e64)).toEqual({ name: 'big', kind: 'enum', size: 8, signed: false });
    expect(layouts.layout(restrict)).toEqual({ name: '', kind: 'ptr', size: 8 });
    expect(layouts.layout(func)).toEqual({ name: 'f', kind: 'other', size: 0 });
    expectError(() => resolveSize(btf, proto), 'MALFORMED', /has no size/);
  });

  it('checks the header', () => {
    const good = () => {
      const b = new BtfBuilder();
      b.int('int', 4, true);
      return b;
    };
    const cases: [Parameters<BtfBuilder['build']>[0], RegExp][] = [
      [{ magic: 0x9feb }, /magic/],
      [{ version: 2 }, /version/],
      [{ flags: 1 }, /flags/],
      [{ hdrLen: 16 }, /hdr_len/],
      [{ hdrLen: 1000 }, /BTF header/],
      [{ typeLen: 1000 }, /runs past the section/],
      [{ strLen: 1000 }, /runs past the section/],
      [{ strOff: 0xffff_fff0, strLen: 0x20 }, /runs past the section/],
      [{ typeOff: 2, typeLen: 12 }, /aligned/],
      [{ strOff: 0, strLen: 4 }, /overlap/],
      [{ strLen: 0 }, /start and end with NUL/],
    ];
    for (const [patch, message] of cases) {
      expectError(() => parseBtf(good().build(patch), 0), 'MALFORMED', message);
    }
    // A longer header whose extra bytes are not zero.
    const bytes = good().build();
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes.subarray(0, 24));
    longer.set(bytes.subarray(24), 28);
    new DataView(longer.buffer).setUint32(4, 28, true);
    expect(parseBtf(longer, 0).types).toHaveLength(2);
    longer[25] = 1;
    expectError(() => parseBtf(longer, 0), 'MALFORMED', /non-zero header/);
  });

  it('checks every record', () => {
    const cases: [(b: BtfBuilder) => void, RegExp][] = [
      [(b) => b.raw('x', 0, 0, 0), /unknown kind 0/],
      [(b) => b.raw('x', 20, 0, 0), /unknown kind 20/],
      [(b) => b.raw('s', 4, 3, 8, [0, 1, 0]), /runs past the end/], // vlen 3, one member present
      [(b) => b.int('int', 3), /INT type/],
      [(b) => b.int('int', 4, false, 33), /INT type/],
      [(b) => b.ptr(7), /refers to type 7/],
      [(b) => b.struct('s', 4, [['m', 9, 0]]), /refers to type 9/],
    ];
    for (const [build, message] of cases) {
      const b = new BtfBuilder();
      build(b);
      expectError(() => parseBtf(b.build(), 0), 'MALFORMED', message);
    }
    // A name offset outside the string section.
    const b = new BtfBuilder();
    b.int('int', 4);
    const bytes = b.build();
    new DataView(bytes.buffer).setUint32(24, 0x7fff, true);
    expectError(() => parseBtf(bytes, 0), 'MALFORMED', /string offset/);
    // A string section whose last string is not NUL-terminated.
    const c = new BtfBuilder();
    c.int('int', 4);
    const cut = c.build();
    cut[cut.length - 1] = 0x41;
    expectError(() => parseBtf(cut, 0), 'MALFORMED', /NUL/);
  });

  it('refuses type loops and chains deeper than 32, without overflowing the stack', () => {
    const loop = new BtfBuilder();
    loop.typedef('a', 2);
    loop.const(3);
    loop.volatile(1);
    expectError(() => parseBtf(loop.build(), 0), 'MALFORMED', /loops/);

    const self = new BtfBuilder();
    self.array(1, 4);
    expectError(() => parseBtf(self.build(), 0), 'MALFORMED', /loops/);

    const deep = new BtfBuilder();
    let t = deep.int('int', 4);
    for (let i = 0; i < 40; i++) t = deep.const(t);
    expectError(() => parseBtf(deep.build(), 0), 'MALFORMED', /deeper than 32/);

    const ok = new BtfBuilder();
    t = ok.int('int', 4);
    for (let i = 0; i < 30; i++) t = ok.const(t);
    expect(skipModsAndTypedefs(parseBtf(ok.build(), 0), t).type.kind).toBe('int');
  });

  it('refuses a struct that contains itself, and sizes beyond 4 GiB', () => {
    const b = new BtfBuilder();
    const s = b.struct('s', 8, [['inner', 2, 0]]);
    b.array(s, 1);
    const btf = parseBtf(b.build(), 0);
    expectError(() => new LayoutBuilder(btf).layout(s), 'MALFORMED', /contains itself/);

    const big = new BtfBuilder();
    const int = big.int('int', 4);
    const a = big.array(int, 0x10000);
    const aa = big.array(a, 0x10000);
    const fwd = big.fwd('later');
    const huge = parseBtf(big.build(), 0);
    expectError(() => resolveSize(huge, aa), 'MALFORMED', /larger than 4 GiB/);
    expectError(() => resolveSize(huge, fwd), 'MALFORMED', /has no size/);
    expect(resolveSize(huge, a)).toBe(0x40000);
  });

  it('refuses a member outside its struct', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4);
    const s = b.struct('s', 4, [['late', int, 32]]);
    expectError(() => new LayoutBuilder(parseBtf(b.build(), 0)).layout(s), 'MALFORMED', /past its size/);
  });

  it('builds shared layouts once (no exponential blow-up on a DAG)', () => {
    const b = new BtfBuilder();
    let t = b.int('int', 4);
    let size = 4;
    for (let i = 0; i < 20; i++) {
      t = b.struct(`s${i}`, 2 * size, [
        ['a', t, 0],
        ['b', t, size * 8],
      ]);
      size *= 2;
    }
    const layout = new LayoutBuilder(parseBtf(b.build(), 0)).layout(t);
    expect(layout.size).toBe(4 << 20);
    expect(layout.members?.[0]?.layout).toBe(layout.members?.[1]?.layout);
  });

  it('parses the BTF of every fixture', () => {
    for (const name of ['btf-maps', 'legacy-maps', 'global-data', 'subprograms', 'kconfig', 'core'] as const) {
      const btf = fixtureBtf(name);
      expect(btf.types.length).toBeGreaterThan(5);
      const elf = readElfFile(fixture(name));
      expect(elf.sections.some((s) => s.name === '.BTF')).toBe(true);
    }
  });
});
