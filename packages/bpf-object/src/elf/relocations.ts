/**
 * Relocation sections (`SHT_REL`): which section they patch and their entries, each checked
 * against the symbol table and the patched section.
 */
import { malformed } from '../parse-error.js';
import { ByteReader } from './byte-reader.js';
import { ELF, SHT } from './elf-constants.js';
import type { ElfFile, ElfSection } from './elf-file.js';
import type { ElfSymbol, SymbolTable } from './symbols.js';

/** One relocation (`Elf64_Rel`). */
export interface ElfRelocation {
  /** Offset in the patched section (`r_offset`). */
  readonly offset: number;
  /** `ELF64_R_TYPE` (see `R_BPF`). */
  readonly type: number;
  readonly symbol: ElfSymbol;
  /** File offset of the entry, for error messages. */
  readonly entryOffset: number;
}

/** A relocation section and the section it applies to (`sh_info`). */
export interface RelocationSection {
  readonly section: ElfSection;
  readonly target: ElfSection;
  readonly relocations: readonly ElfRelocation[];
}

/** The relocation sections (`SHT_REL` and `SHT_RELA`) of an object with the section each patches. */
export function relocationSections(elf: ElfFile): { section: ElfSection; target: ElfSection }[] {
  const out: { section: ElfSection; target: ElfSection }[] = [];
  for (const section of elf.sections) {
    if (section.type !== SHT.REL && section.type !== SHT.RELA) continue;
    // readElfFile checked that sh_info of a relocation section is a section index.
    out.push({ section, target: elf.sections[section.info] as ElfSection });
  }
  return out;
}

/**
 * Read the entries of a `SHT_REL` section (libbpf's `bpf_object__collect_relos` loop).
 * Checks: `sh_entsize` 16 and a size that is a multiple of it, `sh_link` the symbol table,
 * each symbol index inside it, and each `r_offset` + `width` inside the patched section.
 * @param width bytes each relocation patches from `r_offset` (8: one instruction slot)
 * @throws BpfObjectError MALFORMED (with the file offset of the offending entry).
 */
export function readRelocations(elf: ElfFile, section: ElfSection, symtab: SymbolTable, width: number): RelocationSection {
  const target = elf.sections[section.info] as ElfSection;
  const where = { offset: section.headerOffset, section: target.name };
  if (section.type !== SHT.REL)
    throw malformed(`relocation section ${section.name}: only SHT_REL is valid for BPF, not type ${section.type}`, where);
  if (section.entsize !== ELF.REL_SIZE)
    throw malformed(`relocation section ${section.name}: sh_entsize ${section.entsize} is not ${ELF.REL_SIZE}`, where);
  if (section.size % ELF.REL_SIZE !== 0)
    throw malformed(`relocation section ${section.name}: size ${section.size} is not a multiple of ${ELF.REL_SIZE}`, where);
  if (section.link !== symtab.section.index) {
    throw malformed(`relocation section ${section.name}: sh_link ${section.link} is not the symbol table (${symtab.section.index})`, where);
  }
  const r = new ByteReader(
    elf.bytes.subarray(section.offset, section.offset + section.size),
    section.offset,
    `relocation section ${section.name}`,
  );
  const relocations: ElfRelocation[] = [];
  for (let at = 0; at < section.size; at += ELF.REL_SIZE) {
    const entryOffset = section.offset + at;
    const offset = r.u64(at, 'r_offset');
    const type = r.u32(at + 8, 'r_info type');
    const symIndex = r.u32(at + 12, 'r_info symbol');
    const symbol = symtab.symbols[symIndex];
    if (symbol === undefined) {
      throw malformed(
        `relocation section ${section.name}: symbol index ${symIndex} is outside the symbol table (${symtab.symbols.length} symbols)`,
        {
          offset: entryOffset + 12,
          section: target.name,
        },
      );
    }
    if (offset + width > target.size) {
      throw malformed(`relocation section ${section.name}: offset ${offset} is outside section ${target.name} (${target.size} bytes)`, {
        offset: entryOffset,
        section: target.name,
        symbol: symbol.name,
      });
    }
    relocations.push({ offset, type, symbol, entryOffset });
  }
  return { section, target, relocations };
}
