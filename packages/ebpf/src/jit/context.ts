import { type Address, CodeBuffer, type Condition, jcc, jmp, type Label } from '@bpf-dispatcher/x86';
import { BPF_ALU_OP, BPF_CLASS, BPF_JMP_OP, type Insn } from '../insn.js';
import type { Analysis, SubprogInfo } from './analyze.js';

/** A `call rel32` to a helper, patched once the image's address is known. */
export interface HelperSite {
  /** Offset of the rel32 field. */
  readonly at: number;
  readonly target: bigint;
  readonly id: number;
  readonly index: number;
}

/**
 * An upper bound of the native bytes one slot becomes (the longest forms each emitter
 * uses: e.g. `cmp r64, imm32` + `jcc rel32` = 13 bytes, a division with its checks under 56).
 * Sums of these tell a forward jump whether `rel8` reaches its target before the target is
 * emitted, as the kernel's converging passes find out by emitting again.
 */
function slotBound(x: Insn, inlined: boolean): number {
  switch (x.code & 0x07) {
    case BPF_CLASS.ALU:
    case BPF_CLASS.ALU64: {
      const op = x.code & 0xf0;
      return op === BPF_ALU_OP.DIV || op === BPF_ALU_OP.MOD ? 56 : 12;
    }
    case BPF_CLASS.JMP:
    case BPF_CLASS.JMP32: {
      const op = x.code & 0xf0;
      if (op === BPF_JMP_OP.CALL) return inlined ? INLINE_LOOKUP_BOUND : 5;
      return op === BPF_JMP_OP.EXIT || op === BPF_JMP_OP.JA ? 5 : 13;
    }
    case BPF_CLASS.LD:
      return 10; // lddw: movabs (the second slot counts 0)
    case BPF_CLASS.ST:
      return 14;
    default:
      return (x.code & 0xe0) === 0xc0 ? 40 : 10; // atomics (fetch loops), else ldx/stx
  }
}

/** An upper bound of the bytes of an inlined map lookup (calls.ts `emitInlineLookup`). */
export const INLINE_LOOKUP_BOUND = 64;

/** Prefix sums of {@link slotBound}: `bounds[k]` bounds the bytes of slots 0..k-1. */
function slotBounds(insns: readonly Insn[], env: JitEnv): Int32Array {
  const bounds = new Int32Array(insns.length + 1);
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i] as Insn;
    bounds[i + 1] = (bounds[i] as number) + slotBound(x, env.callSiteMaps.has(i));
    if (x.code === (BPF_CLASS.LD | 0x18) && i + 1 < insns.length) {
      i++;
      bounds[i + 1] = bounds[i] as number; // the second slot of lddw emits nothing
    }
  }
  return bounds;
}

/** What the JIT knows of a map (what `lddw` loads, its functions, an inlinable lookup). */
export interface JitMapInfo {
  /** Address of the map's native structure: what `lddw rX, map_fd` loads. */
  readonly address: bigint;
  /** Address of value 0 for `lddw rX, map_value` (global data, arrays). */
  readonly directValue?: bigint;
  /** The map's own functions (System V, r12 = CPU): called directly instead of the generic helper when the verifier knows the map at a call site. */
  readonly ops?: { readonly lookup?: bigint; readonly update?: bigint; readonly delete?: bigint };
  /** An array lookup the JIT may inline (the kernel's `map_gen_lookup`). */
  readonly inlineLookup?: { readonly kind: 'array'; readonly values: bigint; readonly elemSize: number; readonly maxEntries: number; readonly cpuStride: number };
}

/** How the main program finds the CPU index it keeps in r12 for helpers: from its context, or 0. */
export type CpuSource = { readonly kind: 'ctx'; readonly offset: number; readonly cpus: number } | { readonly kind: 'zero' };

