/**
 * Control flow: subprograms, jump targets, the depth-first search that finds loops
 * (back-edges), refuses recursion and unreachable code, and the static call graph (the
 * kernel's `check_subprogs` and `check_cfg`). Loops are allowed here, as the kernel allows
 * them for privileged programs since Linux 5.3: the path exploration then has to prove
 * that each one terminates (see `interpret.ts`).
 */
import { BPF_CLASS, BPF_JMP_OP, BPF_PSEUDO_CALL, type Insn } from '../insn.js';
import { checkInsnEncoding } from './opcodes.js';
import { reject } from './types.js';

/** Maximum number of frames of a call chain (the kernel's MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;

/** The control-flow facts the abstract interpretation and the result need. */
export interface ControlFlow {
  /** Entry points of the subprograms, ascending; `[0]` is 0. */
  readonly subprogStarts: readonly number[];
  /** For each slot: the index of its subprogram in `subprogStarts` (-1 for an lddw second slot). */
  readonly subprogOf: Int32Array;
  /** For each slot: 1 if the abstract interpretation should remember states there (a jump target). */
  readonly prunePoint: Uint8Array;
  /** Callees of each subprogram: pairs of (call instruction, callee subprogram). */
  readonly calls: readonly (readonly [number, number])[][];
  /**
   * For each slot: 1 if one path may run it more than once with the same call chain: it
   * lies on a cycle of its subprogram's control flow, or in a subprogram called
   * (directly or not) from such an instruction. States there are never joined or
   * widened, so that the exploration can prove each loop terminates.
   */
  readonly inLoop: Uint8Array;
  /** Whether the program has a back-edge at all. */
  readonly hasLoops: boolean;
}

const JMP = BPF_CLASS.JMP;
const JMP32 = BPF_CLASS.JMP32;

function isJa(insn: Insn): boolean {
  return insn.code === (JMP | BPF_JMP_OP.JA) || insn.code === (JMP32 | BPF_JMP_OP.JA);
}

function isExit(insn: Insn): boolean {
  return insn.code === (JMP | BPF_JMP_OP.EXIT);
}

/** True for a BPF-to-BPF call (`call` with pseudo source 1). */
export function isLocalCall(insn: Insn): boolean {
  return insn.code === (JMP | BPF_JMP_OP.CALL) && insn.src === BPF_PSEUDO_CALL.LOCAL;
}

/** True for a conditional jump (JMP or JMP32 class, not ja/call/exit). */
export function isCondJump(insn: Insn): boolean {
  const cls = insn.code & 0x07;
  if (cls !== JMP && cls !== JMP32) return false;
  const op = insn.code & 0xf0;
  return op !== BPF_JMP_OP.JA && op !== BPF_JMP_OP.CALL && op !== BPF_JMP_OP.EXIT;
}

/** Target of a jump at `i` (ja, gotol or a conditional jump). */
export function jumpTarget(insns: readonly Insn[], i: number): number {
  const insn = insns[i] as Insn;
  return insn.code === (JMP32 | BPF_JMP_OP.JA) ? i + insn.imm + 1 : i + insn.off + 1;
}

/**
 * Check the encoding of every instruction and the shape of the control flow.
 * @throws VerifierError for a bad encoding, a jump out of its subprogram or into the
 * second slot of an lddw, a subprogram that can fall off its end, a recursive call, an
 * unreachable instruction or a call chain of more than 8 frames.
 */
