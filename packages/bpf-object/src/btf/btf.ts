/**
 * The `.BTF` section: header, type section and string section, parsed with strict bounds
 * (the checks of the kernel's `btf_parse` / libbpf's `btf__new` that matter to a loader).
 */
import { ByteReader } from '../elf/byte-reader.js';
import { StringTable } from '../elf/string-table.js';
import { malformed } from '../parse-error.js';
import { BTF_KIND, type BtfDatasec, type BtfType, type BtfTypeMember } from './btf-types.js';

/** `BTF_MAGIC` as read little-endian. */
export const BTF_MAGIC = 0xeb9f;
/** Size of `struct btf_header`. */
const BTF_HEADER_SIZE = 24;
/** `BTF_MAX_TYPE`: the largest type id. */
export const BTF_MAX_TYPE = 0xfffff;
/** Longest chain of modifiers, typedefs, arrays and vars followed (libbpf's `MAX_RESOLVE_DEPTH`). */
export const MAX_RESOLVE_DEPTH = 32;

/** Parsed BTF: its types by id (0 is `void`) and its strings. */
export class Btf {
  private datasecs: Map<string, BtfDatasec> | undefined;

  constructor(
    readonly types: readonly BtfType[],
    readonly strings: StringTable,
    /** File offset of the `.BTF` section, for error messages. */
    readonly fileOffset: number,
  ) {}

  /** The type with id `id`. @throws MALFORMED if there is none. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) throw malformed(`BTF: type id ${id} does not exist (${this.types.length - 1} types)`, { offset: this.fileOffset });
    return t;
  }

  /** The DATASEC describing the ELF section `name` (`.maps`, `.data`, ...), if any. */
  datasec(name: string): BtfDatasec | undefined {
    if (this.datasecs === undefined) {
      this.datasecs = new Map();
      for (const t of this.types) if (t.kind === 'datasec' && !this.datasecs.has(t.name)) this.datasecs.set(t.name, t);
    }
    return this.datasecs.get(name);
  }
}

/**
 * Parse a `.BTF` section.
 * Checks: magic, version 1, flags 0, `hdr_len` ≥ 24 with any extra header bytes zero, the
 * type and string sections inside the section, 4-aligned types, not overlapping; a string
 * section starting and ending with NUL; every record inside the type section, a known kind,
 * INT sizes and widths, names inside the string section; every type id a record refers to
 * defined; no more than `BTF_MAX_TYPE` types; no loop (and no chain deeper than
 * {@link MAX_RESOLVE_DEPTH}) through typedefs, modifiers, arrays and vars.
 * @param bytes the section's contents
 * @param fileOffset file offset of the section
 * @throws BpfObjectError MALFORMED (with the file offset).
 */
export function parseBtf(bytes: Uint8Array, fileOffset: number): Btf {
  const r = new ByteReader(bytes, fileOffset, 'section .BTF');
  const magic = r.u16(0, 'BTF magic');
  if (magic !== BTF_MAGIC) throw malformed(`BTF: magic 0x${magic.toString(16)} is not 0xeb9f`, { offset: fileOffset, section: '.BTF' });
  const version = r.u8(2, 'BTF version');
  if (version !== 1) throw malformed(`BTF: version ${version} is not 1`, { offset: fileOffset + 2, section: '.BTF' });
  const flags = r.u8(3, 'BTF flags');
  if (flags !== 0) throw malformed(`BTF: flags ${flags} are not 0`, { offset: fileOffset + 3, section: '.BTF' });
  const hdrLen = r.u32(4, 'BTF hdr_len');
  if (hdrLen < BTF_HEADER_SIZE)
    throw malformed(`BTF: hdr_len ${hdrLen} is shorter than the header (24)`, { offset: fileOffset + 4, section: '.BTF' });
  r.need(0, hdrLen, 'BTF header');
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (r.u8(i) !== 0) throw malformed('BTF: unknown non-zero header bytes', { offset: fileOffset + i, section: '.BTF' });
  }
  const typeOff = r.u32(8);
  const typeLen = r.u32(12);
  const strOff = r.u32(16);
  const strLen = r.u32(20);
  const body = bytes.length - hdrLen;
  if (typeOff + typeLen > body || strOff + strLen > body) {
    throw malformed(
      `BTF: type (${typeOff}+${typeLen}) or string (${strOff}+${strLen}) section runs past the section (${body} bytes after the header)`,
      {
        offset: fileOffset + 8,
        section: '.BTF',
      },
    );
  }
  if (typeOff % 4 !== 0 || typeLen % 4 !== 0)
    throw malformed('BTF: the type section is not 4-byte aligned', { offset: fileOffset + 8, section: '.BTF' });
  if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
    throw malformed('BTF: the type and string sections overlap', { offset: fileOffset + 8, section: '.BTF' });
  }
  const strStart = hdrLen + strOff;
  if (strLen === 0 || bytes[strStart] !== 0 || bytes[strStart + strLen - 1] !== 0) {
    throw malformed('BTF: the string section must start and end with NUL', { offset: fileOffset + strStart, section: '.BTF' });
  }
  const strings = new StringTable(bytes.subarray(strStart, strStart + strLen), fileOffset + strStart, 'BTF strings');
  const types = readTypes(r.sub(hdrLen + typeOff, typeLen, 'BTF types'), strings);
  checkReferences(types);
  checkChains(types);
  return new Btf(types, strings, fileOffset);
}

