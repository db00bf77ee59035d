/**
 * Load a BPF object into the running kernel, the way libbpf's `bpf_object__load` does:
 * `BPF_MAP_CREATE` for every map (global data with its initial value, `.rodata` frozen),
 * each program's map references pointed at the kernel's map fds (`bpf_object__relocate`),
 * then `BPF_PROG_LOAD` for each XDP program. The same object then runs in this project's
 * runtime ({@link BpfObject.load}) and in the kernel, for differential tests.
 */
import {
  EbpfError,
  type Insn,
  type KernelMap,
  type KernelMapType,
  type KernelProg,
  BPF_MAP_TYPE,
  kernelMapCreate,
  kernelProgLoad,
} from '@bpf-dispatcher/ebpf';
import { BpfObjectError } from './errors.js';
import { BpfObject } from './object.js';
import type { ParsedMap, ParsedObject, ParsedProgram } from './parsed.js';

/** Options of {@link loadObjectIntoKernel}. */
export interface KernelObjectOptions {
  /**
   * The object's name, the prefix of global data maps' kernel names (libbpf's
   * `<object>.rodata`, …): up to its first `.`. Default: the {@link BpfObject}'s name, or
   * `obj` for a {@link ParsedObject}.
   */
  readonly name?: string;
  /** Verifier log level of each `BPF_PROG_LOAD` (0 by default; see `kernelProgLoad`). */
  readonly logLevel?: 0 | 1 | 2;
  /** Size of the verifier log buffer (default: `kernelProgLoad`'s). */
  readonly logSize?: number;
}

/** An object loaded into the kernel: its programs and maps by their names in the object. */
export interface KernelObject {
  /** Each loaded XDP program by its symbol name. */
  readonly programs: ReadonlyMap<string, KernelProg>;
  /** Each map by its name in the object (`.rodata`, `.bss`, … for global data). */
  readonly maps: ReadonlyMap<string, KernelMap>;
  /** The program named `name`. @throws BpfObjectError ENOENT. */
  program(name: string): KernelProg;
  /** The map named `name`. @throws BpfObjectError ENOENT. */
  map(name: string): KernelMap;
  /** Close every program and map fd (idempotent; the kernel frees what nothing else holds). */
  close(): void;
  [Symbol.dispose](): void;
}

/** `BPF_OBJ_NAME_LEN - 1`: the longest object name the kernel keeps. */
const NAME_MAX = 15;
/** `BPF_XDP`, the `expected_attach_type` libbpf gives `SEC("xdp")` programs. */
const BPF_XDP = 37;
/** `BPF_F_RDONLY_PROG` (`map_flags`): programs may only read the map. */
const BPF_F_RDONLY_PROG = 0x80;
/** `BPF_F_XDP_HAS_FRAGS`: `SEC("xdp.frags")` programs accept multi-buffer packets. */
const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** Replace what the kernel refuses in names (it keeps `[A-Za-z0-9_.]`) with `_`, and cut to 15 characters. */
function sanitize(name: string): string {
  return name.slice(0, NAME_MAX).replace(/[^A-Za-z0-9_.]/g, '_');
}

/**
 * The name the kernel gets for a map (libbpf's rules): a map's own name cut to 15
 * characters; for global data, as libbpf's `internal_map_name`, the object name up to
 * its first `.`, shortened to leave room for the section name (at least 7 characters
 * reserved), then the section name (`xdp_help.rodata`, `xdp_help.bss`); a section name
 * with a second dot stands alone (`.rodata.str1.1`, `.data.custom`); the result is cut to
 * 15 characters and characters the kernel refuses become `_`.
 */
export function kernelMapName(objectName: string, map: Pick<ParsedMap, 'name' | 'origin'>): string {
  if (map.origin !== 'data') return sanitize(map.name);
  const prefix = objectName.split('.')[0] ?? '';
  const suffixLength = Math.max(7, map.name.length);
  // a section name with a second dot (`.rodata.str1.1`, `.data.custom`) gets no prefix
  const prefixLength = map.name.indexOf('.', 1) >= 0 ? 0 : Math.max(0, Math.min(NAME_MAX - suffixLength, prefix.length));
  return sanitize(prefix.slice(0, prefixLength) + map.name);
}

/** The program types loaded, from the section name (libbpf's `SEC()` conventions): flags for `xdp.frags`. */
function xdpSection(section: string): { flags: number } | undefined {
  if (section === 'xdp' || section.startsWith('xdp/')) return { flags: 0 };
  if (section === 'xdp.frags' || section.startsWith('xdp.frags/')) return { flags: BPF_F_XDP_HAS_FRAGS };
  return undefined;
}

