import { describe, expect, it } from 'vitest';
import { buildElf, prog, I } from '../test-support/elf-builder.js';
import { expectError } from '../test-support/expect-error.js';
import { fixture, headers, Patch } from '../test-support/fixtures.js';
import { readElfFile } from './elf-file.js';

describe('readElfFile', () => {
  it('reads the section headers of a clang object (as llvm-readelf -S shows them)', () => {
    const elf = readElfFile(fixture('btf-maps'));
    const byName = new Map(elf.sections.map((s) => [s.name, s]));
    expect(elf.sections[0]?.type).toBe(0);
    expect(byName.get('xdp')).toMatchObject({ type: 1, flags: 6, size: 0x190 });
    expect(byName.get('.maps')).toMatchObject({ type: 1, flags: 3, size: 0x90 });
    expect(byName.get('.relxdp')).toMatchObject({ type: 9, entsize: 16, size: 0x40, info: byName.get('xdp')?.index });
    expect(byName.get('.symtab')).toMatchObject({ type: 2, entsize: 24 });
  });

  it('refuses what is not ELF with NOT_ELF', () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array([0x7f, 0x45, 0x4c]), new TextEncoder().encode('hello world, not an object')]) {
      expectError(() => readElfFile(bytes), 'NOT_ELF');
    }
  });

  it('refuses ELF files that are not 64-bit little-endian relocatable BPF objects with NOT_BPF', () => {
    const cases: [number, number, number][] = [
      [4, 1, 1], // ELFCLASS32
      [5, 2, 1], // big-endian
    ];
    for (const [at, value] of cases) {
      const b = fixture('btf-maps');
      b[at] = value;
      expectError(() => readElfFile(b), 'NOT_BPF');
    }
    const exec = fixture('btf-maps');
    new Patch(exec).u16(16, 2); // ET_EXEC
    expectError(() => readElfFile(exec), 'NOT_BPF', /ET_REL/);
    const x86 = fixture('btf-maps');
    new Patch(x86).u16(18, 62); // EM_X86_64
    expectError(() => readElfFile(x86), 'NOT_BPF', /EM_BPF/);
  });

  it('refuses a file truncated at every header boundary with MALFORMED', () => {
    const whole = fixture('subprograms');
    const h = headers(whole);
    const cuts = [4, 5, 6, 16, 18, 20, 24, 40, 48, 52, 58, 60, 62, 63, h.shoff, h.shoff + 1, whole.length - 64, whole.length - 1];
    for (let i = 0; i < h.shnum; i++) cuts.push(h.sectionHeader(i), h.sectionHeader(i) + 24, h.sectionHeader(i) + 40);
    for (const cut of cuts) {
      const err = expectError(() => readElfFile(whole.slice(0, cut)), 'MALFORMED');
      expect(err.offset).toBeTypeOf('number');
    }
  });

  it('checks the identification and header sizes', () => {
    const patches: [string, (p: Patch) => void, RegExp][] = [
      ['EI_VERSION', (p) => (p.bytes[6] = 0), /identification version/],
      ['e_version', (p) => p.u32(20, 2), /ELF version/],
      ['e_ehsize', (p) => p.u16(52, 52), /e_ehsize/],
      ['e_shentsize', (p) => p.u16(58, 40), /e_shentsize/],
      ['e_shnum 0', (p) => p.u16(60, 0), /no section headers/],
      ['huge e_shnum', (p) => p.u16(60, 0xffff), /cannot fit/],
      ['e_shoff in the header', (p) => p.u64(40, 16n), /overlaps the ELF header/],
      ['e_shoff past the end', (p) => p.u64(40, BigInt(p.bytes.length)), /section header table/],
      ['e_shoff beyond 2^53', (p) => p.u64(40, 1n << 60n), /beyond 2\^53/],
      ['e_shstrndx 0', (p) => p.u16(62, 0), /e_shstrndx/],
      ['e_shstrndx out of range', (p) => p.u16(62, 500), /e_shstrndx/],
    ];
    for (const [what, patch, message] of patches) {
      const b = fixture('btf-maps');
      patch(new Patch(b));
      expectError(() => readElfFile(b), 'MALFORMED', message);
      expect(what).toBeTruthy();
    }
  });

  it('checks every section header', () => {
    const base = fixture('subprograms');
    const h = headers(base);
    const xdp = h.section('xdp');
    const text = h.section('.text');
    const rel = h.section('.relxdp');
    const cases: [(p: Patch) => void, RegExp, number?][] = [
      [(p) => p.u64(xdp.header + 24, BigInt(base.length)), /run past the end/, xdp.header + 24],
      [(p) => p.u64(xdp.header + 24, BigInt(base.length - 8)), /run past the end/, xdp.header + 24],
      [(p) => p.u64(xdp.header + 32, 1n << 40n), /run past the end/, xdp.header + 24],
      [(p) => p.u64(xdp.header + 32, 1n << 62n), /beyond 2\^53/, xdp.header + 32],
      [(p) => p.u64(xdp.header + 24, BigInt(text.offset)), /overlaps/],
      [(p) => p.u64(xdp.header + 24, BigInt(text.offset + 8)), /overlaps/],
      [(p) => p.u64(xdp.header + 24, 0n), /overlaps the ELF header/],
      [(p) => p.u64(xdp.header + 24, BigInt(h.shoff)), /overlaps/],
      [(p) => p.u32(xdp.header + 40, h.shnum), /sh_link/, xdp.header + 40],
      [(p) => p.u32(rel.header + 44, 0), /sh_info/],
      [(p) => p.u32(rel.header + 44, h.shnum + 3), /sh_info/],
      [(p) => p.u32(xdp.header, 0xfffff), /string offset/],
      [(p) => p.u32(h.sectionHeader(0) + 4, 1), /SHT_NULL/],
    ];
    for (const [patch, message, offset] of cases) {
      const b = base.slice();
      patch(new Patch(b));
      const err = expectError(() => readElfFile(b), 'MALFORMED', message);
      if (offset !== undefined) expect(err.offset).toBe(offset);
    }
  });

  it('checks section names are NUL-terminated in the name table', () => {
    const b = fixture('subprograms');
    const names = headers(b).section('.strtab');
    // Make the section name table (.strtab here: clang shares it) end without NUL.
    b[names.offset + names.size - 1] = 0x41;
    expectError(() => readElfFile(b), 'MALFORMED', /not NUL-terminated/);
  });

  it('checks e_shstrndx names a string table', () => {
    const built = buildElf({ sections: [prog('xdp', I.mov0(0), I.exit())], symbols: [{ name: 'p', section: 'xdp', type: 'func' }] });
    readElfFile(built.bytes);
    new Patch(built.bytes).u16(62, built.index.get('xdp') as number);
    expectError(() => readElfFile(built.bytes), 'MALFORMED', /not a string table/);
  });

  it('ignores the file ranges of NOBITS and empty sections', () => {
    const built = buildElf({
      sections: [
        { name: '.bss', type: 8, flags: 3, size: 1 << 20 },
        { name: '.empty', data: new Uint8Array(0) },
      ],
    });
    const p = new Patch(built.bytes);
    p.u64(built.header('.empty') + 24, 1n << 40n);
    p.u64(built.header('.bss') + 24, 0n);
    expect(readElfFile(built.bytes).sections.map((s) => s.name)).toContain('.bss');
  });
});