export function analyzeControlFlow(insns: readonly Insn[]): ControlFlow {
  const n = insns.length;
  // Pass 1: encodings, second slots of lddw, subprogram entries.
  const second = new Uint8Array(n);
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; ) {
    const slots = checkInsnEncoding(insns, i);
    if (slots === 2) second[i + 1] = 1;
    const insn = insns[i] as Insn;
    if (isLocalCall(insn)) {
      const t = i + insn.imm + 1;
      if (t < 0 || t >= n) reject(i, `call to invalid destination ${t}`);
      starts.add(t);
    }
    i += slots;
  }
  const subprogStarts = [...starts].sort((a, b) => a - b);
  for (const t of subprogStarts) if (second[t] === 1) reject(t - 1, `call into the middle of ldimm64 insn ${t - 1}`);
  const subprogOf = new Int32Array(n).fill(-1);
  for (let s = 0; s < subprogStarts.length; s++) {
    const end = subprogStarts[s + 1] ?? n;
    for (let i = subprogStarts[s] as number; i < end; i++) if (second[i] === 0) subprogOf[i] = s;
  }
  // Pass 2: jumps stay inside their subprogram and land on a first slot; every
  // subprogram ends with exit or ja.
  const preds = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    if (second[i] === 1) continue;
    const insn = insns[i] as Insn;
    const s = subprogOf[i] as number;
    const lo = subprogStarts[s] as number;
    const hi = subprogStarts[s + 1] ?? n;
    if (isJa(insn) || isCondJump(insn)) {
      const t = jumpTarget(insns, i);
      if (t < lo || t >= hi) reject(i, `jump out of range from insn ${i} to ${t}`);
      if (second[t] === 1) reject(i, `jump into the middle of ldimm64 insn ${t - 1}`);
      preds[t] = Math.min(0xffff, (preds[t] as number) + 1);
    }
  }
  for (let s = 0; s < subprogStarts.length; s++) {
    const last = (subprogStarts[s + 1] ?? n) - 1;
    const insn = insns[last - (second[last] === 1 ? 1 : 0)] as Insn;
    if (second[last] === 1 || !(isExit(insn) || isJa(insn))) reject(last, 'last insn is not an exit or jmp');
  }
  // Pass 3: depth-first search from insn 0, following calls into their callees.
  // Each stack entry is a node and how many of its (at most two) successors were taken.
  const color = new Uint8Array(n); // 0 unvisited, 1 on the DFS stack, 2 done
  let hasLoops = false;
  const stackNode = new Int32Array(n + 1);
  const stackEdge = new Uint8Array(n + 1);
  let sp = 0;
  stackNode[0] = 0;
  stackEdge[0] = 0;
  color[0] = 1;
  while (sp >= 0) {
    const t = stackNode[sp] as number;
    const e = stackEdge[sp] as number;
    const w = successor(insns, t, e);
    if (w < 0) {
      color[t] = 2;
      sp--;
      continue;
    }
    stackEdge[sp] = e + 1;
    if (color[w] === 1) {
      // A back-edge: a loop, left to the path exploration; through a call, recursion.
      if (isLocalCall(insns[t] as Insn) && e === 0) reject(t, `recursive call from insn ${t} to ${w}`);
      hasLoops = true;
    }
    if (color[w] === 0) {
      color[w] = 1;
      sp++;
      stackNode[sp] = w;
      stackEdge[sp] = 0;
    }
  }
  for (let i = 0; i < n; i++) if (second[i] === 0 && color[i] === 0) reject(i, `unreachable insn ${i}`);
  // Call graph and the depth of call chains.
  const calls: [number, number][][] = subprogStarts.map(() => []);
  for (let i = 0; i < n; i++) {
    const insn = insns[i] as Insn;
    if (second[i] === 0 && isLocalCall(insn)) {
      (calls[subprogOf[i] as number] as [number, number][]).push([i, subprogOf[i + insn.imm + 1] as number]);
    }
  }
  checkCallDepth(calls);
  const prunePoint = new Uint8Array(n);
  for (let i = 0; i < n; i++) if ((preds[i] as number) > 0) prunePoint[i] = 1;
  for (const s of subprogStarts) prunePoint[s] = 1;
  const inLoop = hasLoops ? loopSlots(insns, second, subprogStarts, subprogOf, calls) : new Uint8Array(n);
  return { subprogStarts, subprogOf, prunePoint, calls, inLoop, hasLoops };
}

/** Successors of `t` inside its subprogram (a local call continues at the next slot). */
function localSuccessors(insns: readonly Insn[], t: number, out: number[]): void {
  out.length = 0;
  const insn = insns[t] as Insn;
  if (isExit(insn)) return;
  if (isJa(insn)) out.push(jumpTarget(insns, t));
  else if (isCondJump(insn)) out.push(t + 1, jumpTarget(insns, t));
  else out.push(insn.code === 0x18 ? t + 2 : t + 1);
}

