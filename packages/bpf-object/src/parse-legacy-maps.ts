/**
 * Legacy map definitions: the `maps` section holding one `struct bpf_map_def` per symbol
 * (libbpf before 1.0, `bpf_object__init_user_maps`).
 */
import { ByteReader } from './elf/byte-reader.js';
import { SHT, STT } from './elf/elf-constants.js';
import type { ElfSection } from './elf/elf-file.js';
import type { ElfSymbol } from './elf/symbols.js';
import { type MapDefinition, type ParseContext, symbolsIn } from './parse-context.js';
import { malformed, unsupported } from './parse-error.js';
import { mapType } from './parse-map-types.js';

/** `sizeof(struct bpf_map_def)`: `type`, `key_size`, `value_size`, `max_entries`, `map_flags`, each a u32. */
export const BPF_MAP_DEF_SIZE = 20;

/**
 * The maps of the legacy `maps` section, in the order of their symbols' offsets. As libbpf
 * did: the definition size is the section size divided by the number of symbols in it,
 * which must divide evenly and be at least 20 bytes; bytes beyond the 20 known ones must be
 * zero.
 * @throws BpfObjectError MALFORMED for a section without symbols or contents, a size that
 *   does not divide, a definition shorter than 20 bytes or outside the section, two maps at
 *   one offset; UNSUPPORTED for non-zero bytes beyond the known fields.
 */
export function parseLegacyMaps(ctx: ParseContext, section: ElfSection): MapDefinition[] {
  const where = { offset: section.headerOffset, section: section.name };
  const symbols = symbolsIn(ctx, section).filter((s) => s.type !== STT.SECTION && s.type !== STT.FILE);
  if (section.size === 0 && symbols.length === 0) return [];
  if (section.type !== SHT.PROGBITS) throw malformed(`section maps has no contents (type ${section.type})`, where);
  if (symbols.length === 0) throw malformed(`section maps (${section.size} bytes) has no symbols naming its maps`, where);
  if (section.size % symbols.length !== 0) {
    throw malformed(`cannot determine the map definition size: ${symbols.length} maps in ${section.size} bytes`, where);
  }
  const defSize = section.size / symbols.length;
  if (defSize < BPF_MAP_DEF_SIZE) throw malformed(`map definitions of ${defSize} bytes are shorter than struct bpf_map_def (20)`, where);
  const r = new ByteReader(ctx.elf.bytes.subarray(section.offset, section.offset + section.size), section.offset, 'section maps');
  const sorted = [...symbols].sort((a, b) => a.value - b.value || a.index - b.index);
  const defs: MapDefinition[] = [];
  let prev: ElfSymbol | undefined;
  for (const symbol of sorted) {
    const at = symbol.value;
    const w = { offset: section.offset + at, section: section.name, symbol: symbol.name };
    if (prev !== undefined && at < prev.value + defSize)
      throw malformed(`map '${symbol.name}' overlaps map '${prev.name}' in section maps`, w);
    if (at + defSize > section.size)
      throw malformed(`map '${symbol.name}': its ${defSize}-byte definition at ${at} runs past section maps`, w);
    const extra = r.slice(at + BPF_MAP_DEF_SIZE, defSize - BPF_MAP_DEF_SIZE, 'map definition');
    for (let i = 0; i < extra.length; i++) {
      if (extra[i] !== 0)
        throw unsupported(`map '${symbol.name}': unknown non-zero bytes after struct bpf_map_def (offset ${BPF_MAP_DEF_SIZE + i})`, w);
    }
    defs.push({
      map: {
        name: symbol.name,
        origin: 'legacy',
        section: section.name,
        type: mapType(r.u32(at)),
        keySize: r.u32(at + 4),
        valueSize: r.u32(at + 8),
        maxEntries: r.u32(at + 12),
        flags: r.u32(at + 16),
        readonly: false,
      },
      section,
      offset: at,
      size: defSize,
    });
    prev = symbol;
  }
  return defs;
}
