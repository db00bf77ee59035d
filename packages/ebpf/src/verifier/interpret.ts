/**
 * The path exploration (the kernel's `do_check`): a depth-first walk of every feasible
 * path from the entry, one abstract state per path, with states remembered at jump
 * targets so that a path whose state is covered by an explored one stops there
 * (`is_state_visited`). At a jump target that already holds PRUNE_STATES states, a new
 * uncovered state is joined with the last of them and exploration goes on with the join,
 * which bounds the work on programs with many branches at some cost in precision: the
 * first join keeps the union of scalar bounds, later ones widen scalars that still differ
 * to any value, so a jump target is explored at most PRUNE_STATES + a few times per
 * frame layout.
 */
import { BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_PSEUDO_CALL, type Insn } from '../insn.js';
import { doAlu } from './alu.js';
import { type Edge, condJump } from './branches.js';
import { doExit, doHelperCall, doLocalCall } from './calls.js';
import { jumpTarget } from './cfg.js';
import type { Env } from './env.js';
import { doAtomic, doLoad, doStore } from './memory-access.js';
import { type State, cloneState, covers, joinStates, ptrReg, scalarReg } from './reg-state.js';
import { known } from './scalar.js';
import { reject } from './types.js';

/** States remembered per jump target before new ones are joined. */
export const PRUNE_STATES = 4;
/** Pending branches at most (the kernel's BPF_COMPLEXITY_LIMIT_JMP_SEQ). */
const MAX_PENDING = 8192;

/** Explore every path; returns the number of instructions processed. @throws VerifierError */
export function explore(env: Env, maxProcessed: number): number {
  const { insns, cfg } = env;
  const explored: (State[] | undefined)[] = new Array(insns.length);
  const pending: { st: State; pc: number }[] = [{ st: env.st, pc: 0 }];
  let processed = 0;
  while (pending.length > 0) {
    const item = pending.pop() as { st: State; pc: number };
    env.st = item.st;
    let pc = item.pc;
    for (;;) {
      env.pc = pc;
      if (++processed > maxProcessed) reject(pc, 'BPF program is too complex');
      if (cfg.prunePoint[pc] === 1) {
        const list = explored[pc];
        if (list === undefined) {
          explored[pc] = [cloneState(env.st)];
        } else {
          let covered = false;
          // Newest first: the last one is the join, the widest.
          for (let k = list.length - 1; k >= 0; k--) {
            if (covers(list[k] as State, env.st)) {
              covered = true;
              break;
            }
          }
          if (covered) break;
          if (list.length < PRUNE_STATES) {
            list.push(cloneState(env.st));
          } else {
            const last = list[PRUNE_STATES - 1] as State;
            const joined = joinStates(last, env.st, (last.joins ?? 0) > 0);
            if (joined !== null) {
              list[PRUNE_STATES - 1] = joined;
              env.st = cloneState(joined);
            }
          }
        }
      }
      const insn = insns[pc] as Insn;
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
            const [fall, taken] = condJump(env, insn, cls === BPF_CLASS.JMP);
            const target = jumpTarget(insns, pc);
            if (fall !== null && taken !== null) {
              if (pending.length >= MAX_PENDING) reject(pc, 'BPF program is too complex');
              const other = cloneState(env.st);
              (taken as (st: State) => void)(other);
              pending.push({ st: other, pc: target });
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
  }
  return processed;
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
