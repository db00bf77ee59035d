/**
 * From BTF types to what a loader needs: sizes (libbpf's `btf__resolve_size`), the type
 * behind typedefs and modifiers (`skip_mods_and_typedefs`), and {@link BtfLayout}s for
 * typed views of keys, values and global variables.
 */
import { malformed } from '../parse-error.js';
import type { BtfLayout, BtfMember } from '../parsed.js';
import { type Btf, MAX_RESOLVE_DEPTH } from './btf.js';
import { BTF_INT_SIGNED, type BtfComposite, type BtfType } from './btf-types.js';

/** Deepest nesting of structs, unions and arrays expanded into a layout. */
export const MAX_LAYOUT_DEPTH = 64;

const U32_MAX = 0xffff_ffff;

/**
 * The type behind typedefs and modifiers (`const`, `volatile`, `restrict`, type tags), and its id.
 * Mirrors libbpf's `skip_mods_and_typedefs`.
 * @throws MALFORMED for an unknown id or a chain deeper than MAX_RESOLVE_DEPTH.
 */
export function skipModsAndTypedefs(btf: Btf, id: number): { id: number; type: BtfType } {
  let type = btf.type(id);
  for (let depth = 0; ; depth++) {
    if (
      type.kind !== 'typedef' &&
      type.kind !== 'volatile' &&
      type.kind !== 'const' &&
      type.kind !== 'restrict' &&
      type.kind !== 'type_tag'
    ) {
      return { id, type };
    }
    if (depth >= MAX_RESOLVE_DEPTH)
      throw malformed(`BTF: type ${id} nests modifiers deeper than ${MAX_RESOLVE_DEPTH}`, { offset: type.offset, section: '.BTF' });
    id = type.type;
    type = btf.type(id);
  }
}

/**
 * The size in bytes of a type (what `sizeof` gives), through typedefs, modifiers, vars and
 * arrays. Mirrors libbpf's `btf__resolve_size`.
 * @throws MALFORMED for a type without a size (void, FWD, FUNC, FUNC_PROTO), a chain deeper
 *   than MAX_RESOLVE_DEPTH, or a size beyond 2^32 - 1.
 */
export function resolveSize(btf: Btf, id: number): number {
  let nelems = 1;
  let type = btf.type(id);
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    switch (type.kind) {
      case 'int':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'datasec':
      case 'float':
        return checkedProduct(nelems, type.size, type);
      case 'ptr':
        return checkedProduct(nelems, 8, type);
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'var':
        type = btf.type(type.type);
        break;
      case 'array':
        nelems = checkedProduct(nelems, type.nelems, type);
        type = btf.type(type.type);
        break;
      default:
        throw malformed(`BTF: type ${id} (${type.kind} ${type.name}) has no size`, { offset: type.offset, section: '.BTF' });
    }
  }
  throw malformed(`BTF: type ${id} nests deeper than ${MAX_RESOLVE_DEPTH}`, { offset: type.offset, section: '.BTF' });
}

function checkedProduct(a: number, b: number, type: BtfType): number {
  const p = a * b;
  if (p > U32_MAX) throw malformed(`BTF: type ${type.kind} ${type.name} is larger than 4 GiB`, { offset: type.offset, section: '.BTF' });
  return p;
}

/**
 * Builds {@link BtfLayout}s, each type once (layouts of shared types are shared objects, so
 * the work stays linear in the size of the BTF).
 */
export class LayoutBuilder {
  private readonly done = new Map<number, BtfLayout>();
  private readonly busy = new Set<number>();

  constructor(readonly btf: Btf) {}

  /**
   * The layout of type `id`: typedefs give their name to the layout of the type behind them,
   * modifiers are skipped, VARs give their type's layout.
   * @throws MALFORMED for a type that contains itself, nests deeper than MAX_LAYOUT_DEPTH,
   *   has a member outside its struct, or has no size where one is needed.
   */
  layout(id: number): BtfLayout {
    return this.build(id, 0);
  }

  private build(id: number, depth: number): BtfLayout {
    const memo = this.done.get(id);
    if (memo !== undefined) return memo;
    const type = this.btf.type(id);
    if (this.busy.has(id) || depth > MAX_LAYOUT_DEPTH) {
      throw malformed(`BTF: type ${id} (${type.kind} ${type.name}) contains itself or nests deeper than ${MAX_LAYOUT_DEPTH}`, {
        offset: type.offset,
        section: '.BTF',
      });
    }
    this.busy.add(id);
    const layout = this.compute(id, type, depth);
    this.busy.delete(id);
    this.done.set(id, layout);
    return layout;
  }

  private compute(id: number, type: BtfType, depth: number): BtfLayout {
    switch (type.kind) {
      case 'int':
        return { name: type.name, kind: 'int', size: type.size, signed: (type.encoding & BTF_INT_SIGNED) !== 0 };
      case 'enum':
      case 'enum64':
        return { name: type.name, kind: 'enum', size: type.size, signed: type.signed };
      case 'float':
        return { name: type.name, kind: 'float', size: type.size };
      case 'ptr':
        return { name: '', kind: 'ptr', size: 8 };
      case 'typedef': {
        const inner = this.build(type.type, depth + 1);
        return { ...inner, name: type.name };
      }
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'var':
        return this.build(type.type, depth + 1);
      case 'array': {
        const element = this.build(type.type, depth + 1);
        return { name: '', kind: 'array', size: resolveSize(this.btf, id), element, count: type.nelems };
      }
      case 'struct':
      case 'union':
        return { name: type.name, kind: type.kind, size: type.size, members: this.members(type, depth) };
      case 'datasec':
        return { name: type.name, kind: 'other', size: type.size };
      default:
        return { name: type.name, kind: 'other', size: 0 };
    }
  }

  private members(type: BtfComposite, depth: number): BtfMember[] {
    return type.members.map((m) => {
      const layout = this.build(m.type, depth + 1);
      let bitOffset = m.bitOffset;
      let bitSize = m.bitSize;
      if (bitSize === 0) {
        // Without kind_flag, a bitfield is an INT narrower than its storage (or at an odd bit offset).
        const base = skipModsAndTypedefs(this.btf, m.type).type;
        if (base.kind === 'int' && (base.bits !== base.size * 8 || base.bitOffset !== 0)) {
          bitSize = base.bits;
          bitOffset += base.bitOffset;
        } else if (bitOffset % 8 !== 0) {
          bitSize = layout.size * 8;
        }
      }
      const offset = Math.floor(bitOffset / 8);
      const endBits = bitSize > 0 ? bitOffset + bitSize : bitOffset + layout.size * 8;
      if (endBits > type.size * 8) {
        throw malformed(`BTF: member ${m.name} of ${type.kind} ${type.name} ends at bit ${endBits}, past its size (${type.size} bytes)`, {
          offset: type.offset,
          section: '.BTF',
        });
      }
      return bitSize > 0 ? { name: m.name, offset, bitOffset, bitSize, layout } : { name: m.name, offset, layout };
    });
  }
}
