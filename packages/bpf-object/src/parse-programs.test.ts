import { describe, expect, it } from 'vitest';
import { parseObject } from './parse.js';
import {
  buildElf,
  code,
  type ElfSpec,
  I,
  prog,
  type RelocationSpec,
  SHF_ALLOC,
  SHF_WRITE,
  SHT_NOBITS,
  type SymbolSpec,
} from './test-support/elf-builder.js';
import { expectError } from './test-support/expect-error.js';
import { Patch } from './test-support/fixtures.js';

const R_64_64 = 1;
const R_64_32 = 10;
const parse = (spec: ElfSpec) => parseObject(buildElf(spec).bytes);
const data = (name: string, size: number): ElfSpec['sections'][number] => ({
  name,
  flags: SHF_ALLOC | SHF_WRITE,
  data: new Uint8Array(size),
});
const fn = (name: string, section: string, value: number, size = 0, bind: 'local' | 'global' | 'weak' = 'global') =>
  ({ name, section, value, size, type: 'func', bind }) as const;

describe('programs and calls (synthetic objects)', () => {
  it('resolves calls against the .text section symbol (imm = target index - 1) and a function symbol (imm -1)', () => {
    const obj = parse({
      sections: [prog('.text', I.mov0(1), I.exit(), I.mov0(2), I.exit()), prog('xdp', I.call(1), I.call(-1), I.exit())],
      symbols: [
        { name: '.text', section: '.text', type: 'section', bind: 'local' },
        fn('one', '.text', 0, 16, 'local'),
        fn('two', '.text', 8 * 2, 16),
        fn('entry', 'xdp', 0, 24),
      ],
      relocations: [
        { section: 'xdp', offset: 0, symbol: '.text', type: R_64_32 }, // 0 / 8 + 1 + 1 = 2: two
        { section: 'xdp', offset: 8, symbol: 'one', type: R_64_32 }, // 0 / 8 - 1 + 1 = 0: one
      ],
    });
    const p = obj.programs[0];
    expect(p?.name).toBe('entry');
    // two is appended first (first call), then one.
    expect(p?.insns.map((x) => [x.code, x.imm])).toEqual([
      [0x85, 2],
      [0x85, 3],
      [0x95, 0],
      [0xb7, 2],
      [0x95, 0],
      [0xb7, 1],
      [0x95, 0],
    ]);
  });

  it('takes function ends from st_size, else from the next function or the section end', () => {
    const obj = parse({
      sections: [prog('xdp', I.mov0(1), I.exit(), I.mov0(2), I.exit(), I.mov0(3), I.exit())],
      symbols: [fn('a', 'xdp', 0), fn('b', 'xdp', 16, 16), fn('c', 'xdp', 32), { name: 'label', section: 'xdp', value: 8, bind: 'local' }],
    });
    expect(obj.programs.map((p) => [p.name, p.insns.length, p.sectionOffset])).toEqual([
      ['a', 2, 0],
      ['b', 2, 16],
      ['c', 2, 32],
    ]);
  });

  it('treats weak functions as programs and static ones as subprograms; keeps recursion on the same copy', () => {
    const obj = parse({
      sections: [prog('xdp', I.call(1), I.exit(), I.call(-1), I.exit())],
      symbols: [fn('w', 'xdp', 0, 16, 'weak'), fn('s', 'xdp', 16, 16, 'local')],
    });
    expect(obj.programs.map((p) => p.name)).toEqual(['w']);
    // w calls s (index 2), s calls itself.
    expect(obj.programs[0]?.insns.map((x) => [x.code, x.imm])).toEqual([
      [0x85, 1],
      [0x95, 0],
      [0x85, -1],
      [0x95, 0],
    ]);
  });

  it('refuses calls that do not land on a function start', () => {
    expectError(
      () =>
        parse({ sections: [prog('xdp', I.call(1), I.mov0(0), I.exit())], symbols: [fn('p', 'xdp', 0, 8), fn('q', 'xdp', 8, 16, 'local')] }),
      'MALFORMED',
      /instruction 2 of xdp, which does not start a function/,
    );
    expectError(
      () => parse({ sections: [prog('xdp', I.call(100), I.exit())], symbols: [fn('p', 'xdp', 0)] }),
      'MALFORMED',
      /instruction 101/,
    );
    expectError(
      () =>
        parse({
          sections: [prog('.text', I.mov0(0), I.exit()), prog('xdp', I.call(5), I.exit())],
          symbols: [fn('sub', '.text', 0), fn('p', 'xdp', 0)],
          relocations: [{ section: 'xdp', offset: 0, symbol: 'sub', type: R_64_32 }],
        }),
      'MALFORMED',
      /instruction 6 of \.text/,
    );
  });

  it('refuses kfunc calls and calls into sections other than .text', () => {
    expectError(() => parse({ sections: [prog('xdp', I.call(5, 2), I.exit())], symbols: [fn('p', 'xdp', 0)] }), 'UNSUPPORTED', /kfunc/);
    expectError(
      () => parse({ sections: [prog('xdp', I.call(5, 3), I.exit())], symbols: [fn('p', 'xdp', 0)] }),
      'MALFORMED',
      /unknown source 3/,
    );
    const err = expectError(
      () =>
        parse({
          sections: [prog('xdp', I.call(-1), I.exit()), prog('tc', I.mov0(0), I.exit())],
          symbols: [fn('p', 'xdp', 0), fn('other', 'tc', 0)],
          relocations: [{ section: 'xdp', offset: 0, symbol: 'other', type: R_64_32 }],
        }),
      'UNSUPPORTED',
      /only \.text functions/,
    );
    expect(err).toMatchObject({ section: 'xdp', symbol: 'other' });
  });

  it('checks code sections and function symbols', () => {
    const odd = buildElf({ sections: [prog('xdp', I.mov0(0), I.exit())], symbols: [fn('p', 'xdp', 0)] });
    new Patch(odd.bytes).u64(odd.header('xdp') + 32, 12n);
    expectError(() => parseObject(odd.bytes), 'MALFORMED', /not a whole number of 8-byte instructions/);
    const cases: [SymbolSpec[], RegExp][] = [
      [[fn('p', 'xdp', 4)], /whole instructions/],
      [[fn('p', 'xdp', 0, 12)], /whole instructions/],
      [[fn('p', 'xdp', 16)], /empty/],
      [[fn('p', 'xdp', 0, 16), fn('q', 'xdp', 8, 8)], /overlaps/],
      [[fn('p', 'xdp', 0, 8), fn('q', 'xdp', 0, 8)], /same offset/],
    ];
    for (const [symbols, message] of cases) {
      expectError(() => parse({ sections: [prog('xdp', I.mov0(0), I.exit())], symbols }), 'MALFORMED', message);
    }
  });

  it('refuses lddw cut off by the end of its function, and pseudo lddw without relocation', () => {
    expectError(
      () => parse({ sections: [prog('xdp', I.lddw(1), I.exit())], symbols: [fn('p', 'xdp', 0, 8), fn('q', 'xdp', 8, 16)] }),
      'MALFORMED',
      /no second slot/,
    );
    expectError(
      () => parse({ sections: [prog('xdp', I.exit(), I.lddw(1)[0] ?? I.exit())], symbols: [fn('p', 'xdp', 0)] }),
      'MALFORMED',
      /no second slot/,
    );
    expectError(
      () => parse({ sections: [prog('xdp', I.lddw(1, 3, 1), I.exit())], symbols: [fn('p', 'xdp', 0)] }),
      'MALFORMED',
      /pseudo source 1 but no relocation/,
    );
    // A plain 64-bit immediate passes through.
    const obj = parse({ sections: [prog('xdp', I.lddw(1, 0x1234), I.exit())], symbols: [fn('p', 'xdp', 0)] });
    expect(obj.programs[0]?.insns[0]).toEqual({ code: 0x18, dst: 1, src: 0, off: 0, imm: 0x1234 });
  });
});

