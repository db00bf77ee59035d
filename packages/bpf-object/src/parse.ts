/**
 * `parseObject`: open a clang-compiled BPF ELF object the way libbpf's `bpf_object__open`
 * does, and collect its relocations, without creating or loading anything.
 */
import { decodeProgram } from '@bpf-dispatcher/ebpf';
import { type Btf, parseBtf } from './btf/btf.js';
import { findCoreRelocations } from './btf/btf-ext.js';
import { LayoutBuilder } from './btf/layout.js';
import { SHF, SHT } from './elf/elf-constants.js';
import { type ElfFile, type ElfSection, readElfFile } from './elf/elf-file.js';
import { relocationSections } from './elf/relocations.js';
import { readSymbols, type SymbolTable } from './elf/symbols.js';
import { BpfObjectError } from './errors.js';
import { parseBtfMaps } from './parse-btf-maps.js';
import { groupBySection, type MapDefinition, type ParseContext } from './parse-context.js';
import { isDataSection, parseDataMaps } from './parse-data-maps.js';
import { malformed, unsupported } from './parse-error.js';
import { parseLegacyMaps } from './parse-legacy-maps.js';
import { MAX_OBJECT_SIZE } from './parse-limits.js';
import { type CodeSection, collectFixups, MapLookup } from './parse-relocations.js';
import { type InsnBudget, isProgramSymbol, linkProgram, type SectionFunctions, sectionFunctions } from './parse-programs.js';
import type { ParsedObject, ParsedProgram } from './parsed.js';

/** Options of {@link parseObject}. */
export interface ParseObjectOptions {
  /** A name for the object (e.g. its file name), prefixed to error messages. */
  readonly name?: string;
}

/**
 * Parse a clang-compiled BPF ELF object (`clang -target bpf -c`): what libbpf's
 * `bpf_object__open` plus its relocation collection do, as data.
 *
 * - Programs: each global function of an executable section other than `.text` (several per
 *   section allowed), with the `.text` subprograms it reaches (and static functions of its
 *   own section) appended and BPF-to-BPF calls fixed up (`bpf_object__reloc_code`).
 * - Maps, in this order: BTF-defined maps of `.maps` by offset, legacy `maps` definitions by
 *   offset, then one single-entry array per non-empty global data section (`.data*`,
 *   `.rodata*`, `.bss*`) in section order. Program `lddw`s that refer to them become map
 *   references (`imm` = index in `maps`).
 * - `license` (NUL-terminated string) and the legacy `version` (u32).
 *
 * Every offset, size, count and index taken from the file is checked before use; an input
 * either parses or throws a {@link BpfObjectError}.
 * @param bytes the object file; at most {@link MAX_OBJECT_SIZE} (64 MiB)
 * @throws BpfObjectError `EINVAL` if `bytes` is not a Uint8Array or is larger than 64 MiB;
 *   `NOT_ELF` without the ELF magic; `NOT_BPF` for another class, byte order, type or machine
 *   than a 64-bit little-endian relocatable `EM_BPF` object; `MALFORMED` for a broken or
 *   hostile structure (with the file `offset`, and `section`/`symbol` where meaningful);
 *   `UNSUPPORTED` for CO-RE relocations, externs (`.kconfig`, `.ksyms`), kfunc calls,
 *   callbacks, map-in-map and unknown map attributes (naming the symbol and section).
 */
export function parseObject(bytes: Uint8Array, options: ParseObjectOptions = {}): ParsedObject {
  if (!(bytes instanceof Uint8Array)) throw new BpfObjectError('EINVAL', 'parseObject: expected the object file as a Uint8Array');
  if (bytes.length > MAX_OBJECT_SIZE) {
    throw new BpfObjectError('EINVAL', `parseObject: the object is ${bytes.length} bytes, more than the ${MAX_OBJECT_SIZE} accepted`);
  }
  const name = options.name;
  if (name === undefined) return parse(bytes);
  try {
    return parse(bytes);
  } catch (e) {
    if (!(e instanceof BpfObjectError)) throw e;
    const where = {
      ...(e.offset !== undefined ? { offset: e.offset } : {}),
      ...(e.section !== undefined ? { section: e.section } : {}),
      ...(e.symbol !== undefined ? { symbol: e.symbol } : {}),
    };
    throw new BpfObjectError(e.code, `${name}: ${e.message}`, where, { cause: e });
  }
}

/** Sections of which an object may hold only one. */
const SINGLETONS = ['license', 'version', '.maps', 'maps', '.BTF', '.BTF.ext', '.text'];

function parse(input: Uint8Array): ParsedObject {
  // A plain Uint8Array view (a Buffer's slice() would not copy).
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const elf = readElfFile(bytes);
  checkUniqueNames(elf);
  const symtab = readSymbols(elf);
  const btfSection = only(elf, '.BTF');
  const btf = btfSection !== undefined ? parseBtf(contents(elf, btfSection), btfSection.offset) : undefined;
  checkCoRe(elf, btf);
  const symbols = symtab?.symbols ?? [];
  const ctx: ParseContext = {
    elf,
    symbols,
    symbolsBySection: groupBySection(symbols),
    btf,
    layouts: btf !== undefined ? new LayoutBuilder(btf) : undefined,
  };

  const btfMaps = only(elf, '.maps');
  const legacyMaps = only(elf, 'maps');
  // concat, not push(...): a hostile object may define more maps than a call takes arguments.
  const defs: MapDefinition[] = [
    btfMaps !== undefined ? parseBtfMaps(ctx, btfMaps) : [],
    legacyMaps !== undefined ? parseLegacyMaps(ctx, legacyMaps) : [],
    parseDataMaps(ctx),
  ].flat();
  checkMapsRelocations(elf, defs);

  return {
    license: readLicense(elf),
    kernelVersion: readVersion(elf),
    programs: parsePrograms(ctx, symtab, new MapLookup(defs)),
    maps: defs.map((d) => d.map),
    hasBtf: btf !== undefined,
  };
}