/** Bytes following `struct btf_type` for each kind, given vlen. */
function trailing(kind: number, vlen: number): number | undefined {
  switch (kind) {
    case BTF_KIND.INT:
    case BTF_KIND.VAR:
    case BTF_KIND.DECL_TAG:
      return 4;
    case BTF_KIND.ARRAY:
      return 12;
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION:
    case BTF_KIND.DATASEC:
    case BTF_KIND.ENUM64:
      return 12 * vlen;
    case BTF_KIND.ENUM:
    case BTF_KIND.FUNC_PROTO:
      return 8 * vlen;
    case BTF_KIND.PTR:
    case BTF_KIND.FWD:
    case BTF_KIND.TYPEDEF:
    case BTF_KIND.VOLATILE:
    case BTF_KIND.CONST:
    case BTF_KIND.RESTRICT:
    case BTF_KIND.FUNC:
    case BTF_KIND.FLOAT:
    case BTF_KIND.TYPE_TAG:
      return 0;
    default:
      return undefined;
  }
}

const REF_KINDS: Readonly<Record<number, 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag'>> = Object.freeze({
  [BTF_KIND.PTR]: 'ptr',
  [BTF_KIND.TYPEDEF]: 'typedef',
  [BTF_KIND.VOLATILE]: 'volatile',
  [BTF_KIND.CONST]: 'const',
  [BTF_KIND.RESTRICT]: 'restrict',
  [BTF_KIND.TYPE_TAG]: 'type_tag',
});

function readTypes(r: ByteReader, strings: StringTable): BtfType[] {
  const types: BtfType[] = [{ kind: 'void', name: '', offset: r.fileOffset }];
  for (let at = 0; at < r.length; ) {
    const offset = r.fileOffset + at;
    if (types.length > BTF_MAX_TYPE) throw malformed(`BTF: more than ${BTF_MAX_TYPE} types`, { offset, section: '.BTF' });
    const name = strings.get(r.u32(at, 'btf_type.name_off'));
    const info = r.u32(at + 4, 'btf_type.info');
    const sizeOrType = r.u32(at + 8, 'btf_type.size');
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const extra = trailing(kind, vlen);
    if (extra === undefined) throw malformed(`BTF: type ${types.length} has unknown kind ${kind}`, { offset, section: '.BTF' });
    const x = at + 12;
    r.need(x, extra, `BTF type ${types.length}`);
    types.push(readType(r, strings, { offset, name, kind, vlen, kflag, sizeOrType, x, id: types.length }));
    at = x + extra;
  }
  return types;
}

interface Header {
  readonly offset: number;
  readonly name: string;
  readonly kind: number;
  readonly vlen: number;
  readonly kflag: boolean;
  readonly sizeOrType: number;
  /** Reader offset of the trailing data. */
  readonly x: number;
  readonly id: number;
}

