/**
 * Build small BPF ELF objects in tests, section by section, to exercise one check at a
 * time. The layout: ELF header, section contents (8-aligned), then the section header table.
 * Section indexes: 0 null, the given sections in order, one `.rel<name>` per relocated
 * section, `.symtab`, `.strtab`, `.shstrtab`.
 */
import { type Insn, encodeProgram } from '@bpf-dispatcher/ebpf';

export const SHT_PROGBITS = 1;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 1;
export const SHF_ALLOC = 2;
export const SHF_EXECINSTR = 4;

/** One section to place. */
export interface SectionSpec {
  readonly name: string;
  readonly type?: number;
  readonly flags?: number;
  readonly data?: Uint8Array;
  /** Size for NOBITS sections (default: data length). */
  readonly size?: number;
  readonly entsize?: number;
}

/** One symbol; `section` undefined means undefined (`SHN_UNDEF`). */
export interface SymbolSpec {
  readonly name: string;
  readonly section?: string;
  readonly value?: number;
  readonly size?: number;
  readonly type?: 'notype' | 'object' | 'func' | 'section';
  readonly bind?: 'local' | 'global' | 'weak';
}

/** One relocation of section `section`, against symbol `symbol` (a name, or an index in the symbol table). */
export interface RelocationSpec {
  readonly section: string;
  readonly offset: number;
  readonly symbol: string | number;
  /** R_BPF_64_64 (1) or R_BPF_64_32 (10). */
  readonly type: number;
}

/** What {@link buildElf} places. */
export interface ElfSpec {
  readonly sections: readonly SectionSpec[];
  readonly symbols?: readonly SymbolSpec[];
  readonly relocations?: readonly RelocationSpec[];
}

/** A built object and where its parts are. */
export interface BuiltElf {
  readonly bytes: Uint8Array;
  /** Section index by name. */
  readonly index: ReadonlyMap<string, number>;
  /** File offset of the section header table. */
  readonly shoff: number;
  /** File offset of section `name`'s header. */
  header(name: string): number;
  /** File offset of section `name`'s contents. */
  offset(name: string): number;
}

const TYPES = { notype: 0, object: 1, func: 2, section: 3 } as const;
const BINDS = { local: 0, global: 1, weak: 2 } as const;

/** Bytes of instructions (`encodeProgram`). */
export function code(...insns: Insn[]): Uint8Array {
  return encodeProgram(insns);
}

