import { EbpfError } from '../errors.js';
import type { Insn } from '../insn.js';
import type { HelperSpec } from './helpers.js';

/**
 * The `memory` program type: the calling convention of the bpf_conformance suite and of
 * uBPF. At entry r1 points to a buffer of `size` bytes (readable and writable) and r2
 * holds `size` as a known scalar. No kernel program type matches it exactly; it is the
 * closest to a kernel `PTR_TO_MEM` argument of a known size.
 */
export interface MemoryProgramType {
  readonly kind: 'memory';
  /** Size of the buffer r1 points to, 0..2^31-1 bytes (0: r1 points to nothing accessible). */
  readonly size: number;
}

/**
 * The `xdp` program type (kernel `BPF_PROG_TYPE_XDP`): r1 points to `struct xdp_md`.
 * `devmap: true` mirrors `expected_attach_type = BPF_XDP_DEVMAP`, the only attach type
 * for which the kernel lets a program read `egress_ifindex`.
 */
export interface XdpProgramType {
  readonly kind: 'xdp';
  readonly devmap?: boolean;
}

/**
 * What a program is for: decides what r1 (and r2) hold at entry, which context fields
 * may be read, which helpers exist and what r0 may hold at exit. `'xdp'` is short for
 * `{ kind: 'xdp' }`. New kinds are added to this union (the kernel's `bpf_verifier_ops`
 * per program type).
 */
export type ProgramType = MemoryProgramType | XdpProgramType | 'xdp';

/**
 * A map the program refers to with `lddw rX, map_fd` (pseudo source 1) or
 * `lddw rX, map_value` (pseudo source 2), the verifier's view of the kernel's
 * `struct bpf_map`: sizes only.
 */
export interface MapDescriptor {
  /** Key size in bytes (1..512). */
  readonly keySize: number;
  /** Value size in bytes (1..2^29). */
  readonly valueSize: number;
  /**
   * Whether `lddw rX, map_value` (direct value access) is allowed: true for array maps in
   * the kernel. Default false.
   */
  readonly directValue?: boolean;
  /**
   * Programs may only read the map's values (`BPF_F_RDONLY_PROG`, e.g. `.rodata`): stores
   * into them are refused ("write into map forbidden"). Default false.
   */
  readonly readonly?: boolean;
  /**
   * For array maps: their `max_entries`. A lookup with a constant key below it cannot fail,
   * so its result needs no NULL check (the kernel does the same for constant-key array
   * lookups). Undefined for other maps.
   */
  readonly arrayMaxEntries?: number;
}

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** The program type (what r1 points to, which helpers exist). */
  readonly progType: ProgramType;
  /**
   * Helpers the program may call, by id. Default: {@link DEFAULT_HELPERS} filtered by the
   * program type (the xdp_adjust_* helpers exist only for XDP).
   */
  readonly helpers?: readonly HelperSpec[];
  /** Maps by the fd (any number) used in `lddw` pseudo instructions. Default: none. */
  readonly maps?: ReadonlyMap<number, MapDescriptor>;
  /** Largest program accepted, in instruction slots. Default 4096 (the kernel's BPF_MAXINSNS). */
  readonly maxInsns?: number;
  /**
   * Budget of the path exploration, in instructions processed over all paths. Default
   * 1,000,000 (the kernel's BPF_COMPLEXITY_LIMIT_INSNS). Past it: "BPF program is too complex".
   */
  readonly maxStates?: number;
}

/** Names of the `xdp_md` fields a program may load (kernel `struct xdp_md`, 4 bytes each). */
export type XdpMdField = 'data' | 'data_end' | 'data_meta' | 'ingress_ifindex' | 'rx_queue_index' | 'egress_ifindex';

/**
 * A load from the context recorded by the verifier: instruction `insnIndex` reads the
 * field at `offset` of the program type's context struct, giving `result` (a packet
 * pointer for data/data_end/data_meta, else a scalar). A later pass rewrites such loads
 * onto the runtime's own layout, as the kernel's `convert_ctx_access` does.
 */
