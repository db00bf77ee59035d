/**
 * Relocations of program code: which `lddw` refers to which map (or global variable), and
 * where each relocated `call` goes. Mirrors libbpf's `bpf_object__collect_prog_relos` and
 * `bpf_program__record_reloc` (RELO_LD64, RELO_DATA, RELO_CALL), and refuses what this
 * runtime does not provide (externs, kfuncs, callbacks).
 */
import { BPF_JMP_OP, BPF_PSEUDO_CALL, type Insn, LDDW_OPCODE } from '@bpf-dispatcher/ebpf';
import { R_BPF, SHF, SHN, STT } from './elf/elf-constants.js';
import type { ElfSection } from './elf/elf-file.js';
import { type ElfRelocation, readRelocations } from './elf/relocations.js';
import type { SymbolTable } from './elf/symbols.js';
import type { MapDefinition, ParseContext } from './parse-context.js';
import { dataSectionKind, isDataSection } from './parse-data-maps.js';
import { malformed, unsupported } from './parse-error.js';

/** Opcode of `call imm` (`BPF_JMP | BPF_CALL | BPF_K`). */
export const CALL_OPCODE = 0x05 | BPF_JMP_OP.CALL;

/** What a relocation makes of one instruction. */
export type InsnFixup =
  /** `lddw` of map `map` (index in the object's maps): by fd, or the address of its value + `offset`. */
  | { readonly kind: 'map'; readonly map: number; readonly ref: 'fd' | 'value'; readonly offset: number }
  /** A BPF-to-BPF call to instruction `target` of `.text`. */
  | { readonly kind: 'call'; readonly target: number };

/** An executable section: its instructions and the fixups its relocations ask for, by instruction index. */
export interface CodeSection {
  readonly section: ElfSection;
  readonly insns: readonly Insn[];
  readonly fixups: ReadonlyMap<number, InsnFixup>;
}

/** Finds maps by where relocations point: a definition's start in `.maps`/`maps`, or a data section. */
export class MapLookup {
  private readonly byStart = new Map<string, number>();
  private readonly bySection = new Map<number, number>();

  constructor(readonly defs: readonly MapDefinition[]) {
    defs.forEach((d, i) => {
      if (d.map.origin === 'data') this.bySection.set(d.section.index, i);
      else this.byStart.set(`${d.section.index}:${d.offset}`, i);
    });
  }

  /** The index of the map defined at `offset` of section `sectionIndex` (`.maps` / `maps`). */
  definedAt(sectionIndex: number, offset: number): number | undefined {
    return this.byStart.get(`${sectionIndex}:${offset}`);
  }

  /** The index of the global data map of section `sectionIndex`. */
  dataMap(sectionIndex: number): number | undefined {
    return this.bySection.get(sectionIndex);
  }
}

/** True for the sections that define maps by symbol (`.maps`, `maps`). */
export function isMapSection(section: ElfSection): boolean {
  return section.name === '.maps' || section.name === 'maps';
}

/**
 * Record the fixups of one executable section from its relocation sections.
 * @param insns the section's instruction slots
 * @param text the `.text` section (the only valid target of relocated calls), if any
 * @throws BpfObjectError MALFORMED for a relocation not on an 8-byte boundary, on an
 *   instruction that is not `lddw`/`call`, of another type than R_BPF_64_64 / R_BPF_64_32
 *   (or that type on the wrong instruction), two on one instruction, an `lddw` without its
 *   second slot, a map reference to no map or outside a global data section; UNSUPPORTED
 *   (naming symbol and section) for externs (undefined symbols: `.kconfig`, `.ksyms`,
 *   kfuncs), kfunc calls, function addresses in `lddw` (callbacks, BPF_PSEUDO_FUNC), calls
 *   into other sections than `.text`, references to sections that are not maps.
 */
export function collectFixups(
  ctx: ParseContext,
  symtab: SymbolTable | undefined,
  relSections: readonly ElfSection[],
  section: ElfSection,
  insns: readonly Insn[],
  maps: MapLookup,
  text: ElfSection | undefined,
): Map<number, InsnFixup> {
  const fixups = new Map<number, InsnFixup>();
  for (const rel of relSections) {
    if (symtab === undefined)
      throw malformed(`relocation section ${rel.name} without a symbol table`, { offset: rel.headerOffset, section: section.name });
    for (const r of readRelocations(ctx.elf, rel, symtab, 8).relocations) {
      if (r.type === R_BPF.NONE) continue;
      const at = { offset: section.offset + r.offset, section: section.name, symbol: r.symbol.name };
      if (r.offset % 8 !== 0) throw malformed(`${section.name}: relocation at offset ${r.offset} is not on an instruction boundary`, at);
      const index = r.offset / 8;
      if (fixups.has(index)) throw malformed(`${section.name}: two relocations on instruction ${index}`, at);
      const fixup = classify(ctx, section, insns, index, r, maps, text);
      if (fixup !== undefined) fixups.set(index, fixup);
    }
  }
  return fixups;
}

