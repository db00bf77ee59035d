import { describe, expect, it } from 'vitest';
import { expectError } from '../test-support/expect-error.js';
import { fixture, headers, Patch } from '../test-support/fixtures.js';
import { readElfFile } from './elf-file.js';
import { readRelocations, relocationSections } from './relocations.js';
import { readSymbols } from './symbols.js';

function relocationsOf(bytes: Uint8Array, target: string) {
  const elf = readElfFile(bytes);
  const symtab = readSymbols(elf);
  if (symtab === undefined) throw new Error('no symtab');
  const found = relocationSections(elf).find((r) => r.target.name === target);
  if (found === undefined) throw new Error(`no relocations for ${target}`);
  return readRelocations(elf, found.section, symtab, 8);
}

describe('readRelocations', () => {
  it('reads relocations (as llvm-readelf -r shows them)', () => {
    const rel = relocationsOf(fixture('subprograms'), 'xdp/second');
    expect(rel.relocations.map((r) => [r.offset, r.type, r.symbol.name])).toEqual([
      [8, 10, 'global_sub'],
      [0x20, 10, '.text'],
    ]);
  });

  it('checks the section and each entry', () => {
    const base = fixture('subprograms');
    const h = headers(base);
    const rel = h.section('.relxdp/second');
    const cases: [(p: Patch) => void, RegExp, number?][] = [
      [(p) => p.u64(rel.header + 56, 24n), /sh_entsize/],
      [(p) => p.u64(rel.header + 32, 24n), /multiple of 16/],
      [(p) => p.u32(rel.header + 40, h.sectionIndex('.strtab')), /not the symbol table/],
      [(p) => p.u32(rel.offset + 12, 1000), /symbol index 1000/, rel.offset + 12],
      [(p) => p.u64(rel.offset, 0x40n), /outside section xdp\/second/, rel.offset],
      [(p) => p.u64(rel.offset + 16, 0x39n), /outside section xdp\/second/, rel.offset + 16],
      [(p) => p.u32(rel.header + 4, 4), /only SHT_REL/],
    ];
    for (const [patch, message, offset] of cases) {
      const b = base.slice();
      patch(new Patch(b));
      const err = expectError(() => relocationsOf(b, 'xdp/second'), 'MALFORMED', message);
      if (offset !== undefined) expect(err.offset).toBe(offset);
    }
  });
});
