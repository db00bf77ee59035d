/**
 * The path exploration (the kernel's `do_check`): a depth-first walk of every feasible
 * path from the entry, one abstract state per path, with states remembered at jump
 * targets (checkpoints) so that a path whose state is covered by one explored before
 * stops there (`is_state_visited`).
 *
 * As in the kernel, each checkpoint counts the paths still being explored below it
 * (`branches`): only a checkpoint whose every path has reached `exit` or was itself
 * pruned (branches 0) may prune another path. A checkpoint still in progress is an
 * ancestor of the current path: reaching it again with an identical state is a loop the
 * verifier cannot see end ("infinite loop detected at insn N").
 *
 * Outside loops, at a jump target that already holds PRUNE_STATES states, a new
 * uncovered state is joined with the last of them and exploration goes on with the join,
 * which bounds the work on programs with many branches at some cost in precision: the
 * first join keeps the union of scalar bounds, later ones widen each scalar bound that
 * grows to the next threshold (0, 2^k - 1, -2^k: a bound moves at most 65 times, and a
 * small range such as a verdict 0..3 stays exact). Inside loops (`ControlFlow.inLoop`) states are never joined: each
 * iteration is explored with its exact state until the loop exits, a state repeats (an
 * infinite loop) or the budget of processed instructions runs out ("BPF program is too
 * complex"), the kernel's bounded loops (Linux 5.3+). There, as in the kernel, a new
 * checkpoint is added at an instruction that already has one in progress only after 100
 * instructions or 20 jumps along the path since that one.
 */
import { BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_PSEUDO_CALL, LDDW_OPCODE, type Insn } from '../insn.js';
import { doAlu } from './alu.js';
import { type Edge, condJump } from './branches.js';
import { doExit, doHelperCall, doLocalCall } from './calls.js';
import { jumpTarget } from './cfg.js';
import type { Env } from './env.js';
import { doAtomic, doLoad, doStore } from './memory-access.js';
import { type State, cloneState, covers, joinStates, ptrReg, scalarReg, stateHash, statesEqual } from './reg-state.js';
import { known } from './scalar.js';
import { reject } from './types.js';

/** States remembered per jump target outside loops before new ones are joined. */
export const PRUNE_STATES = 4;
/** Pending branches at most (the kernel's BPF_COMPLEXITY_LIMIT_JMP_SEQ). */
const MAX_PENDING = 8192;
/** Fully explored states kept per instruction inside loops (the newest). */
const LOOP_DONE_STATES = 64;
/** Inside a loop, a new checkpoint needs this many instructions since the last one at the same instruction... */
const LOOP_CHECKPOINT_INSNS = 100;
/** ... or this many jumps (the kernel's thresholds in `is_state_visited`). */
const LOOP_CHECKPOINT_JMPS = 20;

/** A remembered state (the kernel's `bpf_verifier_state_list` entry). */
interface Checkpoint {
  readonly st: State;
  readonly pc: number;
  /** The checkpoint before this one on the path that created it. */
  readonly parent: Checkpoint | null;
  /** Paths still being explored from here (0: fully explored). */
  branches: number;
  /** For checkpoints inside loops: the state's hash, and the path's counters when it was made. */
  readonly hash: number;
  readonly insns: number;
  readonly jmps: number;
}

/** The checkpoints of one instruction inside a loop. */
interface LoopSlot {
  /** In progress (ancestors of the current path), oldest first. */
  readonly active: Checkpoint[];
  readonly byHash: Map<number, Checkpoint[]>;
  /** Fully explored, newest last, at most LOOP_DONE_STATES. */
  readonly done: Checkpoint[];
}

interface Path {
  st: State;
  pc: number;
  parent: Checkpoint | null;
  jmps: number;
}

