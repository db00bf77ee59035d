import { describe, expect, it } from 'vitest';
import { parseObject } from './parse.js';
import { BtfBuilder } from './test-support/btf-builder.js';
import { buildElf, type ElfSpec, I, prog, SHF_ALLOC, SHF_WRITE, SHT_NOBITS, type SymbolSpec } from './test-support/elf-builder.js';
import { expectError } from './test-support/expect-error.js';

const RW = SHF_ALLOC | SHF_WRITE;
const entry = [prog('xdp', I.mov0(2), I.exit())];
const entrySymbol = { name: 'p', section: 'xdp', type: 'func', size: 16 } as const;

type Members = Record<string, number | { type: number }>;

/**
 * An object whose .maps holds one map per entry of `maps` (at 128-byte steps), described by
 * BTF built with `b` (callers may add types first, e.g. for key/value types).
 */
function btfMapsObject(b: BtfBuilder, maps: Record<string, Members | number>, extra: Partial<ElfSpec> = {}) {
  const vars: [number, number, number][] = [];
  const symbols: SymbolSpec[] = [];
  let offset = 0;
  for (const [name, members] of Object.entries(maps)) {
    const def = typeof members === 'number' ? members : b.mapDef(members);
    vars.push([b.var(name, def), 0, 0]);
    symbols.push({ name, section: '.maps', value: offset, size: 0, type: 'object' });
    offset += 128;
  }
  b.datasec('.maps', vars);
  return parseObject(
    buildElf({
      sections: [
        ...entry,
        { name: '.maps', flags: RW, data: new Uint8Array(offset) },
        { name: '.BTF', data: b.build() },
        ...(extra.sections ?? []),
      ],
      symbols: [entrySymbol, ...symbols, ...(extra.symbols ?? [])],
      relocations: extra.relocations ?? [],
    }).bytes,
  );
}