/** A map as it will be created: the parsed definition, with a BpfObject's adjustments. */
interface MapPlan {
  readonly parsed: ParsedMap;
  readonly type: KernelMapType;
  readonly kernelName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly initial: Uint8Array | undefined;
}

function planMaps(object: BpfObject | undefined, parsed: ParsedObject, objectName: string): MapPlan[] {
  return parsed.maps.map((m, i) => {
    // any type of the kernel's enum bpf_map_type (XSKMAP, DEVMAP, …, not only the runtime's): the kernel judges the definition
    const type = Object.entries(BPF_MAP_TYPE).find(([, id]) => id === m.type.id)?.[0] as KernelMapType | undefined;
    if (type === undefined) {
      throw new BpfObjectError('UNSUPPORTED', `${objectName}: map ${m.name} in section ${m.section} has type ${m.type.name}, which is no map type of the kernel (enum bpf_map_type: ${Object.keys(BPF_MAP_TYPE).join(', ')})`, { section: m.section, symbol: m.name });
    }
    const adjusted = object?.maps[i];
    return {
      parsed: m,
      type,
      kernelName: kernelMapName(objectName, m),
      keySize: m.keySize,
      valueSize: adjusted?.valueSize ?? m.valueSize,
      maxEntries: adjusted?.maxEntries ?? m.maxEntries,
      // .rodata: programs may only read it (libbpf sets BPF_F_RDONLY_PROG; the parser does too)
      flags: m.readonly ? m.flags | BPF_F_RDONLY_PROG : m.flags,
      initial: m.origin === 'data' ? (adjusted?.initialValue() ?? m.initialValue?.slice()) : undefined,
    };
  });
}

/** The programs to load: every XDP program (a BpfObject's with autoload on). */
function planPrograms(object: BpfObject | undefined, parsed: ParsedObject, objectName: string): { program: ParsedProgram; flags: number }[] {
  const out: { program: ParsedProgram; flags: number }[] = [];
  parsed.programs.forEach((p, i) => {
    if (object !== undefined && object.programs[i]?.autoload === false) return;
    const kind = xdpSection(p.section);
    if (kind === undefined) throw new BpfObjectError('UNSUPPORTED', `${objectName}: program ${p.name} in section ${p.section}: the kernel loader loads XDP programs only (sections xdp, xdp/..., xdp.frags)`, { section: p.section, symbol: p.name });
    for (const ref of p.mapReferences) {
      const insn = p.insns[ref.insnIndex];
      if (parsed.maps[ref.map] === undefined || insn === undefined || p.insns[ref.insnIndex + 1] === undefined || insn.code !== 0x18) {
        throw new BpfObjectError('MALFORMED', `${objectName}: program ${p.name}: map reference ${ref.map} at insn ${ref.insnIndex} is not an lddw of a map of the object`, { section: p.section, symbol: p.name });
      }
    }
    out.push({ program: p, flags: kind.flags });
  });
  return out;
}

/** `lddw` map references rewritten to hold kernel map fds (pseudo source 1 or 2 kept; the value offset stays in the second slot). */
function relocate(program: ParsedProgram, fds: readonly number[]): Insn[] {
  const insns = program.insns.map((insn) => ({ ...insn }));
  for (const ref of program.mapReferences) {
    const insn = insns[ref.insnIndex];
    if (insn === undefined) continue; // checked by planPrograms
    insn.imm = fds[ref.map] as number;
    insn.src = ref.kind === 'value' ? 2 : 1;
  }
  return insns;
}

