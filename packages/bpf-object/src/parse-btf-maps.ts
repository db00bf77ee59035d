/**
 * BTF-defined maps: the `.maps` section, whose variables are structs that encode each
 * attribute in a member's type (libbpf's `bpf_object__init_user_btf_maps` and
 * `parse_btf_map_def`).
 */
import type { Btf } from './btf/btf.js';
import type { BtfComposite, BtfTypeMember } from './btf/btf-types.js';
import { resolveSize, skipModsAndTypedefs } from './btf/layout.js';
import { STT } from './elf/elf-constants.js';
import type { ElfSection } from './elf/elf-file.js';
import type { ElfSymbol } from './elf/symbols.js';
import { type MapDefinition, type ParseContext, symbolsIn } from './parse-context.js';
import { malformed, unsupported } from './parse-error.js';
import { mapType } from './parse-map-types.js';
import type { BtfLayout, ParsedMap } from './parsed.js';

/** Integer attributes, written `__uint(name, N)` = `int (*name)[N]`, and the ParsedMap field each sets. */
const INT_ATTRIBUTES = Object.freeze({
  type: 'type',
  max_entries: 'maxEntries',
  map_flags: 'flags',
  numa_node: 'numaNode',
  key_size: 'keySize',
  value_size: 'valueSize',
  map_extra: 'mapExtra',
  pinning: 'pinning',
} as const);

type IntAttribute = keyof typeof INT_ATTRIBUTES;

/**
 * The maps defined in `.maps`, in the order of their symbols' offsets. Each VAR of the
 * `.maps` DATASEC is matched with its ELF symbol by name (libbpf's `btf_fixup_datasec`
 * does the same: the DATASEC offsets clang writes are 0).
 * @throws BpfObjectError MALFORMED without BTF or a `.maps` DATASEC, for a variable without
 *   symbol or whose definition is not a struct or lies outside the section, for an attribute
 *   not written `int (*name)[N]`, a key/value that is not a pointer or has no size, or key or
 *   value sizes given two ways that disagree; UNSUPPORTED for `values` (map-in-map and
 *   prog-array initialisers) and any member this loader does not know, naming map and member.
 */
export function parseBtfMaps(ctx: ParseContext, section: ElfSection): MapDefinition[] {
  const { btf } = ctx;
  if (btf === undefined)
    throw malformed('section .maps needs BTF, and the object has no .BTF section', { offset: section.headerOffset, section: section.name });
  const datasec = btf.datasec(section.name);
  if (datasec === undefined) {
    if (section.size === 0) return [];
    throw malformed('BTF has no DATASEC for section .maps', { offset: btf.fileOffset, section: section.name });
  }
  const symbols = new Map<string, ElfSymbol>();
  for (const s of symbolsIn(ctx, section))
    if (s.type !== STT.SECTION && s.type !== STT.FILE && !symbols.has(s.name)) symbols.set(s.name, s);
  const seen = new Set<string>();
  const defs: MapDefinition[] = [];
  for (const v of datasec.vars) {
    const variable = btf.type(v.type);
    if (variable.kind !== 'var')
      throw malformed(`DATASEC .maps: type ${v.type} is a ${variable.kind}, not a VAR`, { offset: variable.offset, section: section.name });
    const name = variable.name;
    if (seen.has(name))
      throw malformed(`map '${name}' is defined twice in .maps`, { offset: variable.offset, section: section.name, symbol: name });
    seen.add(name);
    const symbol = symbols.get(name);
    if (symbol === undefined)
      throw malformed(`map '${name}': no symbol of that name in .maps`, { offset: variable.offset, section: section.name, symbol: name });
    const def = skipModsAndTypedefs(btf, variable.type).type;
    if (def.kind !== 'struct') {
      throw malformed(`map '${name}': its definition is a ${def.kind}, not a struct`, {
        offset: def.offset,
        section: section.name,
        symbol: name,
      });
    }
    if (def.size > section.size - symbol.value) {
      throw malformed(`map '${name}': ${def.size} bytes at ${symbol.value} are outside .maps (${section.size} bytes)`, {
        offset: symbol.entryOffset,
        section: section.name,
        symbol: name,
      });
    }
    defs.push({ map: parseDefinition(ctx, btf, name, def, section), section, offset: symbol.value, size: def.size });
  }
  defs.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < defs.length; i++) {
    const prev = defs[i - 1] as MapDefinition;
    const cur = defs[i] as MapDefinition;
    if (cur.offset < prev.offset + prev.size) {
      throw malformed(`map '${cur.map.name}' overlaps map '${prev.map.name}' in .maps`, { section: section.name, symbol: cur.map.name });
    }
  }
  return defs;
}