function readType(r: ByteReader, strings: StringTable, h: Header): BtfType {
  const { offset, name, vlen, kflag, sizeOrType: n, x } = h;
  const ref = REF_KINDS[h.kind];
  if (ref !== undefined) return { kind: ref, name, offset, type: n };
  switch (h.kind) {
    case BTF_KIND.INT: {
      const v = r.u32(x);
      const bits = v & 0xff;
      const bitOffset = (v >>> 16) & 0xff;
      if (![1, 2, 4, 8, 16].includes(n) || bits === 0 || bits > 128 || bitOffset + bits > n * 8) {
        throw malformed(`BTF: INT type ${h.id} (${name}) has size ${n}, offset ${bitOffset}, ${bits} bits`, { offset, section: '.BTF' });
      }
      return { kind: 'int', name, offset, size: n, encoding: (v >>> 24) & 0x0f, bitOffset, bits };
    }
    case BTF_KIND.ARRAY:
      return { kind: 'array', name, offset, type: r.u32(x), indexType: r.u32(x + 4), nelems: r.u32(x + 8) };
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION: {
      const members: BtfTypeMember[] = [];
      for (let i = 0; i < vlen; i++) {
        const m = x + 12 * i;
        const raw = r.u32(m + 8);
        members.push({
          name: strings.get(r.u32(m)),
          type: r.u32(m + 4),
          bitOffset: kflag ? raw & 0xffffff : raw,
          bitSize: kflag ? raw >>> 24 : 0,
        });
      }
      return { kind: h.kind === BTF_KIND.STRUCT ? 'struct' : 'union', name, offset, size: n, members };
    }
    case BTF_KIND.ENUM:
    case BTF_KIND.ENUM64: {
      const wide = h.kind === BTF_KIND.ENUM64;
      const values: { name: string; value: bigint }[] = [];
      for (let i = 0; i < vlen; i++) {
        const e = x + (wide ? 12 : 8) * i;
        const value = wide ? (BigInt(r.u32(e + 8)) << 32n) | BigInt(r.u32(e + 4)) : BigInt(kflag ? r.u32(e + 4) : r.i32(e + 4));
        values.push({ name: strings.get(r.u32(e)), value: wide && kflag ? BigInt.asIntN(64, value) : value });
      }
      return { kind: wide ? 'enum64' : 'enum', name, offset, size: n, signed: kflag, values };
    }
    case BTF_KIND.FWD:
      return { kind: 'fwd', name, offset, union: kflag };
    case BTF_KIND.FUNC:
      return { kind: 'func', name, offset, type: n, linkage: vlen };
    case BTF_KIND.FUNC_PROTO: {
      const params: { name: string; type: number }[] = [];
      for (let i = 0; i < vlen; i++) params.push({ name: strings.get(r.u32(x + 8 * i)), type: r.u32(x + 8 * i + 4) });
      return { kind: 'func_proto', name, offset, returnType: n, params };
    }
    case BTF_KIND.VAR:
      return { kind: 'var', name, offset, type: n, linkage: r.u32(x) };
    case BTF_KIND.DATASEC: {
      const vars: { type: number; offset: number; size: number }[] = [];
      for (let i = 0; i < vlen; i++) vars.push({ type: r.u32(x + 12 * i), offset: r.u32(x + 12 * i + 4), size: r.u32(x + 12 * i + 8) });
      return { kind: 'datasec', name, offset, size: n, vars };
    }
    case BTF_KIND.FLOAT:
      return { kind: 'float', name, offset, size: n };
    default:
      // BTF_KIND.DECL_TAG (readTypes only passes known kinds).
      return { kind: 'decl_tag', name, offset, type: n, componentIdx: r.i32(x) };
  }
}

/** The type ids a record refers to. */
function referencedIds(t: BtfType): number[] {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'func':
    case 'var':
    case 'decl_tag':
      return [t.type];
    case 'array':
      return [t.type, t.indexType];
    case 'struct':
    case 'union':
      return t.members.map((m) => m.type);
    case 'func_proto':
      return [t.returnType, ...t.params.map((p) => p.type)];
    case 'datasec':
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

function checkReferences(types: readonly BtfType[]): void {
  for (let id = 1; id < types.length; id++) {
    const t = types[id] as BtfType;
    for (const ref of referencedIds(t)) {
      if (ref >= types.length)
        throw malformed(`BTF: type ${id} (${t.kind} ${t.name}) refers to type ${ref}, which does not exist`, {
          offset: t.offset,
          section: '.BTF',
        });
    }
  }
}

/** The next type on a size-resolution chain (typedef, modifiers, array element, var), if any. */
function chainNext(t: BtfType): number | undefined {
  switch (t.kind) {
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'var':
    case 'array':
      return t.type;
    default:
      return undefined;
  }
}

/** No loop and no chain deeper than MAX_RESOLVE_DEPTH through typedefs, modifiers, arrays and vars. */
function checkChains(types: readonly BtfType[]): void {
  // depth[id]: length of the chain from id (0 = not computed yet).
  const depth = new Uint8Array(types.length);
  const path: number[] = [];
  for (let start = 1; start < types.length; start++) {
    if (depth[start] !== 0) continue;
    path.length = 0;
    let id: number | undefined = start;
    let tail = 0;
    while (id !== undefined) {
      if (depth[id] !== 0) {
        tail = depth[id] as number;
        break;
      }
      path.push(id);
      if (path.length > MAX_RESOLVE_DEPTH) {
        const t = types[start] as BtfType;
        throw malformed(
          `BTF: type ${start} (${t.kind} ${t.name}) loops or nests deeper than ${MAX_RESOLVE_DEPTH} through typedefs, modifiers or arrays`,
          {
            offset: t.offset,
            section: '.BTF',
          },
        );
      }
      id = chainNext(types[id] as BtfType);
    }
    for (let i = path.length - 1; i >= 0; i--) {
      tail++;
      if (tail > MAX_RESOLVE_DEPTH) {
        const t = types[start] as BtfType;
        throw malformed(
          `BTF: type ${start} (${t.kind} ${t.name}) nests deeper than ${MAX_RESOLVE_DEPTH} through typedefs, modifiers or arrays`,
          {
            offset: t.offset,
            section: '.BTF',
          },
        );
      }
      depth[path[i] as number] = tail;
    }
  }
}
