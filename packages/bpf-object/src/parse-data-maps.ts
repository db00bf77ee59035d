/**
 * Global data: each allocated `.data`, `.rodata` and `.bss` section (and their `.data.*`,
 * `.rodata.*`, `.bss.*` variants) becomes a single-entry array map (libbpf's
 * `bpf_object__init_global_data_maps` / `bpf_object__init_internal_map`).
 */
import { ELF_SECTION_LIMIT } from './parse-limits.js';
import { SHF, SHT, STB, STT } from './elf/elf-constants.js';
import { type ElfSection, sectionBytes } from './elf/elf-file.js';
import { type MapDefinition, type ParseContext, symbolsIn } from './parse-context.js';
import { unsupported } from './parse-error.js';
import { BPF_MAP_TYPE_ARRAY, mapType } from './parse-map-types.js';
import type { ParsedVariable } from './parsed.js';

/** `BPF_F_RDONLY_PROG`: programs may only read the map (libbpf sets it on `.rodata` maps). */
export const BPF_F_RDONLY_PROG = 0x80;

/** Which kind of global data a section name denotes, if any. */
export function dataSectionKind(name: string): 'data' | 'rodata' | 'bss' | undefined {
  for (const kind of ['data', 'rodata', 'bss'] as const) {
    if (name === `.${kind}` || name.startsWith(`.${kind}.`)) return kind;
  }
  return undefined;
}

/** True if the section holds global data: a data name, allocated, not executable, PROGBITS or NOBITS. */
export function isDataSection(section: ElfSection): boolean {
  return (
    dataSectionKind(section.name) !== undefined &&
    (section.flags & SHF.ALLOC) !== 0 &&
    (section.flags & SHF.EXECINSTR) === 0 &&
    (section.type === SHT.PROGBITS || section.type === SHT.NOBITS)
  );
}

/**
 * One array map per non-empty global data section, in section order: key size 4, value
 * size the section's size, one entry, the section's bytes as initial value (zeros for
 * `NOBITS`), read-only (`BPF_F_RDONLY_PROG`) for `.rodata*`, and the section's `STT_OBJECT`
 * symbols as variables with their BTF layouts from the section's DATASEC (matched by name).
 * Empty sections are skipped (a reference to one fails when relocations are collected).
 * @throws BpfObjectError UNSUPPORTED for a section larger than {@link ELF_SECTION_LIMIT}
 *   (possible only for `NOBITS`).
 */
export function parseDataMaps(ctx: ParseContext): MapDefinition[] {
  const defs: MapDefinition[] = [];
  for (const section of ctx.elf.sections) {
    if (!isDataSection(section) || section.size === 0) continue;
    if (section.size > ELF_SECTION_LIMIT) {
      throw unsupported(`section ${section.name} is ${section.size} bytes, more than the ${ELF_SECTION_LIMIT} a global data map may hold`, {
        offset: section.headerOffset,
        section: section.name,
      });
    }
    const readonly = dataSectionKind(section.name) === 'rodata';
    defs.push({
      map: {
        name: section.name,
        origin: 'data',
        section: section.name,
        type: mapType(BPF_MAP_TYPE_ARRAY),
        keySize: 4,
        valueSize: section.size,
        maxEntries: 1,
        flags: readonly ? BPF_F_RDONLY_PROG : 0,
        initialValue: section.type === SHT.NOBITS ? new Uint8Array(section.size) : new Uint8Array(sectionBytes(ctx.elf, section)),
        readonly,
        variables: variablesOf(ctx, section),
      },
      section,
      offset: 0,
      size: section.size,
    });
  }
  return defs;
}

function variablesOf(ctx: ParseContext, section: ElfSection): ParsedVariable[] {
  const layoutIds = new Map<string, number>();
  const datasec = ctx.btf?.datasec(section.name);
  if (ctx.btf !== undefined && datasec !== undefined) {
    for (const v of datasec.vars) {
      const t = ctx.btf.type(v.type);
      if (t.kind === 'var' && !layoutIds.has(t.name)) layoutIds.set(t.name, t.type);
    }
  }
  const out: ParsedVariable[] = [];
  const symbols = symbolsIn(ctx, section)
    .filter((s) => s.type === STT.OBJECT)
    .sort((a, b) => a.value - b.value || a.index - b.index);
  for (const s of symbols) {
    const typeId = layoutIds.get(s.name);
    const layout = typeId !== undefined ? ctx.layouts?.layout(typeId) : undefined;
    out.push({
      name: s.name,
      offset: s.value,
      size: s.size,
      binding: s.bind === STB.LOCAL ? 'static' : 'global',
      ...(layout !== undefined ? { layout } : {}),
    });
  }
  return out;
}