describe('BTF-defined maps', () => {
  it('reads every integer attribute and key/value types', () => {
    const b = new BtfBuilder();
    const u64 = b.int('unsigned long', 8);
    const obj = btfMapsObject(b, {
      m: {
        type: 30,
        max_entries: 5,
        map_flags: 0x10,
        numa_node: 1,
        key_size: 8,
        key: { type: u64 },
        value_size: 16,
        map_extra: 3,
        pinning: 1,
      },
    });
    expect(obj.maps).toEqual([
      {
        name: 'm',
        origin: 'btf',
        section: '.maps',
        type: { id: 30, name: 'bloom_filter' },
        keySize: 8,
        valueSize: 16,
        maxEntries: 5,
        flags: 0x10,
        readonly: false,
        keyLayout: { name: 'unsigned long', kind: 'int', size: 8, signed: false },
        numaNode: 1,
        mapExtra: 3,
        pinning: 1,
      },
    ]);
    expect(obj.hasBtf).toBe(true);
  });

  it('orders maps by their offset in .maps, not by DATASEC order', () => {
    const b = new BtfBuilder();
    const defA = b.mapDef({ type: 1 });
    const defB = b.mapDef({ type: 2 });
    const va = b.var('a', defA);
    const vb = b.var('b', defB);
    b.datasec('.maps', [
      [vb, 0, 0],
      [va, 0, 0],
    ]);
    const obj = parseObject(
      buildElf({
        sections: [...entry, { name: '.maps', flags: RW, data: new Uint8Array(64) }, { name: '.BTF', data: b.build() }],
        symbols: [
          entrySymbol,
          { name: 'b', section: '.maps', value: 32, type: 'object' },
          { name: 'a', section: '.maps', value: 0, type: 'object' },
        ],
      }).bytes,
    );
    expect(obj.maps.map((m) => m.name)).toEqual(['a', 'b']);
  });

  it('refuses key or value sizes given two ways that disagree', () => {
    const b = new BtfBuilder();
    const u32 = b.int('unsigned int', 4);
    expect(btfMapsObject(b, { m: { key: { type: u32 }, key_size: 4 } }).maps[0]?.keySize).toBe(4);
    const c = new BtfBuilder();
    const v = c.int('unsigned int', 4);
    const err = expectError(() => btfMapsObject(c, { m: { value: { type: v }, value_size: 8 } }), 'MALFORMED', /conflicting value size/);
    expect(err).toMatchObject({ symbol: 'm', section: '.maps' });
  });

  it('refuses values (map-in-map initialisers) and unknown members, naming map and member', () => {
    const err = expectError(
      () => btfMapsObject(new BtfBuilder(), { inner: { type: 12, values: 1 } }),
      'UNSUPPORTED',
      /'inner': member 'values'/,
    );
    expect(err).toMatchObject({ symbol: 'inner', section: '.maps' });
    expectError(
      () => btfMapsObject(new BtfBuilder(), { m: { type: 1, frobnicate: 1 } }),
      'UNSUPPORTED',
      /'m': unknown member 'frobnicate'/,
    );
  });

  it('refuses attributes and key/value members of the wrong shape', () => {
    const notPtr = new BtfBuilder();
    const int = notPtr.int('int', 4);
    const s1 = notPtr.struct('', 4, [['type', int, 0]]);
    expectError(() => btfMapsObject(notPtr, { m: s1 }), 'MALFORMED', /attribute 'type' must be int \(\*type\)\[N\]/);

    const notArray = new BtfBuilder();
    const i2 = notArray.int('int', 4);
    const s2 = notArray.struct('', 8, [['max_entries', notArray.ptr(i2), 0]]);
    expectError(() => btfMapsObject(notArray, { m: s2 }), 'MALFORMED', /must point to an array/);

    const keyNotPtr = new BtfBuilder();
    const i3 = keyNotPtr.int('int', 4);
    const s3 = keyNotPtr.struct('', 4, [['key', i3, 0]]);
    expectError(() => btfMapsObject(keyNotPtr, { m: s3 }), 'MALFORMED', /member 'key' must be a pointer/);

    const fwd = new BtfBuilder();
    const f = fwd.fwd('opaque');
    expectError(() => btfMapsObject(fwd, { m: { value: { type: f } } }), 'MALFORMED', /has no size/);

    const notStruct = new BtfBuilder();
    const i4 = notStruct.int('int', 4);
    expectError(() => btfMapsObject(notStruct, { m: i4 }), 'MALFORMED', /not a struct/);
  });

  it('needs BTF, a .maps DATASEC of VARs, and a symbol per map inside the section', () => {
    const noBtf = buildElf({ sections: [...entry, { name: '.maps', flags: RW, data: new Uint8Array(8) }], symbols: [entrySymbol] });
    expectError(() => parseObject(noBtf.bytes), 'MALFORMED', /needs BTF/);

    const noSec = new BtfBuilder();
    noSec.int('int', 4);
    const noDatasec = buildElf({
      sections: [...entry, { name: '.maps', flags: RW, data: new Uint8Array(8) }, { name: '.BTF', data: noSec.build() }],
      symbols: [entrySymbol],
    });
    expectError(() => parseObject(noDatasec.bytes), 'MALFORMED', /no DATASEC/);

    const notVar = new BtfBuilder();
    const i = notVar.int('int', 4);
    notVar.datasec('.maps', [[i, 0, 4]]);
    const nv = buildElf({
      sections: [...entry, { name: '.maps', flags: RW, data: new Uint8Array(8) }, { name: '.BTF', data: notVar.build() }],
      symbols: [entrySymbol],
    });
    expectError(() => parseObject(nv.bytes), 'MALFORMED', /not a VAR/);

    const noSym = new BtfBuilder();
    noSym.datasec('.maps', [[noSym.var('lost', noSym.mapDef({ type: 1 })), 0, 8]]);
    const ns = buildElf({
      sections: [...entry, { name: '.maps', flags: RW, data: new Uint8Array(8) }, { name: '.BTF', data: noSym.build() }],
      symbols: [entrySymbol],
    });
    expectError(() => parseObject(ns.bytes), 'MALFORMED', /'lost': no symbol/);

    const outside = new BtfBuilder();
    const big = outside.mapDef({ type: 1, max_entries: 1, key_size: 4 });
    outside.datasec('.maps', [[outside.var('m', big), 0, 24]]);
    const os = buildElf({
      sections: [...entry, { name: '.maps', flags: RW, data: new Uint8Array(16) }, { name: '.BTF', data: outside.build() }],
      symbols: [entrySymbol, { name: 'm', section: '.maps', value: 0, type: 'object' }],
    });
    expectError(() => parseObject(os.bytes), 'MALFORMED', /outside \.maps/);
  });

  it('refuses relocations of .maps (map-in-map and prog-array initialisers), naming the map', () => {
    const b = new BtfBuilder();
    const err = expectError(
      () =>
        btfMapsObject(
          b,
          { first: { type: 1 }, second: { type: 12 } },
          { relocations: [{ section: '.maps', offset: 128, symbol: 'first', type: 2 }] },
        ),
      'UNSUPPORTED',
      /map 'second': initialisers/,
    );
    expect(err).toMatchObject({ section: '.maps', symbol: 'second' });
  });
});