function classify(
  ctx: ParseContext,
  section: ElfSection,
  insns: readonly Insn[],
  index: number,
  r: ElfRelocation,
  maps: MapLookup,
  text: ElfSection | undefined,
): InsnFixup {
  const sym = r.symbol;
  const at = { offset: section.offset + r.offset, section: section.name, symbol: sym.name };
  const insn = insns[index] as Insn;
  if (insn.code !== LDDW_OPCODE && insn.code !== CALL_OPCODE) {
    throw malformed(
      `${section.name}: relocation against ${sym.name} on instruction ${index} (opcode 0x${insn.code.toString(16)}), which is neither lddw nor call`,
      at,
    );
  }
  if (sym.shndx === SHN.UNDEF) {
    const what = insn.code === CALL_OPCODE ? 'calls extern function (kfunc)' : 'refers to extern';
    throw unsupported(
      `${section.name}: instruction ${index} ${what} ${sym.name || '(unnamed)'}${externOrigin(ctx, sym.name)}, which this runtime does not resolve`,
      at,
    );
  }
  if (sym.shndx === SHN.ABS || sym.shndx === SHN.COMMON) {
    throw unsupported(
      `${section.name}: instruction ${index} refers to ${sym.shndx === SHN.ABS ? 'absolute' : 'common'} symbol ${sym.name}`,
      at,
    );
  }
  const target = ctx.elf.sections[sym.shndx] as ElfSection;
  if (insn.code === CALL_OPCODE) {
    if (r.type !== R_BPF.R_64_32)
      throw malformed(`${section.name}: call at instruction ${index} has relocation type ${r.type}, not R_BPF_64_32`, at);
    if (insn.src === BPF_PSEUDO_CALL.KFUNC) throw unsupported(`${section.name}: instruction ${index} calls kfunc ${sym.name}`, at);
    if (insn.src !== BPF_PSEUDO_CALL.LOCAL)
      throw malformed(`${section.name}: relocated call at instruction ${index} is not a BPF-to-BPF call (src ${insn.src})`, at);
    if ((target.flags & SHF.EXECINSTR) === 0)
      throw malformed(`${section.name}: call at instruction ${index} targets ${sym.name} in non-code section ${target.name}`, at);
    if (target !== text)
      throw unsupported(
        `${section.name}: call at instruction ${index} targets ${sym.name} in section ${target.name}; only .text functions can be called across sections`,
        at,
      );
    if (sym.value % 8 !== 0) throw malformed(`${section.name}: call target ${sym.name} is not on an instruction boundary`, at);
    // libbpf: sub_insn_idx = sym_off / BPF_INSN_SZ + insn->imm + 1 (clang writes imm -1 against a function symbol).
    return { kind: 'call', target: sym.value / 8 + insn.imm + 1 };
  }
  if (r.type !== R_BPF.R_64_64)
    throw malformed(`${section.name}: lddw at instruction ${index} has relocation type ${r.type}, not R_BPF_64_64`, at);
  const second = insns[index + 1];
  if (second === undefined || second.code !== 0) throw malformed(`${section.name}: lddw at instruction ${index} has no second slot`, at);
  const offset = sym.value + insn.imm;
  if (sym.type === STT.FUNC || (target.flags & SHF.EXECINSTR) !== 0) {
    // clang refers to a static callback through the section symbol, the offset in imm.
    const fn =
      sym.type === STT.FUNC ? sym : (ctx.symbolsBySection.get(target.index) ?? []).find((s) => s.type === STT.FUNC && s.value === offset);
    const name = fn?.name ?? `${target.name}+${offset}`;
    throw unsupported(`${section.name}: instruction ${index} takes the address of function ${name} (a callback, BPF_PSEUDO_FUNC)`, {
      ...at,
      symbol: name,
    });
  }
  if (isMapSection(target)) {
    const map = maps.definedAt(target.index, offset);
    if (map === undefined)
      throw malformed(`${section.name}: instruction ${index} refers to ${target.name}+${offset}, where no map is defined`, at);
    return { kind: 'map', map, ref: 'fd', offset: 0 };
  }
  if (isDataSection(target)) {
    const map = maps.dataMap(target.index);
    if (map === undefined) throw malformed(`${section.name}: instruction ${index} refers to empty section ${target.name}`, at);
    if (offset < 0 || offset >= target.size) {
      throw malformed(
        `${section.name}: instruction ${index} refers to offset ${offset} of ${target.name}, outside its ${target.size} bytes`,
        at,
      );
    }
    return { kind: 'map', map, ref: 'value', offset };
  }
  const hint = dataSectionKind(target.name) !== undefined ? ' (not an allocated data section)' : '';
  throw unsupported(`${section.name}: instruction ${index} refers to ${sym.name} in section ${target.name}${hint}, which is not a map`, at);
}

/** ` (from .kconfig)` when BTF places the extern in a DATASEC, else ''. */
function externOrigin(ctx: ParseContext, name: string): string {
  const btf = ctx.btf;
  if (btf === undefined || name === '') return '';
  for (const t of btf.types) {
    if (t.kind !== 'datasec') continue;
    for (const v of t.vars) {
      const vt = btf.types[v.type];
      if (vt !== undefined && (vt.kind === 'var' || vt.kind === 'func') && vt.name === name) return ` (from ${t.name})`;
    }
  }
  return '';
}
