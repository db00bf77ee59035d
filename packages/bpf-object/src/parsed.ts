/**
 * What parsing a BPF ELF object yields, before anything is created or loaded: the
 * programs with their BPF-to-BPF callees linked in and map references marked, the map
 * definitions (BTF-defined `.maps`, the legacy `maps` section, global data sections) and
 * the license. The loader turns this into native maps and JIT'd programs, or into kernel
 * maps and programs; both rewrite the map references the same way (libbpf's
 * `bpf_object__relocate`).
 */
import type { Insn } from '@bpf-dispatcher/ebpf';

/** A map type by its kernel number (`enum bpf_map_type`) and name. */
export interface ParsedMapType {
  /** `BPF_MAP_TYPE_*` value, e.g. 1 for HASH, 2 for ARRAY. */
  readonly id: number;
  /** The name in lower case without the prefix (`hash`, `array`, `percpu_hash`, ...), or `unknown(N)`. */
  readonly name: string;
}

/** A named scalar or aggregate described by BTF, reduced to what typed views need. */
export interface BtfLayout {
  /** The type's name (`struct datarec` gives `datarec`), '' for anonymous types. */
  readonly name: string;
  /** `int`, `struct`, `union`, `array`, `enum`, `ptr`, `float`, or `other`. */
  readonly kind: 'int' | 'struct' | 'union' | 'array' | 'enum' | 'ptr' | 'float' | 'other';
  /** Size in bytes. */
  readonly size: number;
  /** For `int` and `enum`: whether the value is signed. */
  readonly signed?: boolean;
  /** For `struct` / `union`: the members in order (bitfields are reported with their bit offset and size). */
  readonly members?: readonly BtfMember[];
  /** For `array`: the element layout and count. */
  readonly element?: BtfLayout;
  readonly count?: number;
}

/** One member of a struct or union. */
export interface BtfMember {
  readonly name: string;
  /** Offset in bytes (floor of the bit offset / 8). */
  readonly offset: number;
  /** Bit offset and size for bitfields (`bitSize` > 0), else undefined. */
  readonly bitOffset?: number;
  readonly bitSize?: number;
  readonly layout: BtfLayout;
}

/** A variable of a global data section (`.data`, `.rodata`, `.bss`, `.rodata.*`, ...). */
export interface ParsedVariable {
  readonly name: string;
  /** Offset in the section (= in the map's single value). */
  readonly offset: number;
  readonly size: number;
  /** `global` or `static` (a local symbol). */
  readonly binding: 'global' | 'static';
  /** Its BTF layout, when the object carries BTF for the section (DATASEC). */
  readonly layout?: BtfLayout;
}

/** A map definition found in the object. */
export interface ParsedMap {
  /**
   * The map's name: its symbol for `.maps` and legacy `maps` definitions, the section name
   * for global data (`.data`, `.rodata`, `.bss`, `.rodata.str1.1`, ...).
   */
  readonly name: string;
  /** Where it was defined: `btf` (`.maps`), `legacy` (`maps`), `data` (a global data section). */
  readonly origin: 'btf' | 'legacy' | 'data';
  /** The ELF section of the definition. */
  readonly section: string;
  readonly type: ParsedMapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** `map_flags`. */
  readonly flags: number;
  /**
   * Global data: the initial value of the single entry (a copy of the section; zeros for
   * `.bss`). Undefined for other maps.
   */
  readonly initialValue?: Uint8Array;
  /** True for `.rodata*`: frozen after load, programs may only read it. */
  readonly readonly: boolean;
  /** Global data: the section's variables, by offset. */
  readonly variables?: readonly ParsedVariable[];
  /** BTF layouts of key and value, when the object carries them (`__type(key, ...)`, DATASEC). */
  readonly keyLayout?: BtfLayout;
  readonly valueLayout?: BtfLayout;
  /** BTF-defined maps: `numa_node`, when the definition sets it. */
  readonly numaNode?: number;
  /** BTF-defined maps: `map_extra` (e.g. a bloom filter's hash count), when the definition sets it. */
  readonly mapExtra?: number;
  /** BTF-defined maps: `pinning` (`LIBBPF_PIN_NONE` 0, `LIBBPF_PIN_BY_NAME` 1), when the definition sets it. */
  readonly pinning?: number;
}

/** An instruction that refers to a map, rewritten by the loader (libbpf's RELO_LD64 / RELO_DATA). */
export interface ParsedMapReference {
  /** Index of the `lddw` (first slot) in {@link ParsedProgram.insns}. */
  readonly insnIndex: number;
  /** Index of the map in {@link ParsedObject.maps}. */
  readonly map: number;
  /**
   * `fd`: `lddw rX, map` (pseudo source 1, BPF_PSEUDO_MAP_FD);
   * `value`: `lddw rX, &value + offset` (pseudo source 2, BPF_PSEUDO_MAP_VALUE), for global data.
   */
  readonly kind: 'fd' | 'value';
  /** Byte offset into the value for `value` references (already stored in the second slot's imm). */
  readonly offset: number;
}

/** One program: an entry point (a global function in an executable section other than `.text`). */
export interface ParsedProgram {
  /** The function's symbol name. */
  readonly name: string;
  /** Its section, e.g. `xdp` or `xdp/filter`. */
  readonly section: string;
  /**
   * The program's instructions, starting with the entry function, followed by every
   * `.text` subprogram it calls (directly or indirectly), BPF-to-BPF call offsets fixed
   * up accordingly (libbpf's `bpf_object__reloc_code`). Map references are `lddw`
   * with pseudo source 1 or 2 whose `imm` holds the map's index in {@link ParsedObject.maps}
   * (the loader replaces it with a file descriptor of its own); see {@link mapReferences}.
   */
  readonly insns: readonly Insn[];
  readonly mapReferences: readonly ParsedMapReference[];
  /** Offset of the entry function in its section, in bytes. */
  readonly sectionOffset: number;
}

/** A parsed BPF object. */
export interface ParsedObject {
  /** The `license` section's string (NUL-terminated in the file), or undefined. */
  readonly license: string | undefined;
  /** The legacy `version` section's value, if present. */
  readonly kernelVersion: number | undefined;
  readonly programs: readonly ParsedProgram[];
  readonly maps: readonly ParsedMap[];
  /** True if the object has a `.BTF` section that parsed. */
  readonly hasBtf: boolean;
}
