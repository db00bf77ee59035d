/**
 * The verifier environment: the state of the path being explored, the facts gathered
 * over all paths (the kernel's `bpf_verifier_env` and `insn_aux_data`), and small helpers
 * shared by the instruction handlers.
 */
import type { Insn } from '../insn.js';
import type { ControlFlow } from './cfg.js';
import type { HelperSpec } from './helpers.js';
import type { ProgType } from './program-types.js';
import { type Frame, NOT_INIT, type Reg, type State } from './reg-state.js';
import type { CtxFieldLoad, MapDescriptor } from './types.js';
import { reject } from './types.js';

/** Everything the instruction handlers need. */
export class Env {
  /** State of the path being explored. */
  st: State;
  /** Instruction being processed. */
  pc = 0;
  /** Generator of pointer ids (0 is the packet pointer loaded from the context). */
  idGen = 0;
  /** Largest stack depth per subprogram (bytes, multiple of 8). */
  readonly subprogDepth: number[];
  /** Deepest frame count seen. */
  maxFrames = 1;
  readonly ctxLoads = new Map<number, CtxFieldLoad>();
  readonly helperIds = new Set<number>();
  readonly mapFds = new Set<number>();
  /**
   * Per helper call that takes a map: the map's fd, or -1 when paths reach the call with
   * different maps (the kernel's `insn_aux_data.map_ptr_state`, "poisoned").
   */
  readonly callSiteMaps = new Map<number, number>();
  /** Per map helper call: the constant key every path passes, or null when paths differ or it is not constant. */
  readonly callSiteKeys = new Map<number, bigint | null>();
  /** Per conditional jump: 1 = fell through on some path, 2 = jumped on some path. */
  readonly branchSeen: Uint8Array;
  readsUninit = false;
  /** Per instruction: 0 no memory access seen, 1 through ctx, 2 through another pointer. */
  readonly accessKind: Uint8Array;
  /** Per instruction: 1 once some path reached it (the rest is dead code). */
  readonly seen: Uint8Array;

  constructor(
    readonly insns: readonly Insn[],
    readonly cfg: ControlFlow,
    readonly progType: ProgType,
    readonly helpers: ReadonlyMap<number, HelperSpec>,
    readonly maps: ReadonlyMap<number, MapDescriptor>,
    initial: State,
  ) {
    this.st = initial;
    this.subprogDepth = cfg.subprogStarts.map(() => 0);
    this.accessKind = new Uint8Array(insns.length);
    this.seen = new Uint8Array(insns.length);
    this.branchSeen = new Uint8Array(insns.length);
  }

  /** The innermost frame. */
  get frame(): Frame {
    return this.st.frames[this.st.frames.length - 1] as Frame;
  }

  /** Read register `r` of the innermost frame. @throws VerifierError "R%d !read_ok" if never written. */
  read(r: number): Reg {
    const reg = this.frame.regs[r] as Reg;
    if (reg === NOT_INIT || reg.type === 'not_init') reject(this.pc, `R${r} !read_ok`);
    return reg;
  }

  /** Write register `r`. @throws VerifierError "frame pointer is read only" for r10. */
  write(r: number, value: Reg): void {
    if (r === 10) reject(this.pc, 'frame pointer is read only');
    this.frame.regs[r] = value;
  }

  /** Record that subprogram `subprog` touches its stack down to `-off` bytes below r10. */
  touchStack(subprog: number, off: number): void {
    const depth = (-off + 7) & ~7;
    if (depth > (this.subprogDepth[subprog] as number)) this.subprogDepth[subprog] = depth;
  }

  /** Remember whether the access at this instruction goes through ctx; the two may not mix. */
  noteAccess(ctx: boolean): void {
    const kind = ctx ? 1 : 2;
    const seen = this.accessKind[this.pc] as number;
    if (seen !== 0 && seen !== kind) reject(this.pc, 'same insn cannot be used with different pointers');
    this.accessKind[this.pc] = kind;
  }
}
