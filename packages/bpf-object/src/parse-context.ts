/**
 * What the parsing steps share: the ELF file, its symbols, its BTF, and the maps found so
 * far (with where each is defined, so relocations can find them).
 */
import type { Btf } from './btf/btf.js';
import type { LayoutBuilder } from './btf/layout.js';
import type { ElfFile, ElfSection } from './elf/elf-file.js';
import type { ElfSymbol } from './elf/symbols.js';
import type { ParsedMap } from './parsed.js';

/** The parsed containers of one object. */
export interface ParseContext {
  readonly elf: ElfFile;
  /** The symbol table's symbols (empty without a symbol table). */
  readonly symbols: readonly ElfSymbol[];
  /** The symbols defined in each section, by section index, in symbol-table order. */
  readonly symbolsBySection: ReadonlyMap<number, readonly ElfSymbol[]>;
  readonly btf: Btf | undefined;
  /** Layouts from `btf` (undefined without BTF). */
  readonly layouts: LayoutBuilder | undefined;
}

/** A map definition and where it lives in the object (libbpf's `map->sec_idx` / `map->sec_offset`). */
export interface MapDefinition {
  readonly map: ParsedMap;
  readonly section: ElfSection;
  /** Offset of the definition in its section (0 for global data maps). */
  readonly offset: number;
  /** Bytes of the section the definition covers. */
  readonly size: number;
}

/** The symbols defined in a section, in symbol-table order. */
export function symbolsIn(ctx: ParseContext, section: ElfSection): readonly ElfSymbol[] {
  return ctx.symbolsBySection.get(section.index) ?? [];
}

/** Group symbols by the section that defines them. */
export function groupBySection(symbols: readonly ElfSymbol[]): Map<number, ElfSymbol[]> {
  const out = new Map<number, ElfSymbol[]>();
  for (const s of symbols) {
    const list = out.get(s.shndx);
    if (list === undefined) out.set(s.shndx, [s]);
    else list.push(s);
  }
  return out;
}
