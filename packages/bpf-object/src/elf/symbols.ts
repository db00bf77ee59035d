/**
 * The ELF symbol table (`.symtab`): every symbol checked against the sections it names.
 */
import { malformed } from '../parse-error.js';
import { ByteReader } from './byte-reader.js';
import { ELF, SHN, SHT, STT } from './elf-constants.js';
import type { ElfFile, ElfSection } from './elf-file.js';
import { StringTable } from './string-table.js';

/** One symbol (`Elf64_Sym`). */
export interface ElfSymbol {
  /** Index in the symbol table (what relocations refer to). */
  readonly index: number;
  /** The name; for `STT_SECTION` symbols, the section's name. */
  readonly name: string;
  /** `ELF64_ST_TYPE` (see `STT`). */
  readonly type: number;
  /** `ELF64_ST_BIND` (see `STB`). */
  readonly bind: number;
  /** `st_shndx`: a section index, or `SHN_UNDEF` / `SHN_ABS` / `SHN_COMMON`. */
  readonly shndx: number;
  /** `st_value`: for a defined symbol, its offset in its section. */
  readonly value: number;
  readonly size: number;
  /** File offset of the symbol's entry, for error messages. */
  readonly entryOffset: number;
}

/** The symbol table of an object. */
export interface SymbolTable {
  readonly section: ElfSection;
  readonly symbols: readonly ElfSymbol[];
}

/**
 * Read the object's single `SHT_SYMTAB` (libbpf's `bpf_object__elf_collect` keeps exactly one).
 * Checks: one symbol table, `sh_entsize` 24 and a size that is a multiple of it, `sh_link` a
 * string table, names inside it and NUL-terminated, `st_shndx` a real section (or
 * `SHN_UNDEF`/`SHN_ABS`/`SHN_COMMON`), and a defined symbol's `[st_value, st_value + st_size)`
 * inside its section. Returns undefined when the object has no symbol table.
 * @throws BpfObjectError MALFORMED (with the file offset of the offending entry).
 */
export function readSymbols(elf: ElfFile): SymbolTable | undefined {
  const tables = elf.sections.filter((s) => s.type === SHT.SYMTAB);
  if (tables.length === 0) return undefined;
  const section = tables[0] as ElfSection;
  if (tables.length > 1)
    throw malformed(`more than one symbol table (sections ${tables.map((t) => t.index).join(', ')})`, { offset: section.headerOffset });
  if (section.entsize !== ELF.SYM_SIZE) {
    throw malformed(`symbol table: sh_entsize ${section.entsize} is not ${ELF.SYM_SIZE}`, {
      offset: section.headerOffset + 56,
      section: section.name,
    });
  }
  if (section.size % ELF.SYM_SIZE !== 0) {
    throw malformed(`symbol table: size ${section.size} is not a multiple of ${ELF.SYM_SIZE}`, {
      offset: section.headerOffset + 32,
      section: section.name,
    });
  }
  const strSection = elf.sections[section.link];
  if (strSection === undefined || strSection.type !== SHT.STRTAB) {
    throw malformed(`symbol table: sh_link ${section.link} is not a string table`, {
      offset: section.headerOffset + 40,
      section: section.name,
    });
  }
  const strings = new StringTable(
    elf.bytes.subarray(strSection.offset, strSection.offset + strSection.size),
    strSection.offset,
    `symbol names (${strSection.name})`,
  );
  const r = new ByteReader(elf.bytes.subarray(section.offset, section.offset + section.size), section.offset, 'symbol table');
  const count = section.size / ELF.SYM_SIZE;
  const symbols: ElfSymbol[] = [];
  for (let index = 0; index < count; index++) {
    const at = index * ELF.SYM_SIZE;
    const entryOffset = section.offset + at;
    const info = r.u8(at + 4, 'st_info');
    const shndx = r.u16(at + 6, 'st_shndx');
    const value = r.u64(at + 8, 'st_value');
    const size = r.u64(at + 16, 'st_size');
    const type = info & 0xf;
    const target = checkShndx(elf, shndx, index, entryOffset);
    const nameOffset = r.u32(at, 'st_name');
    let name = strings.get(nameOffset);
    if (type === STT.SECTION && target !== undefined && name === '') name = target.name;
    if (target !== undefined && type !== STT.FILE && (value > target.size || size > target.size - value)) {
      throw malformed(`symbol ${index} (${name}): ${size} bytes at ${value} are outside section ${target.name} (${target.size} bytes)`, {
        offset: entryOffset + 8,
        section: target.name,
        symbol: name,
      });
    }
    symbols.push({ index, name, type, bind: info >> 4, shndx, value, size, entryOffset });
  }
  return { section, symbols };
}

function checkShndx(elf: ElfFile, shndx: number, index: number, entryOffset: number): ElfSection | undefined {
  if (shndx === SHN.UNDEF || shndx === SHN.ABS || shndx === SHN.COMMON) return undefined;
  if (shndx === SHN.XINDEX) throw malformed(`symbol ${index}: SHN_XINDEX section indexes are not supported`, { offset: entryOffset + 6 });
  const target = shndx < SHN.LORESERVE ? elf.sections[shndx] : undefined;
  if (target === undefined || shndx === 0) {
    throw malformed(`symbol ${index}: st_shndx ${shndx} is not a section index`, { offset: entryOffset + 6 });
  }
  return target;
}
