/**
 * Control flow: subprograms, jump targets, the depth-first search that refuses loops and
 * unreachable code, and the static call graph (the kernel's `check_subprogs` and
 * `check_cfg`).
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
 * second slot of an lddw, a subprogram that can fall off its end, a loop (back-edge),
 * an unreachable instruction or a call chain of more than 8 frames.
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
    if (color[w] === 1) reject(t, `back-edge from insn ${t} to ${w}`);
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
  return { subprogStarts, subprogOf, prunePoint, calls };
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