describe('legacy maps section', () => {
  const legacy = (defSize: number, defs: number[][], symbolOffsets?: number[]) => {
    const bytes = new Uint8Array(defSize * defs.length);
    const v = new DataView(bytes.buffer);
    defs.forEach((d, i) => {
      d.forEach((w, j) => {
        v.setUint32(defSize * i + 4 * j, w, true);
      });
    });
    return parseObject(
      buildElf({
        sections: [...entry, { name: 'maps', flags: RW, data: bytes }],
        symbols: [
          entrySymbol,
          ...(symbolOffsets ?? defs.map((_, i) => i * defSize)).map((value, i) => ({
            name: `m${i}`,
            section: 'maps',
            value,
            type: 'object' as const,
          })),
        ],
      }).bytes,
    );
  };

  it('derives the definition size from the section size and symbol count; longer definitions must end in zeros', () => {
    const obj = legacy(28, [
      [1, 4, 8, 16, 0, 0, 0],
      [6, 4, 24, 2, 1, 0, 0],
    ]);
    expect(obj.maps.map((m) => [m.name, m.type.name, m.keySize, m.valueSize, m.maxEntries, m.flags, m.origin])).toEqual([
      ['m0', 'hash', 4, 8, 16, 0, 'legacy'],
      ['m1', 'percpu_array', 4, 24, 2, 1, 'legacy'],
    ]);
    expect(obj.hasBtf).toBe(false);
    expectError(() => legacy(28, [[1, 4, 8, 16, 0, 0, 9]]), 'UNSUPPORTED', /non-zero bytes/);
  });

  it('handles hundreds of thousands of definitions', () => {
    const n = 200_000;
    const obj = legacy(
      20,
      Array.from({ length: n }, (_, i) => [2, 4, 8, i + 1, 0]),
    );
    expect(obj.maps).toHaveLength(n);
    expect(obj.maps[n - 1]).toMatchObject({ name: `m${n - 1}`, maxEntries: n });
  });

  it('refuses definitions shorter than struct bpf_map_def, sizes that do not divide, and overlapping definitions', () => {
    expectError(
      () =>
        legacy(16, [
          [1, 4, 8, 16],
          [1, 4, 8, 16],
        ]),
      'MALFORMED',
      /shorter than struct bpf_map_def/,
    );
    expectError(
      () =>
        legacy(
          20,
          [
            [1, 4, 8, 16, 0],
            [1, 4, 8, 16, 0],
          ],
          [0, 20, 40],
        ),
      'MALFORMED',
      /cannot determine/,
    );
    expectError(
      () =>
        legacy(
          20,
          [
            [1, 4, 8, 16, 0],
            [1, 4, 8, 16, 0],
          ],
          [0, 10],
        ),
      'MALFORMED',
      /overlaps/,
    );
    expectError(
      () =>
        legacy(
          20,
          [
            [1, 4, 8, 16, 0],
            [1, 4, 8, 16, 0],
          ],
          [0, 30],
        ),
      'MALFORMED',
      /runs past section maps/,
    );
    expectError(() => legacy(20, [[1, 4, 8, 16, 0]], []), 'MALFORMED', /no symbols/);
  });
});

