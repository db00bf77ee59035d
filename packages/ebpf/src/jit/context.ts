import { type Address, CodeBuffer, type Condition, jcc, jmp, type Label } from '@bpf-dispatcher/x86';
import type { Insn } from '../insn.js';
import type { Analysis, SubprogInfo } from './analyze.js';

/** A `call rel32` to a helper, patched once the image's address is known. */
export interface HelperSite {
  /** Offset of the rel32 field. */
  readonly at: number;
  readonly target: bigint;
  readonly id: number;
  readonly index: number;
}

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

  constructor(
    readonly analysis: Analysis,
    readonly helpers: ReadonlyMap<number, bigint>,
    capacity: number,
  ) {
    this.buf = new CodeBuffer(0n, capacity);
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
    this.offsets[i] = this.buf.length;
    if (this.analysis.isTarget[i]) this.buf.bind(this.labelAt(i));
  }

  /** Jump (conditionally) to a label: the short form when it is bound and within rel8 reach. */
  jumpTo(cond: Condition | null, label: Label): void {
    const at = this.buf.labelOffset(label);
    const short = at !== undefined && at - (this.buf.length + 2) >= -128;
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