/** Instruction constructors for tests. */
export const I = Object.freeze({
  mov0: (imm: number): Insn => ({ code: 0xb7, dst: 0, src: 0, off: 0, imm }),
  exit: (): Insn => ({ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }),
  call: (imm: number, src = 1): Insn => ({ code: 0x85, dst: 0, src, off: 0, imm }),
  lddw: (dst: number, imm = 0, src = 0): Insn[] => [
    { code: 0x18, dst, src, off: 0, imm },
    { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
  ],
});

/** Build an ELF64 little-endian ET_REL EM_BPF object from the spec. */
export function buildElf(spec: ElfSpec): BuiltElf {
  const symbols = spec.symbols ?? [];
  const relocated = [...new Set((spec.relocations ?? []).map((r) => r.section))];
  const strtab = new StringBuilder();
  const shstrtab = new StringBuilder();
  const names = [...spec.sections.map((s) => s.name), ...relocated.map((s) => `.rel${s}`), '.symtab', '.strtab', '.shstrtab'];
  const index = new Map<string, number>();
  names.forEach((n, i) => {
    if (!index.has(n)) index.set(n, i + 1);
  });
  const symIndex = (s: string | number) => {
    if (typeof s === 'number') return s;
    const i = symbols.findIndex((x) => x.name === s);
    if (i < 0) throw new Error(`no symbol ${s}`);
    return i + 1;
  };
  const symtab = new Uint8Array(24 * (symbols.length + 1));
  const sv = new DataView(symtab.buffer);
  symbols.forEach((s, i) => {
    const at = 24 * (i + 1);
    sv.setUint32(at, strtab.add(s.name), true);
    symtab[at + 4] = (BINDS[s.bind ?? 'global'] << 4) | TYPES[s.type ?? 'notype'];
    sv.setUint16(at + 6, s.section === undefined ? 0 : (index.get(s.section) ?? 0xfff0), true);
    sv.setBigUint64(at + 8, BigInt(s.value ?? 0), true);
    sv.setBigUint64(at + 16, BigInt(s.size ?? 0), true);
  });
  const relData = relocated.map((sec) => {
    const list = (spec.relocations ?? []).filter((r) => r.section === sec);
    const out = new Uint8Array(16 * list.length);
    const v = new DataView(out.buffer);
    list.forEach((r, i) => {
      v.setBigUint64(16 * i, BigInt(r.offset), true);
      v.setUint32(16 * i + 8, r.type, true);
      v.setUint32(16 * i + 12, symIndex(r.symbol), true);
    });
    return out;
  });
  const symtabIndex = index.get('.symtab') as number;
  const strtabIndex = index.get('.strtab') as number;
  const all: (SectionSpec & { link?: number; info?: number })[] = [
    ...spec.sections,
    ...relocated.map((sec, i) => ({
      name: `.rel${sec}`,
      type: 9,
      data: relData[i] as Uint8Array,
      entsize: 16,
      link: symtabIndex,
      info: index.get(sec) ?? 0,
    })),
    { name: '.symtab', type: 2, data: symtab, entsize: 24, link: strtabIndex, info: 1 },
    { name: '.strtab', type: 3, data: new Uint8Array(0) },
    { name: '.shstrtab', type: 3, data: new Uint8Array(0) },
  ];
  const nameOffsets = all.map((s) => shstrtab.add(s.name));
  const strtabBytes = strtab.bytes();
  const shstrtabBytes = shstrtab.bytes();
  const contents = all.map((s) =>
    s.name === '.strtab' && s.type === 3
      ? strtabBytes
      : s.name === '.shstrtab' && s.type === 3
        ? shstrtabBytes
        : (s.data ?? new Uint8Array(0)),
  );
  const offsets: number[] = [];
  let at = 64;
  all.forEach((s, i) => {
    at = align8(at);
    offsets.push(at);
    if (s.type !== SHT_NOBITS) at += (contents[i] as Uint8Array).length;
  });
  const shoff = align8(at);
  const total = shoff + 64 * (all.length + 1);
  const bytes = new Uint8Array(total);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 1, true);
  v.setUint16(18, 247, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, all.length + 1, true);
  v.setUint16(62, all.length, true);
  all.forEach((s, i) => {
    const data = contents[i] as Uint8Array;
    if (s.type !== SHT_NOBITS) bytes.set(data, offsets[i] as number);
    const h = shoff + 64 * (i + 1);
    v.setUint32(h, nameOffsets[i] as number, true);
    v.setUint32(h + 4, s.type ?? SHT_PROGBITS, true);
    v.setBigUint64(h + 8, BigInt(s.flags ?? 0), true);
    v.setBigUint64(h + 24, BigInt(offsets[i] as number), true);
    v.setBigUint64(h + 32, BigInt(s.size ?? data.length), true);
    v.setUint32(h + 40, s.link ?? 0, true);
    v.setUint32(h + 44, s.info ?? 0, true);
    v.setBigUint64(h + 48, 8n, true);
    v.setBigUint64(h + 56, BigInt(s.entsize ?? 0), true);
  });
  return {
    bytes,
    index,
    shoff,
    header: (name) => shoff + 64 * (index.get(name) ?? Number.NaN),
    offset: (name) => offsets[(index.get(name) ?? Number.NaN) - 1] as number,
  };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** A string table under construction (offset 0 is the empty string). */
export class StringBuilder {
  private readonly parts: number[] = [0];
  private readonly known = new Map<string, number>([['', 0]]);
  add(s: string): number {
    const k = this.known.get(s);
    if (k !== undefined) return k;
    const at = this.parts.length;
    for (const b of new TextEncoder().encode(s)) this.parts.push(b);
    this.parts.push(0);
    this.known.set(s, at);
    return at;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Sections every test program needs: code sections are executable, data sections allocated. */
export const prog = (name: string, ...insns: (Insn | Insn[])[]): SectionSpec => ({
  name,
  flags: SHF_ALLOC | SHF_EXECINSTR,
  data: code(...insns.flat()),
});
