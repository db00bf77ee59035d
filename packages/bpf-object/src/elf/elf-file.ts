/**
 * The ELF container of a BPF object: header, section header table and section names,
 * every range checked against the file before anything reads it.
 */
import { malformed, where } from '../parse-error.js';
import { BpfObjectError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { ELF, SHT } from './elf-constants.js';
import { StringTable } from './string-table.js';

/** One section header (`Elf64_Shdr`), with its name resolved. */
export interface ElfSection {
  /** Index in the section header table. */
  readonly index: number;
  readonly name: string;
  /** `sh_type` (see {@link SHT}). */
  readonly type: number;
  /** Low 32 bits of `sh_flags` (see `SHF`). */
  readonly flags: number;
  /** File offset of the contents (`sh_offset`). */
  readonly offset: number;
  /** Size in bytes (`sh_size`); for `SHT_NOBITS` the size in memory, not in the file. */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
  /** File offset of this section's header, for error messages. */
  readonly headerOffset: number;
}

/** A parsed ELF64 little-endian relocatable object for `EM_BPF`. */
export interface ElfFile {
  readonly bytes: Uint8Array;
  readonly reader: ByteReader;
  /** All sections, by index (index 0 is the null section). */
  readonly sections: readonly ElfSection[];
}

/**
 * Read and check the ELF header and the section header table, and resolve section names
 * (what libelf's `elf_begin` / `elf_getshdrstrndx` do for libbpf's `bpf_object__elf_init`).
 * Checks: the magic (`NOT_ELF`), class ELF64, little-endian, `ET_REL`, `EM_BPF` (`NOT_BPF`),
 * the version and header sizes, a section header table inside the file that overlaps
 * nothing, `e_shnum` ≤ 65535 with `e_shnum * 64` ≤ file size, valid `e_shstrndx` and
 * `sh_link` indexes (and `sh_info` of relocation sections), every non-`NOBITS` section's
 * contents inside the file and overlapping neither another section nor the headers, and
 * section names inside the section name table and NUL-terminated.
 * @throws BpfObjectError NOT_ELF, NOT_BPF or MALFORMED (with the file offset).
 */
export function readElfFile(bytes: Uint8Array): ElfFile {
  const r = new ByteReader(bytes, 0, 'ELF file');
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new BpfObjectError('NOT_ELF', 'not an ELF file (no \\x7fELF magic)', { offset: 0 });
  }
  const cls = r.u8(4, 'e_ident[EI_CLASS]');
  if (cls !== ELF.CLASS64) throw new BpfObjectError('NOT_BPF', `ELF class ${cls} is not ELFCLASS64 (2)`, { offset: 4 });
  const data = r.u8(5, 'e_ident[EI_DATA]');
  if (data !== ELF.DATA2LSB) throw new BpfObjectError('NOT_BPF', `ELF data encoding ${data} is not little-endian (1)`, { offset: 5 });
  const identVersion = r.u8(6, 'e_ident[EI_VERSION]');
  if (identVersion !== ELF.EV_CURRENT) throw malformed(`ELF identification version ${identVersion} is not 1`, { offset: 6 });
  r.need(0, ELF.EHDR_SIZE, 'the ELF header');
  const type = r.u16(16);
  if (type !== ELF.ET_REL)
    throw new BpfObjectError('NOT_BPF', `ELF type ${type} is not ET_REL (1): not a relocatable object`, { offset: 16 });
  const machine = r.u16(18);
  if (machine !== ELF.EM_BPF) throw new BpfObjectError('NOT_BPF', `ELF machine ${machine} is not EM_BPF (247)`, { offset: 18 });
  const version = r.u32(20);
  if (version !== ELF.EV_CURRENT) throw malformed(`ELF version ${version} is not 1`, { offset: 20 });
  const shoff = r.u64(40, 'e_shoff');
  const ehsize = r.u16(52);
  if (ehsize !== ELF.EHDR_SIZE) throw malformed(`e_ehsize ${ehsize} is not 64`, { offset: 52 });
  const shentsize = r.u16(58);
  const shnum = r.u16(60);
  const shstrndx = r.u16(62);
  if (shentsize !== ELF.SHDR_SIZE) throw malformed(`e_shentsize ${shentsize} is not 64`, { offset: 58 });
  if (shnum === 0) throw malformed('no section headers (e_shnum 0; extended numbering is not supported)', { offset: 60 });
  if (shnum * ELF.SHDR_SIZE > bytes.length) {
    throw malformed(`e_shnum ${shnum} section headers cannot fit in a ${bytes.length}-byte file`, { offset: 60 });
  }
  if (shoff < ELF.EHDR_SIZE) throw malformed(`the section header table (e_shoff ${shoff}) overlaps the ELF header`, { offset: 40 });
  r.need(shoff, shnum * ELF.SHDR_SIZE, 'the section header table');
  if (shstrndx === 0 || shstrndx >= shnum) {
    throw malformed(`e_shstrndx ${shstrndx} is not a section index (1..${shnum - 1})`, { offset: 62 });
  }

  const raw = readHeaders(r, shoff, shnum);
  checkRanges(raw, bytes.length, shoff, shnum);
  const strHeader = raw[shstrndx] as RawSection;
  if (strHeader.type !== SHT.STRTAB) {
    throw malformed(`section ${shstrndx} (e_shstrndx) is not a string table (type ${strHeader.type})`, {
      offset: strHeader.headerOffset,
    });
  }
  const names = new StringTable(bytes.subarray(strHeader.offset, strHeader.offset + strHeader.size), strHeader.offset, 'section names');
  const sections = raw.map((s) => ({ ...s, name: s.index === 0 ? '' : names.get(s.nameOffset) }));
  return { bytes, reader: r, sections };
}

