import { describe, expect, it } from 'vitest';
import { buildElf, I, prog } from '../test-support/elf-builder.js';
import { expectError } from '../test-support/expect-error.js';
import { fixture, headers, Patch } from '../test-support/fixtures.js';
import { readElfFile } from './elf-file.js';
import { readSymbols } from './symbols.js';

const symbolsOf = (bytes: Uint8Array) => readSymbols(readElfFile(bytes));

describe('readSymbols', () => {
  it('reads a clang symbol table (as llvm-readelf -s shows it)', () => {
    const table = symbolsOf(fixture('subprograms'));
    const byName = new Map(table?.symbols.map((s) => [s.name, s]));
    expect(table?.symbols).toHaveLength(25);
    expect(byName.get('prog_b')).toMatchObject({ type: 2, bind: 1, value: 0x20, size: 72 });
    expect(byName.get('middle')).toMatchObject({ type: 2, bind: 0, value: 0x30, size: 64 });
    expect(byName.get('in_section')).toMatchObject({ type: 2, bind: 0, value: 0x68, size: 24 });
    // Section symbols take their section's name.
    expect(table?.symbols[2]).toMatchObject({ name: '.text', type: 3 });
  });

  it('returns undefined without a symbol table', () => {
    expect(symbolsOf(buildElf({ sections: [] }).bytes.slice())).toBeDefined();
    const b = buildElf({ sections: [] });
    new Patch(b.bytes).u32(b.header('.symtab') + 4, 1); // no longer SHT_SYMTAB
    expect(symbolsOf(b.bytes)).toBeUndefined();
  });

  it('checks the table and each entry', () => {
    const base = fixture('subprograms');
    const h = headers(base);
    const symtab = h.section('.symtab');
    const entry = (i: number) => symtab.offset + 24 * i;
    const cases: [(p: Patch) => void, RegExp, number?][] = [
      [(p) => p.u64(symtab.header + 56, 16n), /sh_entsize/],
      [(p) => p.u64(symtab.header + 32, BigInt(symtab.size - 8)), /multiple of 24/],
      [(p) => p.u32(symtab.header + 40, h.sectionIndex('xdp')), /not a string table/],
      [(p) => p.u16(entry(20) + 6, h.shnum), /st_shndx/, entry(20) + 6],
      [(p) => p.u16(entry(20) + 6, 0xff05), /st_shndx/, entry(20) + 6],
      [(p) => p.u16(entry(20) + 6, 0xffff), /SHN_XINDEX/, entry(20) + 6],
      [(p) => p.u64(entry(20) + 8, 0x1000n), /outside section xdp/, entry(20) + 8],
      [(p) => p.u64(entry(20) + 16, 0x1000n), /outside section xdp/, entry(20) + 8],
      [(p) => p.u64(entry(20) + 8, 1n << 63n), /beyond 2\^53/],
      [(p) => p.u32(entry(20), 0xffffff), /string offset/],
    ];
    for (const [patch, message, offset] of cases) {
      const b = base.slice();
      patch(new Patch(b));
      const err = expectError(() => symbolsOf(b), 'MALFORMED', message);
      if (offset !== undefined) expect(err.offset).toBe(offset);
    }
  });

  it('refuses two symbol tables', () => {
    const b = buildElf({ sections: [prog('xdp', I.exit())], symbols: [] });
    new Patch(b.bytes).u32(b.header('xdp') + 4, 2);
    expectError(() => symbolsOf(b.bytes), 'MALFORMED', /more than one symbol table/);
  });
});
