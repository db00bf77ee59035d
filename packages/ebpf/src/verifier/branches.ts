/**
 * Conditional jumps: which way a comparison can go and what each way teaches (the
 * kernel's `check_cond_jmp_op`, `is_branch_taken`, `reg_set_min_max`,
 * `mark_ptr_or_null_regs`, `try_match_pkt_pointers`).
 */
import { BPF_JMP_OP, type Insn } from '../insn.js';
import type { Env } from './env.js';
import { type Reg, type State, isPointer, mapAllRegs, ptrReg, scalarReg } from './reg-state.js';
import { known, refineBranch } from './scalar.js';
import { reject } from './types.js';

/** A change to apply to one successor's state; null = that successor is impossible. */
export type Edge = ((st: State) => void) | null;

const MAX_PACKET_OFF = 0xffff;

/**
 * Decide the two successors of the conditional jump at `env.pc`: `[fallThrough, taken]`.
 * @throws VerifierError "R%d pointer comparison prohibited" for comparisons the verifier cannot use.
 */
export function condJump(env: Env, insn: Insn, is64: boolean): [Edge, Edge] {
  const op = insn.code & 0xf0;
  const x = (insn.code & 0x08) !== 0;
  const a = env.read(insn.dst);
  const b: Reg = x ? env.read(insn.src) : scalarReg(known(BigInt(insn.imm)));
  const frameIdx = env.st.frames.length - 1;
  if (a.type === 'scalar' && b.type === 'scalar') {
    const edge = (taken: boolean): Edge => {
      const r = refineBranch(op, a.v, b.v, is64, taken);
      if (r === null) return null;
      const [na, nb] = r;
      return (st) => {
        const regs = st.frames[frameIdx]?.regs as Reg[];
        if (na !== a.v) regs[insn.dst] = scalarReg(na);
        if (x && insn.src !== insn.dst && nb !== b.v) regs[insn.src] = scalarReg(nb);
      };
    };
    return [edge(false), edge(true)];
  }
  const ptrNo = isPointer(a) ? insn.dst : insn.src;
  // NULL checks: pointer == 0 / pointer != 0.
  if (is64 && (op === BPF_JMP_OP.JEQ || op === BPF_JMP_OP.JNE)) {
    const ptr = isPointer(a) ? a : b;
    const other = isPointer(a) ? b : a;
    if (other.type === 'scalar' && other.v.umax === 0n) {
      const eqIsTaken = op === BPF_JMP_OP.JEQ;
      if (ptr.type === 'map_value_or_null') {
        const isNull: Edge = (st) => markNull(st, ptr.id, true);
        const notNull: Edge = (st) => markNull(st, ptr.id, false);
        return eqIsTaken ? [notNull, isNull] : [isNull, notNull];
      }
      // Other pointers are never NULL: only the "not equal" way exists.
      const keep: Edge = () => {};
      return eqIsTaken ? [keep, null] : [null, keep];
    }
  }
  // Packet range checks: pkt vs pkt_end, pkt_meta vs pkt.
  if (is64 && x && (op === BPF_JMP_OP.JGT || op === BPF_JMP_OP.JGE || op === BPF_JMP_OP.JLT || op === BPF_JMP_OP.JLE)) {
    const lowIsDst = isLowEnd(a, b);
    const lowIsSrc = !lowIsDst && isLowEnd(b, a);
    if (lowIsDst || lowIsSrc) {
      const low = lowIsDst ? a : b;
      const end = lowIsDst ? b : a;
      // The way on which "low <= end" (or "low < end") holds.
      const holdsWhenTaken = lowIsDst ? op === BPF_JMP_OP.JLT || op === BPF_JMP_OP.JLE : op === BPF_JMP_OP.JGT || op === BPF_JMP_OP.JGE;
      const usable = low.off >= 0 && low.off <= MAX_PACKET_OFF && (end.type === 'pkt_end' || isInitialPkt(end));
      const proven: Edge = usable ? (st) => markRange(st, low, low.off) : () => {};
      const keep: Edge = () => {};
      return holdsWhenTaken ? [keep, proven] : [proven, keep];
    }
  }
  reject(env.pc, `R${ptrNo} pointer comparison prohibited`);
}

function isLowEnd(low: Reg, end: Reg): boolean {
  return (low.type === 'pkt' && end.type === 'pkt_end') || (low.type === 'pkt_meta' && end.type === 'pkt');
}

function isInitialPkt(r: Reg): boolean {
  return r.type === 'pkt' && r.off === 0 && r.id === 0 && r.v.umax === 0n && r.v.smin === 0n;
}

function markRange(st: State, low: Reg, range: number): void {
  mapAllRegs(st, (r) => (r.type === low.type && r.id === low.id && r.range < range ? { ...r, range } : r));
}

function markNull(st: State, id: number, isNull: boolean): void {
  mapAllRegs(st, (r) => {
    if (r.type !== 'map_value_or_null' || r.id !== id) return r;
    return isNull ? scalarReg(known(0n)) : ptrReg('map_value', { off: r.off, ref: r.ref, size: r.size, id: r.id, v: r.v });
  });
}