describe('global data sections', () => {
  it('maps allocated .data*, .rodata*, .bss* sections only, and without BTF gives no layouts', () => {
    const obj = parseObject(
      buildElf({
        sections: [
          ...entry,
          { name: '.data', flags: RW, data: Uint8Array.of(1, 2, 3, 4) },
          { name: '.data.notalloc', flags: SHF_WRITE, data: new Uint8Array(4) },
          { name: '.datax', flags: RW, data: new Uint8Array(4) },
          { name: '.rodata.cst8', flags: SHF_ALLOC, data: new Uint8Array(8) },
          { name: '.bss.big', type: SHT_NOBITS, flags: RW, size: 4096 },
        ],
        symbols: [entrySymbol, { name: 'v', section: '.data', value: 0, size: 4, type: 'object', bind: 'local' }],
      }).bytes,
    );
    expect(obj.maps.map((m) => [m.name, m.valueSize, m.readonly, m.flags])).toEqual([
      ['.data', 4, false, 0],
      ['.rodata.cst8', 8, true, 0x80],
      ['.bss.big', 4096, false, 0],
    ]);
    expect(obj.maps[0]?.variables).toEqual([{ name: 'v', offset: 0, size: 4, binding: 'static' }]);
    expect(obj.maps[2]?.initialValue?.length).toBe(4096);
  });

  it('refuses a NOBITS section larger than 64 MiB', () => {
    const b = buildElf({
      sections: [...entry, { name: '.bss', type: SHT_NOBITS, flags: RW, size: 64 * 1024 * 1024 + 1 }],
      symbols: [entrySymbol],
    });
    expectError(() => parseObject(b.bytes), 'UNSUPPORTED', /\.bss is 67108865 bytes/);
  });
});

describe('object-level sections', () => {
  it('checks license, version, duplicate and NOBITS special sections', () => {
    const license = (data: Uint8Array) =>
      buildElf({ sections: [...entry, { name: 'license', flags: RW, data }], symbols: [entrySymbol] }).bytes;
    expect(parseObject(license(new TextEncoder().encode('GPL\0\0\0'))).license).toBe('GPL');
    expectError(() => parseObject(license(new TextEncoder().encode('GPL'))), 'MALFORMED', /NUL-terminated/);
    const version = buildElf({
      sections: [...entry, { name: 'version', flags: RW, data: new Uint8Array(8) }],
      symbols: [entrySymbol],
    }).bytes;
    expectError(() => parseObject(version), 'MALFORMED', /version section is 8 bytes/);
    const twice = buildElf({
      sections: [...entry, { name: '.data', flags: RW, data: new Uint8Array(4) }, { name: '.data', flags: RW, data: new Uint8Array(4) }],
      symbols: [entrySymbol],
    }).bytes;
    expectError(() => parseObject(twice), 'MALFORMED', /two sections are named \.data/);
    const btfNobits = buildElf({ sections: [...entry, { name: '.BTF', type: SHT_NOBITS, size: 64 }], symbols: [entrySymbol] }).bytes;
    expectError(() => parseObject(btfNobits), 'MALFORMED', /SHT_NOBITS/);
    const empty = buildElf({ sections: [] }).bytes;
    expect(parseObject(empty)).toEqual({ license: undefined, kernelVersion: undefined, programs: [], maps: [], hasBtf: false });
  });
});