export interface CtxFieldLoad {
  readonly insnIndex: number;
  readonly field: XdpMdField;
  readonly offset: number;
  readonly size: number;
  readonly result: 'pkt' | 'pkt_end' | 'pkt_meta' | 'scalar';
}

/** One function of the program: the main program (entry 0) or a BPF-to-BPF callee. */
export interface Subprogram {
  /** Index of its first instruction. */
  readonly start: number;
  /** Index one past its last instruction. */
  readonly end: number;
  /** Largest stack depth it uses, in bytes (0..512): the lowest offset below r10 it touches. */
  readonly stackDepth: number;
}

/**
 * A program the verifier accepted, with what the JIT and the loader need. The
 * instructions are a copy of the caller's, unchanged (no rewriting happens here).
 */
export interface VerifiedProgram {
  readonly insns: readonly Insn[];
  readonly progType: ProgramType;
  /** Subprograms in order of their entry points; `[0]` is the main program. */
  readonly subprograms: readonly Subprogram[];
  /** Registers (0..10) the program reads or writes anywhere; r1 and r10 always. */
  readonly usedRegisters: readonly number[];
  /** Deepest chain of frames seen (1: no BPF-to-BPF call). At most 8. */
  readonly maxCallDepth: number;
  /**
   * Largest sum of the stack depths of the frames of one call chain, each rounded up to 16
   * bytes as the kernel counts it for JIT'd programs (at most 512).
   */
  readonly maxCombinedStack: number;
  /** Context loads by instruction, in instruction order. */
  readonly ctxLoads: readonly CtxFieldLoad[];
  /** Helper ids the program calls, ascending. */
  readonly helperIds: readonly number[];
  /** Map fds the program refers to, ascending. */
  readonly mapFds: readonly number[];
  /**
   * For each helper call that takes a map (`bpf_map_lookup_elem`, ...): the fd of the map
   * every path passes, or -1 if paths pass different maps. A JIT may call that map's own
   * function directly or inline the lookup (the kernel's `map_ptr_state` and `map_gen_lookup`).
   */
  readonly callSiteMaps: readonly { readonly insnIndex: number; readonly fd: number }[];
  /**
   * For map helper calls whose key is the same constant on every path (a key stored on the
   * stack from a known value): the key, little-endian as an unsigned number. A JIT may turn
   * an array lookup with it into the value's address.
   */
  readonly callSiteKeys: readonly { readonly insnIndex: number; readonly key: bigint }[];
  /**
   * Conditional jumps that go the same way on every path the verifier explored: `taken`
   * true (always jumps) or false (never jumps). A JIT may emit an unconditional jump or
   * nothing (the kernel's `opt_hard_wire_dead_code_branches`).
   */
  readonly decidedBranches: readonly { readonly insnIndex: number; readonly taken: boolean }[];
  /** The maps the program was verified against (a frozen copy of `options.maps`), by fd, ascending. */
  readonly maps: readonly ({ readonly fd: number } & Required<Omit<MapDescriptor, 'arrayMaxEntries'>> & Pick<MapDescriptor, 'arrayMaxEntries'>)[];
  /**
   * True if some path may read stack bytes it never wrote (allowed, as for root in the
   * kernel); a runtime that must not leak old native stack contents should zero the frame.
   */
  readonly readsUninitStack: boolean;
  /** Instructions processed over all explored paths (the kernel's `insn_processed`). */
  readonly processedInsns: number;
}

/**
 * The verifier refused a program: code `VERIFY`, with the index of the offending
 * instruction and the reason in the kernel verifier's words (e.g. "R3 !read_ok").
 */
export class VerifierError extends EbpfError {
  constructor(
    /** Index of the instruction the verifier refused (0 for whole-program reasons). */
    readonly insnIndex: number,
    /** The reason, in the kernel verifier's vocabulary. */
    readonly reason: string,
  ) {
    super('VERIFY', `verifier: insn ${insnIndex}: ${reason}`);
  }
}

/** Shorthand used throughout the verifier. */
export function reject(insnIndex: number, reason: string): never {
  throw new VerifierError(insnIndex, reason);
}
