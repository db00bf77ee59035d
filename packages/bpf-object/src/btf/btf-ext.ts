/**
 * The `.BTF.ext` section, read only far enough to find CO-RE relocations
 * (`struct bpf_core_relo`), which this runtime does not perform.
 */
import { ByteReader } from '../elf/byte-reader.js';
import { malformed } from '../parse-error.js';
import type { Btf } from './btf.js';
import { BTF_MAGIC } from './btf.js';
import { skipModsAndTypedefs } from './layout.js';

/** Size of `struct btf_ext_header` up to `line_info_len`. */
const EXT_HEADER_MIN = 24;
/** Size of `struct btf_ext_header` with `core_relo_off` / `core_relo_len`. */
const EXT_HEADER_CORE = 32;
/** Size of `struct bpf_core_relo`. */
const CORE_RELO_SIZE = 16;

/** `enum bpf_core_relo_kind` names, for messages. */
const CORE_KINDS = Object.freeze([
  'field byte offset',
  'field byte size',
  'field exists',
  'field signed',
  'field lshift',
  'field rshift',
  'local type id',
  'target type id',
  'type exists',
  'type size',
  'enum value exists',
  'enum value',
  'type matches',
]);

/** The first CO-RE relocation of an object and how many there are. */
export interface CoreRelocationSummary {
  /** Total number of `bpf_core_relo` records. */
  readonly count: number;
  /** The ELF section the first record applies to (from the BTF strings), or '' without BTF. */
  readonly section: string;
  /** Name of the root type of the first record ('' if anonymous or unknown). */
  readonly typeName: string;
  /** Access string of the first record (`0:1`), '' if unknown. */
  readonly access: string;
  /** Kind of the first record, e.g. `field byte offset`. */
  readonly kind: string;
  /** File offset of the first record. */
  readonly offset: number;
}

/**
 * Find the CO-RE relocations in a `.BTF.ext` section (libbpf's `btf_ext__new` +
 * `btf_ext_setup_core_relos`). Checks the header (magic, version 1, `hdr_len`), that the
 * func_info, line_info and core_relo subsections lie inside the section, the core_relo
 * record size (≥ 16, a multiple of 4) and that each per-section block fits.
 * @param btf the object's BTF (for section and type names), if it has one
 * @returns undefined if there is no (or an empty) core_relo subsection
 * @throws BpfObjectError MALFORMED (with the file offset).
 */
export function findCoreRelocations(bytes: Uint8Array, fileOffset: number, btf: Btf | undefined): CoreRelocationSummary | undefined {
  const where = (at: number) => ({ offset: fileOffset + at, section: '.BTF.ext' });
  const r = new ByteReader(bytes, fileOffset, 'section .BTF.ext');
  const magic = r.u16(0, 'BTF.ext magic');
  if (magic !== BTF_MAGIC) throw malformed(`BTF.ext: magic 0x${magic.toString(16)} is not 0xeb9f`, where(0));
  const version = r.u8(2, 'BTF.ext version');
  if (version !== 1) throw malformed(`BTF.ext: version ${version} is not 1`, where(2));
  const hdrLen = r.u32(4, 'BTF.ext hdr_len');
  if (hdrLen < EXT_HEADER_MIN) throw malformed(`BTF.ext: hdr_len ${hdrLen} is shorter than the header (24)`, where(4));
  r.need(0, hdrLen, 'BTF.ext header');
  const body = bytes.length - hdrLen;
  const sub = (at: number, name: string) => {
    const off = r.u32(at);
    const len = r.u32(at + 4);
    if (off + len > body)
      throw malformed(`BTF.ext: ${name} (${off}+${len}) runs past the section (${body} bytes after the header)`, where(at));
    return { start: hdrLen + off, len };
  };
  sub(8, 'func_info');
  sub(16, 'line_info');
  if (hdrLen < EXT_HEADER_CORE) return undefined;
  const core = sub(24, 'core_relo');
  if (core.len === 0) return undefined;
  const c = r.sub(core.start, core.len, 'BTF.ext core_relo');
  const recSize = c.u32(0, 'core_relo record size');
  if (recSize < CORE_RELO_SIZE || recSize % 4 !== 0)
    throw malformed(`BTF.ext: core_relo record size ${recSize} is invalid`, where(core.start));
  let count = 0;
  let first: CoreRelocationSummary | undefined;
  for (let at = 4; at < c.length; ) {
    const secNameOff = c.u32(at, 'core_relo section name');
    const numInfo = c.u32(at + 4, 'core_relo record count');
    if (numInfo === 0) throw malformed('BTF.ext: a core_relo section block has no records', where(core.start + at));
    c.need(at + 8, numInfo * recSize, 'core_relo records');
    if (first === undefined) first = describe(c, at, secNameOff, btf);
    count += numInfo;
    at += 8 + numInfo * recSize;
  }
  return first === undefined ? undefined : { ...first, count };
}

function describe(c: ByteReader, at: number, secNameOff: number, btf: Btf | undefined): CoreRelocationSummary {
  const rec = at + 8;
  const typeId = c.u32(rec + 4);
  const accessOff = c.u32(rec + 8);
  const kind = c.u32(rec + 12);
  let section = '';
  let typeName = '';
  let access = '';
  if (btf !== undefined) {
    section = btf.strings.get(secNameOff);
    typeName = skipModsAndTypedefs(btf, typeId).type.name;
    access = btf.strings.get(accessOff);
  }
  return { count: 0, section, typeName, access, kind: CORE_KINDS[kind] ?? `kind ${kind}`, offset: c.fileOffset + rec };
}