describe('relocations of program code (synthetic objects)', () => {
  const withData = (relocations: RelocationSpec[], extra: SymbolSpec[] = [], insns = [I.lddw(1, 4), [I.exit()]].flat()) =>
    parse({
      sections: [
        prog('xdp', ...insns),
        data('.data', 16),
        { name: 'license', flags: SHF_ALLOC | SHF_WRITE, data: new TextEncoder().encode('GPL\0') },
      ],
      symbols: [
        fn('p', 'xdp', 0),
        { name: '.data', section: '.data', type: 'section', bind: 'local' },
        { name: 'x', section: '.data', value: 8, size: 4, type: 'object' },
        { name: '_license', section: 'license', size: 4, type: 'object' },
        ...extra,
      ],
      relocations,
    });

  it('adds the lddw imm to the symbol value for data references', () => {
    const viaSection = withData([{ section: 'xdp', offset: 0, symbol: '.data', type: R_64_64 }]);
    expect(viaSection.programs[0]?.mapReferences).toEqual([{ insnIndex: 0, map: 0, kind: 'value', offset: 4 }]);
    const viaObject = withData([{ section: 'xdp', offset: 0, symbol: 'x', type: R_64_64 }]);
    expect(viaObject.programs[0]?.mapReferences).toEqual([{ insnIndex: 0, map: 0, kind: 'value', offset: 12 }]);
    expect(viaObject.programs[0]?.insns.slice(0, 2)).toEqual([
      { code: 0x18, dst: 1, src: 2, off: 0, imm: 0 },
      { code: 0, dst: 0, src: 0, off: 0, imm: 12 },
    ]);
  });

  it('refuses data references outside the section, and to sections that are not maps', () => {
    expectError(
      () =>
        withData(
          [{ section: 'xdp', offset: 0, symbol: 'x', type: R_64_64 }],
          [],
          [I.lddw(1, 4), [I.exit()]].flat().map((x, i) => (i === 0 ? { ...x, imm: 8 } : x)),
        ),
      'MALFORMED',
      /offset 16 of \.data/,
    );
    expectError(
      () => withData([{ section: 'xdp', offset: 0, symbol: '.data', type: R_64_64 }], [], [I.lddw(1, -1), [I.exit()]].flat()),
      'MALFORMED',
      /offset -1/,
    );
    const err = expectError(() => withData([{ section: 'xdp', offset: 0, symbol: '_license', type: R_64_64 }]), 'UNSUPPORTED', /not a map/);
    expect(err).toMatchObject({ symbol: '_license', section: 'xdp' });
  });

  it('refuses a reference to an empty data section, and skips unreferenced empty ones', () => {
    const spec = (relocations: RelocationSpec[]): ElfSpec => ({
      sections: [prog('xdp', I.lddw(1), I.exit()), { name: '.bss', type: SHT_NOBITS, flags: SHF_ALLOC | SHF_WRITE, size: 0 }],
      symbols: [fn('p', 'xdp', 0), { name: 'b', section: '.bss', type: 'object' }],
      relocations,
    });
    expect(parse(spec([])).maps).toEqual([]);
    expectError(() => parse(spec([{ section: 'xdp', offset: 0, symbol: 'b', type: R_64_64 }])), 'MALFORMED', /empty section \.bss/);
  });

  it('checks where relocations apply and their types', () => {
    const rel = (offset: number, type = R_64_64, symbol: string | number = 'x') => [{ section: 'xdp', offset, symbol, type }];
    expectError(() => withData(rel(4)), 'MALFORMED', /instruction boundary/);
    expectError(() => withData(rel(8)), 'MALFORMED', /neither lddw nor call/); // the lddw's second slot
    expectError(() => withData(rel(16)), 'MALFORMED', /neither lddw nor call/); // exit
    expectError(() => withData(rel(0, R_64_32)), 'MALFORMED', /not R_BPF_64_64/);
    expectError(() => withData(rel(0, 2)), 'MALFORMED', /not R_BPF_64_64/);
    expectError(() => withData([...rel(0), ...rel(0)]), 'MALFORMED', /two relocations/);
    expectError(() => withData(rel(24)), 'MALFORMED', /outside section xdp/);
    expectError(() => withData(rel(0, R_64_64, 99)), 'MALFORMED', /symbol index 99/);
    expect(withData(rel(0, 0)).programs[0]?.mapReferences).toEqual([]); // R_BPF_NONE
  });

  it('refuses relocations against undefined symbols, and relocated calls that are not BPF-to-BPF calls', () => {
    const err = expectError(() => withData(rel1('ext'), [{ name: 'ext' }]), 'UNSUPPORTED', /extern ext/);
    expect(err).toMatchObject({ symbol: 'ext', section: 'xdp' });
    expectError(
      () =>
        parse({
          sections: [prog('.text', I.exit()), prog('xdp', I.call(-1, 0), I.exit())],
          symbols: [fn('s', '.text', 0), fn('p', 'xdp', 0)],
          relocations: [{ section: 'xdp', offset: 0, symbol: 's', type: R_64_32 }],
        }),
      'MALFORMED',
      /not a BPF-to-BPF call/,
    );
    expectError(
      () =>
        parse({
          sections: [prog('xdp', I.call(-1), I.exit()), data('.data', 8)],
          symbols: [fn('p', 'xdp', 0), { name: 'd', section: '.data', type: 'object' }],
          relocations: [{ section: 'xdp', offset: 0, symbol: 'd', type: R_64_32 }],
        }),
      'MALFORMED',
      /non-code section \.data/,
    );
  });

  it('refuses map references to an offset where no map starts', () => {
    expectError(
      () =>
        parse({
          sections: [prog('xdp', I.lddw(1, 4), I.exit()), { name: 'maps', flags: SHF_ALLOC | SHF_WRITE, data: new Uint8Array(20) }],
          symbols: [fn('p', 'xdp', 0), { name: 'm', section: 'maps', size: 20, type: 'object' }],
          relocations: [{ section: 'xdp', offset: 0, symbol: 'm', type: R_64_64 }],
        }),
      'MALFORMED',
      /maps\+4, where no map is defined/,
    );
  });

  it('refuses programs beyond 1,000,000 instructions with their subprograms', () => {
    const big = new Uint8Array(8 * 600_000);
    const body = code(I.mov0(0));
    for (let i = 0; i < 600_000; i++) big.set(body, 8 * i);
    big.set(code(I.exit()), big.length - 8);
    const withCall = big.slice();
    withCall.set(code(I.call(-1)), 0);
    expectError(
      () =>
        parse({
          sections: [
            { name: '.text', flags: 6, data: big },
            { name: 'xdp', flags: 6, data: withCall },
          ],
          symbols: [fn('sub', '.text', 0), fn('p', 'xdp', 0)],
          relocations: [{ section: 'xdp', offset: 0, symbol: 'sub', type: R_64_32 }],
        }),
      'UNSUPPORTED',
      /more than 1000000 instructions/,
    );
  });
});

function rel1(symbol: string): RelocationSpec[] {
  return [{ section: 'xdp', offset: 0, symbol, type: R_64_64 }];
}