/** Explore every path; returns the number of instructions processed. @throws VerifierError */
export function explore(env: Env, maxProcessed: number): number {
  const { insns, cfg } = env;
  const explored: (Checkpoint[] | undefined)[] = new Array(insns.length);
  const loopSlots: (LoopSlot | undefined)[] = cfg.hasLoops ? new Array(insns.length) : [];
  const pending: Path[] = [{ st: env.st, pc: 0, parent: null, jmps: 0 }];
  let processed = 0;

  // A path ended (exit or pruned): its checkpoints have one path less to wait for.
  const finish = (from: Checkpoint | null): void => {
    for (let cp = from; cp !== null; cp = cp.parent) {
      if (--cp.branches > 0) return;
      const slot = loopSlots[cp.pc];
      if (slot === undefined) continue;
      removeLast(slot.active, cp);
      const bucket = slot.byHash.get(cp.hash) as Checkpoint[];
      removeLast(bucket, cp);
      if (bucket.length === 0) slot.byHash.delete(cp.hash);
      slot.done.push(cp);
      if (slot.done.length > LOOP_DONE_STATES) slot.done.shift();
    }
  };

  while (pending.length > 0) {
    const path = pending.pop() as Path;
    env.st = path.st;
    let pc = path.pc;
    let parent = path.parent;
    let jmps = path.jmps;
    for (;;) {
      env.pc = pc;
      if (++processed > maxProcessed) reject(pc, 'BPF program is too complex');
      if (cfg.prunePoint[pc] === 1) {
        if (cfg.inLoop[pc] === 1) {
          let slot = loopSlots[pc];
          if (slot === undefined) {
            slot = { active: [], byHash: new Map(), done: [] };
            loopSlots[pc] = slot;
          }
          const hash = stateHash(env.st);
          for (const cp of slot.byHash.get(hash) ?? []) {
            if (statesEqual(cp.st, env.st)) reject(pc, `infinite loop detected at insn ${pc}`);
          }
          let covered = false;
          for (let k = slot.done.length - 1; k >= 0; k--) {
            if (covers((slot.done[k] as Checkpoint).st, env.st)) {
              covered = true;
              break;
            }
          }
          if (covered) break;
          const last = slot.active[slot.active.length - 1];
          if (last === undefined || processed - last.insns >= LOOP_CHECKPOINT_INSNS || jmps - last.jmps >= LOOP_CHECKPOINT_JMPS) {
            const cp: Checkpoint = { st: cloneState(env.st), pc, parent, branches: 1, hash, insns: processed, jmps };
            slot.active.push(cp);
            const bucket = slot.byHash.get(hash);
            if (bucket === undefined) slot.byHash.set(hash, [cp]);
            else bucket.push(cp);
            parent = cp;
          }
        } else {
          const list = explored[pc];
          if (list === undefined) {
            parent = checkpoint(env.st, pc, parent, jmps);
            explored[pc] = [parent];
          } else {
            let covered = false;
            // Newest first: the last one is the join, the widest.
            for (let k = list.length - 1; k >= 0; k--) {
              const cp = list[k] as Checkpoint;
              if (cp.branches === 0 && covers(cp.st, env.st)) {
                covered = true;
                break;
              }
            }
            if (covered) break;
            if (list.length < PRUNE_STATES) {
              parent = checkpoint(env.st, pc, parent, jmps);
              list.push(parent);
            } else {
              const lastCp = list[PRUNE_STATES - 1] as Checkpoint;
              const joined = lastCp.branches === 0 ? joinStates(lastCp.st, env.st, (lastCp.st.joins ?? 0) > 0) : null;
              if (joined !== null) {
                parent = { st: joined, pc, parent, branches: 1, hash: 0, insns: processed, jmps };
                list[PRUNE_STATES - 1] = parent;
                env.st = cloneState(joined);
              }
            }
          }
        }
      }
      const insn = insns[pc] as Insn;
      env.seen[pc] = 1;
      if (insn.code === LDDW_OPCODE) env.seen[pc + 1] = 1;
      const cls = insn.code & 0x07;
      switch (cls) {
        case BPF_CLASS.ALU:
        case BPF_CLASS.ALU64:
          doAlu(env, insn, cls === BPF_CLASS.ALU64);
          pc++;
          break;
        case BPF_CLASS.LDX:
          doLoad(env, insn);
          pc++;
          break;
        case BPF_CLASS.ST:
          doStore(env, insn, true);
          pc++;
          break;
        case BPF_CLASS.STX:
          if ((insn.code & 0xe0) === BPF_MODE.ATOMIC) doAtomic(env, insn);
          else doStore(env, insn, false);
          pc++;
          break;
        case BPF_CLASS.LD:
          doLd(env, insn);
          pc += 2;
          break;
        default: {
          const op = insn.code & 0xf0;
          if (op === BPF_JMP_OP.JA) {
            jmps++;
            pc = jumpTarget(insns, pc);
          } else if (op === BPF_JMP_OP.EXIT) {
            pc = doExit(env);
          } else if (op === BPF_JMP_OP.CALL) {
            if (insn.src === BPF_PSEUDO_CALL.LOCAL) pc = doLocalCall(env, insn);
            else {
              doHelperCall(env, insn);
              pc++;
            }
          } else {
            jmps++;
            const [fall, taken] = condJump(env, insn, cls === BPF_CLASS.JMP);
            const target = jumpTarget(insns, pc);
            env.branchSeen[pc] = (env.branchSeen[pc] as number) | (fall !== null ? 1 : 0) | (taken !== null ? 2 : 0);
            if (fall !== null && taken !== null) {
              if (pending.length >= MAX_PENDING) reject(pc, 'BPF program is too complex');
              const other = cloneState(env.st);
              (taken as (st: State) => void)(other);
              pending.push({ st: other, pc: target, parent, jmps });
              if (parent !== null) parent.branches++;
              fall(env.st);
              pc++;
            } else {
              const only = (fall ?? taken) as Edge;
              if (only === null) break; // cannot happen: one way is always possible
              only(env.st);
              pc = fall !== null ? pc + 1 : target;
            }
          }
        }
      }
      if (pc < 0) break;
    }
    // Ended at exit or pruned: either way this path is done.
    finish(parent);
  }
  return processed;
}