/** The program-specific facts a translation uses beyond the instructions. */
export interface JitEnv {
  /** Maps by fd. */
  readonly maps: ReadonlyMap<number, JitMapInfo>;
  /** Helper call slot → fd of the map the verifier proved it receives. */
  readonly callSiteMaps: ReadonlyMap<number, number>;
  /** Helper call slot → the constant key every path passes. */
  readonly callSiteKeys: ReadonlyMap<number, bigint>;
  /** Conditional jump slot → whether it always (true) or never (false) jumps. */
  readonly decidedBranches: ReadonlyMap<number, boolean>;
  /** Context load slot → where the runtime's context holds the field. */
  readonly ctxFields: ReadonlyMap<number, { readonly offset: number; readonly size: 4 | 8 }>;
  /** Where the CPU index comes from; undefined when the program calls no helper (r12 untouched). */
  readonly cpu: CpuSource | undefined;
}

/** An environment with nothing beyond the instructions (no maps, context loads as they are, no CPU register). */
export const EMPTY_ENV: JitEnv = Object.freeze({ maps: new Map(), callSiteMaps: new Map(), callSiteKeys: new Map(), decidedBranches: new Map(), ctxFields: new Map(), cpu: undefined });

/** The state of one translation: the code buffer, a label per jump target, the frames. */
export class JitContext {
  readonly buf: CodeBuffer;
  /** Native offset of each instruction (the kernel's `addrs[]`), -1 for the second slot of lddw. */
  readonly offsets: Int32Array;
  readonly helperSites: HelperSite[] = [];
  private readonly labels: (Label | undefined)[];
  /** Entry label of each subprogram. */
  readonly entries: Label[];
  /** Epilogue label of the subprogram being emitted. */
  epilogue: Label | undefined;
  /** The subprogram being emitted. */
  subprog: SubprogInfo | undefined;
  /** The slot being emitted. */
  private current = 0;
  /** Inlined lookups whose key is at `[rbp + disp]` (call slot → disp), from the JIT's pre-pass. */
  frameKeys: ReadonlyMap<number, number> = new Map();
  /** Byte bounds of the slots for short forward jumps (undefined: forward jumps are rel32). */
  private readonly bounds: Int32Array | undefined;

  constructor(
    readonly analysis: Analysis,
    readonly helpers: ReadonlyMap<number, bigint>,
    capacity: number,
    shortForward = true,
    readonly env: JitEnv = EMPTY_ENV,
  ) {
    this.buf = new CodeBuffer(0n, capacity);
    this.bounds = shortForward ? slotBounds(analysis.insns, env) : undefined;
    this.offsets = new Int32Array(analysis.insns.length).fill(-1);
    this.labels = new Array(analysis.insns.length);
    this.entries = analysis.subprogs.map(() => this.buf.newLabel());
  }

  get insns(): readonly Insn[] {
    return this.analysis.insns;
  }

  /** The label of instruction `i` (created on first use). */
  labelAt(i: number): Label {
    let label = this.labels[i];
    if (label === undefined) {
      label = this.buf.newLabel();
      this.labels[i] = label;
    }
    return label;
  }

  /** Bind instruction `i`'s label if something jumps to it. */
  bindInsn(i: number): void {
    this.current = i;
    this.offsets[i] = this.buf.length;
    if (this.analysis.isTarget[i]) this.buf.bind(this.labelAt(i));
  }

  /**
   * Jump (conditionally) to a label: the short form when it is bound and within rel8 reach,
   * or, forward, when the slots between this one and `target` (the slot the label will be
   * bound at; the subprogram's end for its epilogue) cannot exceed 127 bytes.
   */
  jumpTo(cond: Condition | null, label: Label, target?: number): void {
    const at = this.buf.labelOffset(label);
    const bounds = this.bounds;
    const short =
      at !== undefined
        ? at - (this.buf.length + 2) >= -128
        : target !== undefined &&
          bounds !== undefined &&
          target > this.current &&
          (bounds[target] as number) - (bounds[this.current + 1] as number) <= 127;
    if (cond === null) jmp(this.buf, label, short ? 'short' : 'near');
    else jcc(this.buf, cond, label, short ? 'short' : 'near');
  }

  /** Record a `call rel32` to a helper at an absolute address (patched later). */
  helperCall(id: number, target: Address, index: number): void {
    this.buf.u8(0xe8);
    this.helperSites.push({ at: this.buf.length, target: BigInt.asUintN(64, BigInt(target)), id, index });
    this.buf.u32(0);
  }
}