/**
 * The slots of {@link ControlFlow.inLoop}: strongly connected components of each
 * subprogram's control flow (Tarjan's algorithm, iterative) with a cycle, then every
 * subprogram reachable by calls from them.
 */
function loopSlots(
  insns: readonly Insn[],
  second: Uint8Array,
  subprogStarts: readonly number[],
  subprogOf: Int32Array,
  calls: readonly (readonly [number, number])[][],
): Uint8Array {
  const n = insns.length;
  const inLoop = new Uint8Array(n);
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const sccStack: number[] = [];
  const succs: number[][] = new Array(n);
  const tmp: number[] = [];
  for (let i = 0; i < n; i++) {
    if (second[i] === 1) continue;
    localSuccessors(insns, i, tmp);
    succs[i] = tmp.slice();
  }
  let counter = 0;
  const work: number[] = []; // pairs (node, next successor position)
  for (let root = 0; root < n; root++) {
    if (second[root] === 1 || index[root] !== -1) continue;
    work.push(root, 0);
    index[root] = low[root] = counter++;
    sccStack.push(root);
    onStack[root] = 1;
    while (work.length > 0) {
      const v = work[work.length - 2] as number;
      const k = work[work.length - 1] as number;
      const sv = succs[v] as number[];
      if (k < sv.length) {
        work[work.length - 1] = k + 1;
        const w = sv[k] as number;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          sccStack.push(w);
          onStack[w] = 1;
          work.push(w, 0);
        } else if (onStack[w] === 1 && (index[w] as number) < (low[v] as number)) {
          low[v] = index[w] as number;
        }
        continue;
      }
      work.length -= 2;
      if (work.length > 0) {
        const parent = work[work.length - 2] as number;
        if ((low[v] as number) < (low[parent] as number)) low[parent] = low[v] as number;
      }
      if (low[v] === index[v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = sccStack.pop() as number;
          onStack[w] = 0;
          members.push(w);
        } while (w !== v);
        if (members.length > 1 || sv.includes(v)) for (const m of members) inLoop[m] = 1;
      }
    }
  }
  // Subprograms called from a loop run again at each iteration, with the same call chain.
  const loopy = new Uint8Array(subprogStarts.length);
  const todo: number[] = [];
  for (let s = 0; s < calls.length; s++) {
    for (const [at, callee] of calls[s] ?? []) {
      if (inLoop[at] === 1 && loopy[callee] === 0) {
        loopy[callee] = 1;
        todo.push(callee);
      }
    }
  }
  while (todo.length > 0) {
    const s = todo.pop() as number;
    for (const [, callee] of calls[s] ?? []) {
      if (loopy[callee] === 0) {
        loopy[callee] = 1;
        todo.push(callee);
      }
    }
  }
  for (let i = 0; i < n; i++) if (subprogOf[i] !== -1 && loopy[subprogOf[i] as number] === 1) inLoop[i] = 1;
  return inLoop;
}

/** The `e`-th successor of instruction `t` in the order the DFS takes them, or -1. */
function successor(insns: readonly Insn[], t: number, e: number): number {
  const insn = insns[t] as Insn;
  if (isExit(insn)) return -1;
  if (isJa(insn)) return e === 0 ? jumpTarget(insns, t) : -1;
  if (isCondJump(insn)) return e === 0 ? t + 1 : e === 1 ? jumpTarget(insns, t) : -1;
  if (isLocalCall(insn)) return e === 0 ? t + insn.imm + 1 : e === 1 ? t + 1 : -1;
  if (e !== 0) return -1;
  return insn.code === 0x18 ? t + 2 : t + 1;
}

/** Longest call chain of the (acyclic) call graph, refused past MAX_CALL_FRAMES. */
function checkCallDepth(calls: readonly (readonly [number, number])[][]): void {
  const depth = new Int32Array(calls.length).fill(-1); // frames of the longest chain starting at s
  const visit = (s: number): number => {
    const known = depth[s] as number;
    if (known >= 0) return known;
    let best = 1;
    for (const [at, callee] of calls[s] ?? []) {
      const d = 1 + visit(callee);
      if (d > MAX_CALL_FRAMES) reject(at, `the call stack of ${d} frames is too deep !`);
      best = Math.max(best, d);
    }
    depth[s] = best;
    return best;
  };
  visit(0);
}