/** No two sections that the parser interprets share a name. */
function checkUniqueNames(elf: ElfFile): void {
  const seen = new Set<string>();
  for (const s of elf.sections) {
    const interpreted = SINGLETONS.includes(s.name) || isCode(s) || isDataSection(s);
    if (!interpreted) continue;
    if (seen.has(s.name)) throw malformed(`two sections are named ${s.name}`, { offset: s.headerOffset, section: s.name });
    seen.add(s.name);
  }
}

function only(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name && s.type !== SHT.NULL);
}

function contents(elf: ElfFile, section: ElfSection): Uint8Array {
  if (section.type === SHT.NOBITS)
    throw malformed(`section ${section.name} has no contents in the file (SHT_NOBITS)`, {
      offset: section.headerOffset,
      section: section.name,
    });
  return elf.bytes.subarray(section.offset, section.offset + section.size);
}

function isCode(section: ElfSection): boolean {
  return section.type === SHT.PROGBITS && (section.flags & SHF.EXECINSTR) !== 0;
}

/** CO-RE relocations in `.BTF.ext` are refused (libbpf's `bpf_object__relocate_core`). */
function checkCoRe(elf: ElfFile, btf: Btf | undefined): void {
  const ext = only(elf, '.BTF.ext');
  if (ext === undefined) return;
  const core = findCoreRelocations(contents(elf, ext), ext.offset, btf);
  if (core === undefined) return;
  const type = core.typeName !== '' ? ` on type ${core.typeName}` : '';
  const access = core.access !== '' ? ` (access ${core.access}, ${core.kind})` : ` (${core.kind})`;
  throw unsupported(
    `CO-RE relocations are not supported: ${core.count} in the object, the first in section ${core.section || '?'}${type}${access}`,
    { offset: core.offset, ...(core.section !== '' ? { section: core.section } : {}) },
  );
}

/** Relocations of `.maps` are map-in-map / prog-array initialisers (libbpf's `bpf_object__collect_map_relos`). */
function checkMapsRelocations(elf: ElfFile, defs: readonly MapDefinition[]): void {
  for (const { section, target } of relocationSections(elf)) {
    if (target.name !== '.maps' || section.size === 0) continue;
    const first = elf.reader.u64(section.offset, 'r_offset');
    const map = defs.find((d) => d.section === target && first >= d.offset && first < d.offset + d.size);
    throw unsupported(
      `map ${map !== undefined ? `'${map.map.name}'` : 'in .maps'}: initialisers (relocations in .maps, map-in-map or prog-array values) are not supported`,
      {
        offset: section.offset,
        section: '.maps',
        ...(map !== undefined ? { symbol: map.map.name } : {}),
      },
    );
  }
}

function readLicense(elf: ElfFile): string | undefined {
  const s = only(elf, 'license');
  if (s === undefined) return undefined;
  const data = contents(elf, s);
  const end = data.indexOf(0);
  if (end < 0) throw malformed('the license section is not a NUL-terminated string', { offset: s.offset, section: s.name });
  return new TextDecoder().decode(data.subarray(0, end));
}

function readVersion(elf: ElfFile): number | undefined {
  const s = only(elf, 'version');
  if (s === undefined) return undefined;
  if (s.size !== 4) throw malformed(`the version section is ${s.size} bytes, not 4`, { offset: s.headerOffset, section: s.name });
  return elf.reader.u32(s.offset, 'version');
}

function parsePrograms(ctx: ParseContext, symtab: SymbolTable | undefined, maps: MapLookup): ParsedProgram[] {
  const { elf } = ctx;
  const rels = new Map<number, ElfSection[]>();
  for (const { section, target } of relocationSections(elf)) {
    if (!isCode(target)) continue;
    const list = rels.get(target.index);
    if (list === undefined) rels.set(target.index, [section]);
    else list.push(section);
  }
  const textSection = elf.sections.find((s) => s.name === '.text' && isCode(s));
  const functions = new Map<number, SectionFunctions>();
  for (const section of elf.sections) {
    if (!isCode(section)) continue;
    if (section.size % 8 !== 0) {
      throw malformed(`${section.name}: ${section.size} bytes is not a whole number of 8-byte instructions`, {
        offset: section.headerOffset + 32,
        section: section.name,
      });
    }
    const insns = decodeProgram(contents(elf, section));
    const fixups = collectFixups(ctx, symtab, rels.get(section.index) ?? [], section, insns, maps, textSection);
    const code: CodeSection = { section, insns, fixups };
    functions.set(section.index, sectionFunctions(ctx, code));
  }
  const text = textSection !== undefined ? functions.get(textSection.index) : undefined;
  const budget: InsnBudget = { used: 0 };
  const programs: ParsedProgram[] = [];
  for (const own of functions.values()) {
    if (own === text) continue;
    for (const f of own.functions) if (isProgramSymbol(f.symbol)) programs.push(linkProgram(f, text, own, budget));
  }
  return programs;
}
