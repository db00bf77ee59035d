/**
 * ELF constants the BPF object parser needs (System V gABI, `<elf.h>`), frozen.
 */

/** `e_ident` and header values of a BPF relocatable object. */
export const ELF = Object.freeze({
  /** Size of `Elf64_Ehdr`. */
  EHDR_SIZE: 64,
  /** Size of `Elf64_Shdr`. */
  SHDR_SIZE: 64,
  /** Size of `Elf64_Sym`. */
  SYM_SIZE: 24,
  /** Size of `Elf64_Rel`. */
  REL_SIZE: 16,
  CLASS64: 2,
  DATA2LSB: 1,
  EV_CURRENT: 1,
  ET_REL: 1,
  EM_BPF: 247,
  /** Largest `e_shnum` (a 16-bit field; extended numbering through section 0 is refused). */
  MAX_SHNUM: 0xffff,
} as const);

/** Section types (`sh_type`). */
export const SHT = Object.freeze({
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOBITS: 8,
  REL: 9,
} as const);

/** Section flags (`sh_flags`, low 32 bits). */
export const SHF = Object.freeze({
  WRITE: 0x1,
  ALLOC: 0x2,
  EXECINSTR: 0x4,
} as const);

/** Special section indexes (`st_shndx`). */
export const SHN = Object.freeze({
  UNDEF: 0,
  LORESERVE: 0xff00,
  ABS: 0xfff1,
  COMMON: 0xfff2,
  XINDEX: 0xffff,
} as const);

/** Symbol types (`ELF64_ST_TYPE`). */
export const STT = Object.freeze({
  NOTYPE: 0,
  OBJECT: 1,
  FUNC: 2,
  SECTION: 3,
  FILE: 4,
} as const);

/** Symbol bindings (`ELF64_ST_BIND`). */
export const STB = Object.freeze({
  LOCAL: 0,
  GLOBAL: 1,
  WEAK: 2,
} as const);

/** BPF relocation types (`ELF64_R_TYPE`), as in LLVM's `ELFRelocs/BPF.def`. */
export const R_BPF = Object.freeze({
  NONE: 0,
  /** `lddw` of a map or global variable: the 64-bit immediate. */
  R_64_64: 1,
  R_64_ABS64: 2,
  R_64_ABS32: 3,
  R_64_NODYLD32: 4,
  /** A BPF-to-BPF `call`: the 32-bit immediate. */
  R_64_32: 10,
} as const);
