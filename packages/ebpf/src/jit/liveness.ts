/**
 * Register liveness for the JIT: which eBPF registers each instruction's result is still
 * needed for, computed backwards over each subprogram's control flow. Two uses:
 *
 * - dead code: an instruction without side effects whose only result is a register nobody
 *   reads afterwards emits no code (e.g. the map pointer and key pointer set up for a map
 *   lookup the JIT turned into a constant address);
 * - fused increments: `rX = *(size *)(p + off); rX += imm; *(size *)(p + off) = rX` with rX
 *   dead afterwards becomes one `add size [p + off], imm`.
 *
 * Code the verifier found unreachable is `ja -1` there and reads nothing. Calls
 * read their argument registers (all of R1-R5 unless the JIT inlines them) and clobber
 * R0-R5; `exit` reads R0; conditional jumps, stores and atomics read what they name.
 */
import { BPF_ALU_OP, BPF_ATOMIC, BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_PSEUDO_CALL, BPF_SRC, type Insn, LDDW_OPCODE } from '../insn.js';
import { type Analysis, jumpTarget } from './analyze.js';

/** What the caller tells the analysis about calls it handles specially. */
export interface LivenessHints {
  /** Registers a helper call at this slot reads (default: R1-R5). */
  callUses(i: number): number;
}

const ARGS = 0b111110; // R1-R5
const CLOBBERED = 0b111111; // R0-R5

/** Registers read and written by one instruction, and whether it may be removed when its result is dead. */
function effects(x: Insn, i: number, hints: LivenessHints): { use: number; def: number; pure: boolean } {
  const cls = x.code & 0x07;
  const d = 1 << x.dst;
  const s = 1 << x.src;
  switch (cls) {
    case BPF_CLASS.ALU:
    case BPF_CLASS.ALU64: {
      const op = x.code & 0xf0;
      const isX = (x.code & BPF_SRC.X) !== 0;
      if (op === BPF_ALU_OP.MOV) return { use: isX ? s : 0, def: d, pure: true };
      if (op === BPF_ALU_OP.NEG || op === BPF_ALU_OP.END) return { use: d, def: d, pure: true };
      return { use: d | (isX ? s : 0), def: d, pure: true };
    }
    case BPF_CLASS.LD:
      return { use: 0, def: d, pure: true }; // lddw (the verifier refuses legacy packet loads)
    case BPF_CLASS.LDX:
      return { use: s, def: d, pure: true };
    case BPF_CLASS.ST:
      return { use: d, def: 0, pure: false };
    case BPF_CLASS.STX: {
      if ((x.code & 0xe0) !== BPF_MODE.ATOMIC) return { use: d | s, def: 0, pure: false };
      // atomics: fetch variants write src, cmpxchg reads and writes r0
      const cmpxchg = x.imm === BPF_ATOMIC.CMPXCHG;
      const fetch = (x.imm & BPF_ATOMIC.FETCH) !== 0;
      return { use: d | s | (cmpxchg ? 1 : 0), def: cmpxchg ? 1 : fetch ? s : 0, pure: false };
    }
    default: {
      const op = x.code & 0xf0;
      if (op === BPF_JMP_OP.JA) return { use: 0, def: 0, pure: false };
      if (op === BPF_JMP_OP.EXIT) return { use: 1, def: 0, pure: false };
      if (op === BPF_JMP_OP.CALL) {
        const use = x.src === BPF_PSEUDO_CALL.LOCAL ? ARGS : hints.callUses(i);
        return { use, def: CLOBBERED, pure: false };
      }
      const isX = (x.code & BPF_SRC.X) !== 0;
      return { use: d | (isX ? s : 0), def: 0, pure: false };
    }
  }
}

/** The result: per slot, the registers live after it, and the slots that emit no code. */
export interface Liveness {
  /** Bit r set: register r is read later on some path from after slot i. */
  readonly liveOut: Uint16Array;
  /** 1 where the slot's result is dead and it has no side effect. */
  readonly dead: Uint8Array;
}

/** Compute liveness for every subprogram of an analysed program. */
export function liveness(analysis: Analysis, hints: LivenessHints): Liveness {
  const insns = analysis.insns;
  const n = insns.length;
  const liveIn = new Uint16Array(n);
  const liveOut = new Uint16Array(n);
  const info = new Array<ReturnType<typeof effects> | undefined>(n);
  for (let i = 0; i < n; i++) {
    const x = insns[i] as Insn;
    info[i] = effects(x, i, hints);
    if (x.code === LDDW_OPCODE) i++;
  }
  for (const sp of analysis.subprogs) {
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = sp.end - 1; i >= sp.start; i--) {
        const e = info[i];
        if (e === undefined) continue;
        const x = insns[i] as Insn;
        const cls = x.code & 0x07;
        const op = x.code & 0xf0;
        let out = 0;
        const isJmp = cls === BPF_CLASS.JMP || cls === BPF_CLASS.JMP32;
        const next = x.code === LDDW_OPCODE ? i + 2 : i + 1;
        if (isJmp && op === BPF_JMP_OP.EXIT) out = 0;
        else if (isJmp && op === BPF_JMP_OP.JA) out = liveIn[jumpTarget(x, i)] as number;
        else if (isJmp && op !== BPF_JMP_OP.CALL) out = (liveIn[next] as number) | (liveIn[jumpTarget(x, i)] as number);
        else out = next < sp.end ? (liveIn[next] as number) : 0;
        // a dead instruction (pure, result unread) reads nothing: what feeds only it is dead too
        const inn = e.pure && e.def !== 0 && (e.def & out) === 0 ? out : e.use | (out & ~e.def);
        if (out !== liveOut[i] || inn !== liveIn[i]) {
          liveOut[i] = out;
          liveIn[i] = inn;
          changed = true;
        }
      }
    }
  }
  const dead = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const e = info[i];
    // r10 is never written; a write to a register nobody reads afterwards is dead
    if (e?.pure && e.def !== 0 && (e.def & (liveOut[i] as number)) === 0) dead[i] = 1;
  }
  return { liveOut, dead };
}