interface RawSection extends Omit<ElfSection, 'name'> {
  readonly nameOffset: number;
}

function readHeaders(r: ByteReader, shoff: number, shnum: number): RawSection[] {
  const out: RawSection[] = [];
  for (let index = 0; index < shnum; index++) {
    const at = shoff + index * ELF.SHDR_SIZE;
    const s: RawSection = {
      index,
      nameOffset: r.u32(at, 'sh_name'),
      type: r.u32(at + 4, 'sh_type'),
      flags: r.u32(at + 8, 'sh_flags'),
      offset: r.u64(at + 24, `section ${index} sh_offset`),
      size: r.u64(at + 32, `section ${index} sh_size`),
      link: r.u32(at + 40, 'sh_link'),
      info: r.u32(at + 44, 'sh_info'),
      entsize: r.u64(at + 56, `section ${index} sh_entsize`),
      headerOffset: at,
    };
    if (index === 0 && s.type !== SHT.NULL) throw malformed(`section 0 is not SHT_NULL (type ${s.type})`, { offset: at });
    if (s.link >= shnum) throw malformed(`section ${index}: sh_link ${s.link} is not a section index`, { offset: at + 40 });
    if ((s.type === SHT.REL || s.type === SHT.RELA) && (s.info === 0 || s.info >= shnum)) {
      throw malformed(`relocation section ${index}: sh_info ${s.info} is not a section index`, { offset: at + 44 });
    }
    out.push(s);
  }
  return out;
}

/** File contents inside the file, overlapping neither each other nor the headers. */
function checkRanges(raw: readonly RawSection[], fileSize: number, shoff: number, shnum: number): void {
  const ranges: { start: number; end: number; what: string; at: number }[] = [
    { start: 0, end: ELF.EHDR_SIZE, what: 'the ELF header', at: 0 },
    { start: shoff, end: shoff + shnum * ELF.SHDR_SIZE, what: 'the section header table', at: 40 },
  ];
  for (const s of raw) {
    if (s.type === SHT.NOBITS || s.type === SHT.NULL || s.size === 0) continue;
    if (s.offset + s.size > fileSize) {
      throw malformed(`section ${s.index}: contents (${s.size} bytes at ${s.offset}) run past the end of the file (${fileSize} bytes)`, {
        offset: s.headerOffset + 24,
      });
    }
    ranges.push({ start: s.offset, end: s.offset + s.size, what: `section ${s.index}`, at: s.headerOffset + 24 });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1] as (typeof ranges)[number];
    const cur = ranges[i] as (typeof ranges)[number];
    if (cur.start < prev.end) {
      throw malformed(`${cur.what} (${cur.start}..${cur.end}) overlaps ${prev.what} (${prev.start}..${prev.end})`, where(cur.at));
    }
  }
}

/**
 * The contents of a section: a view of the file for `PROGBITS` and the like, zeros for
 * `SHT_NOBITS` (allocated here, so callers bound the size first).
 */
export function sectionBytes(elf: ElfFile, section: ElfSection): Uint8Array {
  if (section.type === SHT.NOBITS) return new Uint8Array(section.size);
  return elf.bytes.subarray(section.offset, section.offset + section.size);
}