function describe(v: unknown): string {
  return typeof v === 'object' ? (v === null ? 'null' : 'an object') : typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Load `object` into the running kernel (libbpf's `bpf_object__load` against `bpf(2)`):
 * create each map with `BPF_MAP_CREATE` (type, key/value sizes, capacity and flags of the
 * definition — for a {@link BpfObject} as adjusted by `setMaxEntries`/`setValueSize` —
 * and a kernel name of at most 15 characters, see {@link kernelMapName}); write each
 * global data map's initial value (a BpfObject's as changed by `setVariable`); freeze
 * `.rodata` maps (created with `BPF_F_RDONLY_PROG`, then `BPF_MAP_FREEZE`); rewrite each
 * program's map references to the kernel's fds and load every XDP program (a BpfObject's
 * with autoload on) with `BPF_PROG_LOAD`, the object's license and `expected_attach_type`
 * `BPF_XDP`. Every map type of the kernel's `enum bpf_map_type` is created (kernel-only
 * types such as `xskmap` included) and programs may call any helper the kernel offers
 * (`bpf_redirect_map`, …): the kernel, not this loader, decides. The object itself is not
 * changed, and may be loaded natively as well (there the runtime's map types and helpers
 * apply). On failure every fd opened so far is closed.
 * @throws BpfObjectError EINVAL for bad arguments; STATE for a closed BpfObject;
 *   UNSUPPORTED for a map type the kernel does not define or a program that is not XDP
 *   (before anything is created), or a map the kernel refuses (`cause`: the KernelError);
 *   MALFORMED for a broken map reference; VERIFY when the kernel refuses a program
 *   (`cause`: the KernelError, whose `log` is the verifier's); EbpfError UNSUPPORTED where
 *   `bpf()` is not available.
 */
export function loadObjectIntoKernel(object: BpfObject | ParsedObject, options: KernelObjectOptions = {}): KernelObject {
  if (typeof options !== 'object' || options === null) throw new BpfObjectError('EINVAL', 'loadObjectIntoKernel: options must be an object');
  const owner = object instanceof BpfObject ? object : undefined;
  const parsed: ParsedObject = owner !== undefined ? owner.parsed : (object as ParsedObject);
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(parsed.programs) || !Array.isArray(parsed.maps)) {
    throw new BpfObjectError('EINVAL', `loadObjectIntoKernel: expected a BpfObject or a ParsedObject, got ${describe(object)}`);
  }
  if (owner?.state === 'closed') throw new BpfObjectError('STATE', `${owner.name}: loadObjectIntoKernel: the object is closed`);
  const objectName = options.name ?? owner?.name ?? 'obj';
  if (typeof objectName !== 'string') throw new BpfObjectError('EINVAL', `loadObjectIntoKernel: options.name must be a string, got ${describe(objectName)}`);
  const license = parsed.license ?? '';

  const maps = planMaps(owner, parsed, objectName);
  const programs = planPrograms(owner, parsed, objectName);

  const createdMaps: KernelMap[] = [];
  const loaded = new Map<string, KernelProg>();
  const closeAll = () => {
    for (const prog of loaded.values()) prog.close();
    for (const map of createdMaps) map.close();
  };
  try {
    for (const plan of maps) {
      const m = plan.parsed;
      let map: KernelMap;
      try {
        map = kernelMapCreate({
          type: plan.type,
          keySize: plan.keySize,
          valueSize: plan.valueSize,
          maxEntries: plan.maxEntries,
          flags: plan.flags,
          name: plan.kernelName,
        });
      } catch (error) {
        if (EbpfError.hasCode(error, 'KERNEL')) {
          throw new BpfObjectError('UNSUPPORTED', `${objectName}: the kernel refused map ${m.name} (${plan.type}, key ${plan.keySize}, value ${plan.valueSize}, ${plan.maxEntries} entries, flags 0x${plan.flags.toString(16)}): ${error.message}`, { section: m.section, symbol: m.name }, { cause: error });
        }
        throw error;
      }
      createdMaps.push(map);
      if (plan.initial !== undefined) map.update(new Uint8Array(4), plan.initial);
      if (m.readonly) map.freeze();
    }
    const fds = createdMaps.map((m) => m.fd);
    for (const { program, flags } of programs) {
      const insns = relocate(program, fds);
      try {
        const prog = kernelProgLoad(insns, {
          progType: 'xdp',
          license,
          name: sanitize(program.name),
          expectedAttachType: BPF_XDP,
          flags,
          ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
          ...(options.logSize !== undefined ? { logSize: options.logSize } : {}),
        });
        loaded.set(program.name, prog);
      } catch (error) {
        if (EbpfError.hasCode(error, 'KERNEL')) {
          throw new BpfObjectError('VERIFY', `${objectName}: the kernel refused program ${program.name} in section ${program.section}: ${error.message}`, { section: program.section, symbol: program.name }, { cause: error });
        }
        if (EbpfError.isInstance(error) && error.code === 'EINVAL') {
          throw new BpfObjectError('EINVAL', `${objectName}: program ${program.name}: ${error.message}`, { section: program.section, symbol: program.name }, { cause: error });
        }
        throw error;
      }
    }
  } catch (error) {
    closeAll();
    throw error;
  }

  const byName = new Map<string, KernelMap>();
  maps.forEach((plan, i) => {
    if (!byName.has(plan.parsed.name)) byName.set(plan.parsed.name, createdMaps[i] as KernelMap);
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeAll();
  };
  return Object.freeze({
    programs: loaded,
    maps: byName,
    program(name: string): KernelProg {
      const p = loaded.get(name);
      if (p === undefined) throw new BpfObjectError('ENOENT', `${objectName} has no program ${describe(name)} loaded in the kernel (it has ${[...loaded.keys()].join(', ') || 'none'})`);
      return p;
    },
    map(name: string): KernelMap {
      const m = byName.get(name);
      if (m === undefined) throw new BpfObjectError('ENOENT', `${objectName} has no map ${describe(name)} (it has ${[...byName.keys()].join(', ') || 'none'})`);
      return m;
    },
    close,
    [Symbol.dispose]: close,
  });
}