function parseDefinition(ctx: ParseContext, btf: Btf, name: string, def: BtfComposite, section: ElfSection): ParsedMap {
  const where: Where = { offset: def.offset, section: section.name, symbol: name };
  const ints: Partial<Record<IntAttribute, number>> = {};
  let key: { size: number; layout: BtfLayout | undefined } | undefined;
  let value: { size: number; layout: BtfLayout | undefined } | undefined;
  for (const m of def.members) {
    if (Object.hasOwn(INT_ATTRIBUTES, m.name)) {
      ints[m.name as IntAttribute] = intAttribute(btf, name, m, where);
    } else if (m.name === 'key' || m.name === 'value') {
      const pointee = pointeeOf(btf, name, m, where);
      const described = { size: resolveSize(btf, pointee), layout: ctx.layouts?.layout(pointee) };
      if (m.name === 'key') key = described;
      else value = described;
    } else if (m.name === 'values') {
      throw unsupported(`map '${name}': member 'values' (map-in-map or prog-array initialisers) is not supported`, where);
    } else {
      throw unsupported(`map '${name}': unknown member '${m.name}' in its definition`, where);
    }
  }
  const keySize = agree(name, 'key', ints.key_size, key?.size, where);
  const valueSize = agree(name, 'value', ints.value_size, value?.size, where);
  return {
    name,
    origin: 'btf',
    section: section.name,
    type: mapType(ints.type ?? 0),
    keySize,
    valueSize,
    maxEntries: ints.max_entries ?? 0,
    flags: ints.map_flags ?? 0,
    readonly: false,
    ...(key?.layout !== undefined ? { keyLayout: key.layout } : {}),
    ...(value?.layout !== undefined ? { valueLayout: value.layout } : {}),
    ...(ints.numa_node !== undefined ? { numaNode: ints.numa_node } : {}),
    ...(ints.map_extra !== undefined ? { mapExtra: ints.map_extra } : {}),
    ...(ints.pinning !== undefined ? { pinning: ints.pinning } : {}),
  };
}

type Where = { offset: number; section: string; symbol: string };

/** `int (*name)[N]` gives N (libbpf's `get_map_field_int`). */
function intAttribute(btf: Btf, map: string, m: BtfTypeMember, where: Where): number {
  const ptr = skipModsAndTypedefs(btf, m.type).type;
  if (ptr.kind !== 'ptr') throw malformed(`map '${map}': attribute '${m.name}' must be int (*${m.name})[N], found a ${ptr.kind}`, where);
  const arr = skipModsAndTypedefs(btf, ptr.type).type;
  if (arr.kind !== 'array') throw malformed(`map '${map}': attribute '${m.name}' must point to an array, found a ${arr.kind}`, where);
  return arr.nelems;
}

/** `typeof(T) *name` gives T. */
function pointeeOf(btf: Btf, map: string, m: BtfTypeMember, where: Where): number {
  const ptr = skipModsAndTypedefs(btf, m.type).type;
  if (ptr.kind !== 'ptr') throw malformed(`map '${map}': member '${m.name}' must be a pointer to its type, found a ${ptr.kind}`, where);
  return ptr.type;
}

function agree(map: string, what: 'key' | 'value', fromSize: number | undefined, fromType: number | undefined, where: Where): number {
  if (fromSize !== undefined && fromType !== undefined && fromSize !== fromType) {
    throw malformed(
      `map '${map}': conflicting ${what} size: ${what}_size is ${fromSize} but the ${what} type has ${fromType} bytes`,
      where,
    );
  }
  return fromSize ?? fromType ?? 0;
}