function checkpoint(st: State, pc: number, parent: Checkpoint | null, jmps: number): Checkpoint {
  return { st: cloneState(st), pc, parent, branches: 1, hash: 0, insns: 0, jmps };
}

function removeLast(list: Checkpoint[], cp: Checkpoint): void {
  const at = list.lastIndexOf(cp);
  if (at >= 0) list.splice(at, 1);
}

/** `lddw`: a 64-bit immediate, a map (pseudo source 1) or a map value (pseudo source 2). */
function doLd(env: Env, insn: Insn): void {
  const pc = env.pc;
  const mode = insn.code & 0xe0;
  if (mode !== BPF_MODE.IMM) reject(pc, 'BPF_LD_[ABS|IND] instructions not allowed for this program type');
  const hi = (env.insns[pc + 1] as Insn).imm;
  switch (insn.src) {
    case 0:
      env.write(insn.dst, scalarReg(known((BigInt(hi) << 32n) | BigInt(insn.imm >>> 0))));
      return;
    case 1:
    case 2: {
      const fd = insn.imm;
      const desc = env.maps.get(fd);
      if (desc === undefined) reject(pc, `fd ${fd} is not pointing to valid bpf_map`);
      env.mapFds.add(fd);
      if (insn.src === 1) {
        env.write(insn.dst, ptrReg('map_ptr', { ref: fd }));
        return;
      }
      if (desc.directValue !== true) reject(pc, 'direct value access on this map type is not supported');
      const off = hi >>> 0;
      if (off >= desc.valueSize) reject(pc, `invalid access to map value pointer, value_size=${desc.valueSize} off=${off}`);
      env.write(insn.dst, ptrReg('map_value', { ref: fd, size: desc.valueSize, off }));
      return;
    }
    default:
      reject(pc, `lddw with pseudo source ${insn.src} is not supported`);
  }
}
