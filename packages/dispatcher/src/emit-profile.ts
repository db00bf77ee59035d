import {
  type Address,
  CodeBuffer,
  cmp,
  DisplacementRangeError,
  emitFallbackJump,
  fitsInt32,
  isAddress,
  jcc,
  type Label,
  toAddress,
} from '@bpf-dispatcher/x86';
import { type EmitDispatcherOptions, type FallbackJump, HALF_SIZE, emitDispatcher, fallbackJumpOf } from './emit-dispatcher.js';
import { DispatcherError, ImageTooLargeError, NotSimm32Error } from './errors.js';
import { assertCodeBuffer, describe } from './validate.js';

/*
 * Profile-guided dispatch: the dispatcher image laid out by measured call frequencies.
 * This goes beyond the kernel. Its `emit_bpf_dispatcher()` balances the binary search over
 * the addresses alone, so with 16 programs every call pays four compare levels whatever
 * the traffic; here a search tree over the same sorted addresses is chosen by dynamic
 * programming to minimise the expected cost per call under per-program weights, so that
 * the programs that carry most packets are found first.
 */

/**
 * How a {@link Dispatcher} lays out its image: `kernel` — the kernel's
 * `emit_bpf_dispatcher()`, byte for byte (the default) — or `profile`, ordered by the call
 * frequencies given with `setWeights` (see {@link planProfileDispatcher}).
 */
export type DispatcherLayout = 'kernel' | 'profile';

/**
 * Call frequencies per program address (e.g. packets per program since the last
 * measurement): a map or an iterable of `[address, weight]` pairs. Weights are finite,
 * non-negative numbers; only their ratios matter. Addresses without a weight count 0.
 */
export type ProfileWeights = ReadonlyMap<Address, number> | Iterable<readonly [Address, number]>;

/**
 * A node of the search tree behind an image, over the programs sorted as signed values
 * (`prog`, `pivot`: indexes into {@link ProfilePlan.progs}). Every subtree is the identity
 * on rdx: it jumps to the program rdx holds if that program is in its range and to the
 * fallback otherwise, so a node may hand any value to either side.
 *
 * - `leaf` — the kernel's leaf: `cmp rdx, prog; je prog; <fallback>`.
 * - `branch` — the kernel's inner node: `cmp rdx, progs[pivot]; jg upper`, the lower side
 *   (up to and including the pivot) follows, the upper side starts 16-byte aligned.
 * - `probe` — not in the kernel: `cmp rdx, prog; je prog`, then `jg upper` with the lower
 *   side following when both sides hold programs, or straight into the one side that does.
 *   A program probed at the root is reached with two instructions at the very start of the
 *   image, as in a one-entry dispatcher.
 */
export type ProfileNode =
  | { readonly kind: 'leaf'; readonly prog: number }
  | { readonly kind: 'branch'; readonly pivot: number; readonly lower: ProfileNode; readonly upper: ProfileNode }
  | { readonly kind: 'probe'; readonly prog: number; readonly lower: ProfileNode | null; readonly upper: ProfileNode | null };

/**
 * Why an image has its layout:
 * - `profile`: the profile tree is cheaper than the kernel's under the weights;
 * - `no-preference`: the weights do not tell the programs apart (all equal — uniform
 *   traffic — or all zero: no traffic yet), so the image is the kernel's;
 * - `not-cheaper`: the best tree is not strictly cheaper than the kernel's (e.g. one program);
 * - `too-large`: the profile tree would not fit the half (the kernel's does);
 * - `too-many`: more programs than {@link MAX_PROFILE_PROGS} (the search is cubic in them).
 */
export type ProfileReason = 'profile' | 'no-preference' | 'not-cheaper' | 'too-large' | 'too-many';

/** What {@link planProfileDispatcher} decided for a set of programs and weights. */
export interface ProfilePlan {
  /** The layout the image uses. */
  readonly layout: DispatcherLayout;
  /** Why (see {@link ProfileReason}). */
  readonly reason: ProfileReason;
  /** The programs in the order the tree indexes them: sorted as signed values (unsigned addresses). */
  readonly progs: readonly bigint[];
  /** Each program's weight, normalised so that the largest is 1 (all 0 when no program has weight). */
  readonly weights: readonly number[];
  /** The tree the image encodes (the kernel's binary search when `layout` is `kernel`). */
  readonly tree: ProfileNode;
  /**
   * Instructions executed in the image per call (from its first byte to the `je` that
   * leaves it), averaged over the programs by weight — or uniformly when every weight is
   * 0. Calls of unslotted programs (the fallback) are not weighed.
   */
  readonly expectedInstructions: number;
  /** The same for the kernel's layout of these programs. */
  readonly kernelInstructions: number;
  /** The cost model's value per call of this tree ({@link PROFILE_COST_MODEL}) and of the kernel's. */
  readonly cost: number;
  readonly kernelCost: number;
  /** Bytes of the image (when it starts 16-byte aligned, as a half does). */
  readonly size: number;
}

/**
 * The cost model the tree is chosen by, per call:
 *
 * - every instruction executed in the image costs `instruction` (1);
 * - every conditional branch executed costs `branch` (0.25) more: a `jcc` occupies a branch
 *   unit and a predictor entry where a `cmp` does not, so of two paths with as many
 *   instructions the one with fewer branches wins (a probe's extra `jg` is charged);
 * - every expected misprediction costs `mispredict` (10) more. Each branch is assumed to be
 *   predicted its more frequent way, so of the calls reaching it the smaller share, taken
 *   or not, mispredicts (a leaf's `je` is taken by every call that reaches it). This
 *   assumes calls independent of each other, as when the program changes from packet to
 *   packet; bursty traffic mispredicts less, and then a tree costs at most the few
 *   instructions this term traded for fewer mispredictions.
 *
 * Why 10: with it, the tree chosen for the Zipf traffic of the `zipf-profile-16` bench case
 * beats the kernel's on every count — 8.6 instructions per call against 10, and 0.92
 * expected mispredictions against 1.24 (1.47 against 1.62 if a branch is instead assumed
 * mispredicted with probability 2q(1-q)) — whereas without the term the cheapest tree
 * (6.2 instructions) would mispredict more than the kernel's (1.39); larger values trade
 * many more instructions for few fewer mispredictions (25: 9.5 instructions, 0.87). A real
 * misprediction costs far more than 10 instructions, but the estimate is only an estimate.
 *
 * The kernel's layout is costed by the same model and must be strictly beaten (by the
 * relative `margin`) before the profile layout replaces it.
 */
export const PROFILE_COST_MODEL = Object.freeze({ instruction: 1, branch: 0.25, mispredict: 10, margin: 1e-9 });

/** Programs above which the profile layout is not searched (O(n^3); a dispatcher holds at most 52, or a few more with `jmp rdx`). */
export const MAX_PROFILE_PROGS = 128;

/** Options of {@link planProfileDispatcher} and {@link emitProfileDispatcher}: the fallback as for {@link emitDispatcher}, and the byte limit. */
export type ProfileDispatcherOptions = EmitDispatcherOptions & {
  /** The profile tree is used only if its image fits this many bytes (default {@link HALF_SIZE}); else the kernel's. */
  readonly limit?: number;
};

const CMP_SIZE = 7; // cmp rdx, imm32 (48 81 FA id)
const JE_NEAR = 6; // je rel32 (0F 84 cd)
const JG_SHORT = 2; // jg rel8 (7F cb)
const JG_NEAR = 6; // jg rel32 (0F 8F cd)

/**
 * @internal Check and copy weights into a map keyed by unsigned address (what
 * `Dispatcher.setWeights` and the functions here accept).
 * @throws DispatcherError EINVAL for something that is not a map or iterable of
 *   `[address, weight]` pairs, a weight that is not a finite non-negative number, or an
 *   address given twice.
 */
export function profileWeights(weights: ProfileWeights, what: string): Map<bigint, number> {
  const bad = (message: string) => new DispatcherError('EINVAL', `${what}: ${message}`);
  if (typeof weights !== 'object' || weights === null || typeof (weights as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw bad(`weights must be a Map or an iterable of [address, weight] pairs, got ${describe(weights)}`);
  }
  const out = new Map<bigint, number>();
  let index = 0;
  try {
    for (const entry of weights as Iterable<unknown>) {
      if (!Array.isArray(entry) || entry.length < 2) throw bad(`entry ${index} must be an [address, weight] pair, got ${describe(entry)}`);
      const [address, weight] = entry as [unknown, unknown];
      if (!isAddress(address)) throw bad(`entry ${index}: ${describe(address)} is not a program address`);
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
        throw bad(`entry ${index}: the weight must be a finite number >= 0, got ${describe(weight)}`);
      }
      const key = toAddress(address);
      if (out.has(key)) throw bad(`entry ${index}: address 0x${key.toString(16)} has two weights`);
      out.set(key, weight);
      index++;
    }
  } catch (error) {
    if (error instanceof DispatcherError) throw error;
    throw new DispatcherError('EINVAL', `${what}: reading the weights failed (${error instanceof Error ? error.message : String(error)})`, {
      cause: error,
    });
  }
  return out;
}

/** Sorted signed values and their unsigned addresses. @throws NotSimm32Error / DispatcherError EINVAL. */
function sortedProgs(progs: readonly Address[], what: string): { signed: number[]; unsigned: bigint[] } {
  if (!Array.isArray(progs)) throw new DispatcherError('EINVAL', `${what}: progs must be an array of addresses, got ${describe(progs)}`);
  if (progs.length === 0) throw new DispatcherError('EINVAL', `${what}: no programs (an empty dispatcher is the trampoline nop)`);
  const signed: number[] = [];
  for (const p of progs) {
    if (!isAddress(p)) throw new DispatcherError('EINVAL', `${what}: ${String(p)} is not a program address`);
    if (!fitsInt32(p)) throw new NotSimm32Error(toAddress(p));
    signed.push(Number(BigInt.asIntN(64, BigInt(p))));
  }
  signed.sort((a, b) => a - b);
  for (let i = 1; i < signed.length; i++) {
    if (signed[i] === signed[i - 1])
      throw new DispatcherError('EINVAL', `${what}: program 0x${toAddress(signed[i] as number).toString(16)} is listed twice`);
  }
  return { signed, unsigned: signed.map((s) => toAddress(s)) };
}

/**
 * The `jg` forms of the kernel's inner nodes: near when the pivot is more than 2 entries
 * into the range, else short (emit_bpf_dispatcher's rule, which the sizes must follow).
 * Profile trees choose the form by reach instead.
 */
const kernelForms = new WeakMap<ProfileNode, typeof JG_SHORT | typeof JG_NEAR>();

/** The kernel's binary search over [a, b] as a tree (emit_bpf_dispatcher's pivot rule). */
function kernelTree(a: number, b: number): ProfileNode {
  if (a === b) return Object.freeze({ kind: 'leaf', prog: a });
  const offset = Math.floor((b - a) / 2);
  const node: ProfileNode = Object.freeze({
    kind: 'branch',
    pivot: a + offset,
    lower: kernelTree(a, a + offset),
    upper: kernelTree(a + offset + 1, b),
  });
  kernelForms.set(node, offset > 2 ? JG_NEAR : JG_SHORT);
  return node;
}

/** Instructions and conditional branches a call of each program executes in `tree`. */
function pathCounts(tree: ProfileNode, n: number): { insns: Int32Array; branches: Int32Array } {
  const insns = new Int32Array(n);
  const branches = new Int32Array(n);
  const add = (a: number, b: number, i: number, j: number) => {
    for (let k = a; k <= b; k++) {
      insns[k] = (insns[k] as number) + i;
      branches[k] = (branches[k] as number) + j;
    }
  };
  const walk = (node: ProfileNode, a: number, b: number): void => {
    if (node.kind === 'leaf') {
      add(a, b, 2, 1);
      return;
    }
    if (node.kind === 'branch') {
      add(a, b, 2, 1);
      walk(node.lower, a, node.pivot);
      walk(node.upper, node.pivot + 1, b);
      return;
    }
    const k = node.prog;
    add(k, k, 2, 1);
    const both = node.lower !== null && node.upper !== null;
    if (node.lower !== null) {
      add(a, k - 1, both ? 3 : 2, both ? 2 : 1);
      walk(node.lower, a, k - 1);
    }
    if (node.upper !== null) {
      add(k + 1, b, both ? 3 : 2, both ? 2 : 1);
      walk(node.upper, k + 1, b);
    }
  };
  walk(tree, 0, n - 1);
  return { insns, branches };
}

/**
 * Expected mispredictions of `tree`'s conditional branches per unit of weight, if each
 * branch is predicted its more frequent way: at each branch the smaller of the weights
 * going either way (a leaf's `je` is always taken by the calls that reach it).
 */
function mispredictions(tree: ProfileNode, w: readonly number[]): number {
  const pre = prefixSums(w);
  const W = (a: number, b: number) => (a > b ? 0 : (pre[b + 1] as number) - (pre[a] as number));
  let sum = 0;
  const walk = (node: ProfileNode | null, a: number, b: number): void => {
    if (node === null || node.kind === 'leaf') return;
    if (node.kind === 'branch') {
      sum += Math.min(W(a, node.pivot), W(node.pivot + 1, b));
      walk(node.lower, a, node.pivot);
      walk(node.upper, node.pivot + 1, b);
      return;
    }
    const k = node.prog;
    sum += Math.min(w[k] as number, W(a, b) - (w[k] as number));
    if (node.lower !== null && node.upper !== null) sum += Math.min(W(a, k - 1), W(k + 1, b));
    walk(node.lower, a, k - 1);
    walk(node.upper, k + 1, b);
  };
  walk(tree, 0, w.length - 1);
  return sum;
}

function prefixSums(w: readonly number[]): Float64Array {
  const pre = new Float64Array(w.length + 1);
  for (let i = 0; i < w.length; i++) pre[i + 1] = (pre[i] as number) + (w[i] as number);
  return pre;
}

/** Per-call instructions and model cost of `tree` under `weights` (uniform when every weight is 0). */
function evaluate(tree: ProfileNode, weights: readonly number[]): { instructions: number; cost: number } {
  const total = weights.reduce((a, b) => a + b, 0);
  const w = total > 0 ? weights : weights.map(() => 1);
  const sum = total > 0 ? total : w.length;
  const { insns, branches } = pathCounts(tree, w.length);
  let instructions = 0;
  let cost = 0;
  for (let i = 0; i < w.length; i++) {
    instructions += (w[i] as number) * (insns[i] as number);
    cost +=
      (w[i] as number) * (PROFILE_COST_MODEL.instruction * (insns[i] as number) + PROFILE_COST_MODEL.branch * (branches[i] as number));
  }
  cost += PROFILE_COST_MODEL.mispredict * mispredictions(tree, w);
  return { instructions: instructions / sum, cost: cost / sum };
}

/**
 * The cheapest tree under `w` (normalised weights, not all equal), by dynamic programming
 * over the ranges [a, b] of the sorted programs. cost[a][b] is the weighted cost of the
 * calls of programs a..b from the subtree's first byte; a subtree over [a, b] is a leaf
 * (a = b), a branch at some pivot, or a probe of some program k with [a, k-1] and
 * [k+1, b] below it. Ties keep the kernel's shape: the kernel's pivot is tried first and a
 * candidate must be strictly cheaper to replace it, so ranges that carry no weight get
 * the kernel's balanced subtree (the best guess for traffic not seen yet).
 */
function cheapestTree(w: readonly number[]): ProfileNode {
  const n = w.length;
  const { instruction: I, branch: B, mispredict: M } = PROFILE_COST_MODEL;
  const pre = prefixSums(w);
  const W = (a: number, b: number) => (a > b ? 0 : (pre[b + 1] as number) - (pre[a] as number));
  const cost = new Float64Array(n * n);
  // choice: >= 0 a branch at that pivot, < 0 a probe of program -1 - choice
  const choice = new Int32Array(n * n);
  const C = (a: number, b: number) => (a > b ? 0 : (cost[a * n + b] as number));
  const hit = 2 * I + B; // cmp; je (a leaf's match, or a probe's) — also a branch node's cmp; jg
  const pass = 3 * I + 2 * B; // a probe's cmp; je; jg on the way to either side
  for (let len = 1; len <= n; len++) {
    for (let a = 0; a + len <= n; a++) {
      const b = a + len - 1;
      const at = a * n + b;
      if (a === b) {
        cost[at] = hit * (w[a] as number);
        choice[at] = -1 - a;
        continue;
      }
      const total = W(a, b);
      const kernelPivot = a + Math.floor((b - a) / 2);
      let best = hit * total + M * Math.min(W(a, kernelPivot), W(kernelPivot + 1, b)) + C(a, kernelPivot) + C(kernelPivot + 1, b);
      let pick = kernelPivot;
      const better = (c: number) => c < best - 1e-12 * Math.max(1, Math.abs(best));
      for (let k = a; k < b; k++) {
        if (k === kernelPivot) continue;
        const c = hit * total + M * Math.min(W(a, k), W(k + 1, b)) + C(a, k) + C(k + 1, b);
        if (better(c)) [best, pick] = [c, k];
      }
      for (let k = a; k <= b; k++) {
        const both = k > a && k < b;
        const rest = total - (w[k] as number);
        const missed = M * (Math.min(w[k] as number, rest) + (both ? Math.min(W(a, k - 1), W(k + 1, b)) : 0));
        const c = hit * (w[k] as number) + (both ? pass : hit) * rest + missed + C(a, k - 1) + C(k + 1, b);
        if (better(c)) [best, pick] = [c, -1 - k];
      }
      cost[at] = best;
      choice[at] = pick;
    }
  }
  const build = (a: number, b: number): ProfileNode | null => {
    if (a > b) return null;
    const c = choice[a * n + b] as number;
    if (a === b) return Object.freeze({ kind: 'leaf', prog: a });
    if (c >= 0)
      return Object.freeze({ kind: 'branch', pivot: c, lower: build(a, c) as ProfileNode, upper: build(c + 1, b) as ProfileNode });
    const k = -1 - c;
    return Object.freeze({ kind: 'probe', prog: k, lower: build(a, k - 1), upper: build(k + 1, b) });
  };
  return build(0, n - 1) as ProfileNode;
}

/** Sizes of subtrees by start phase (offset mod 16), memoised per node: the layout the emitter follows. */
class Layout {
  private readonly memo = new Map<ProfileNode, Int32Array>();

  constructor(private readonly leaf: number) {}

  /** Bytes of `node`'s code when it starts at an offset congruent to `phase` mod 16. */
  size(node: ProfileNode, phase: number): number {
    let sizes = this.memo.get(node);
    if (sizes === undefined) {
      sizes = new Int32Array(16).fill(-1);
      this.memo.set(node, sizes);
    }
    const known = sizes[phase] as number;
    if (known >= 0) return known;
    const size = this.compute(node, phase);
    sizes[phase] = size;
    return size;
  }

  /**
   * The `jg upper` of a node whose head (`cmp`, and the probe's `je`) ends at `phase`:
   * short when the lower side and the alignment padding after it fit a rel8, else near.
   * Returns its size and the bytes from its end to the upper side's aligned start.
   */
  jump(node: ProfileNode, lower: ProfileNode, phase: number): { size: number; distance: number } {
    const kernelForm = kernelForms.get(node);
    for (const size of kernelForm === undefined ? [JG_SHORT, JG_NEAR] : [kernelForm]) {
      const start = (phase + size) % 16;
      const end = (start + this.size(lower, start)) % 16;
      const distance = this.size(lower, start) + ((16 - end) % 16);
      if (size !== JG_SHORT || distance <= 127 || kernelForm !== undefined) return { size, distance };
    }
    throw new Error('Layout.jump: unreachable');
  }

  private compute(node: ProfileNode, phase: number): number {
    if (node.kind === 'leaf') return this.leaf;
    const head = node.kind === 'branch' ? CMP_SIZE : CMP_SIZE + JE_NEAR;
    const { lower, upper } = node;
    if (lower !== null && upper !== null) {
      const jg = this.jump(node, lower, (phase + head) % 16);
      return head + jg.size + jg.distance + this.size(upper, 0);
    }
    const only = (lower ?? upper) as ProfileNode;
    return head + this.size(only, (phase + head) % 16);
  }
}

function leafSize(jump: FallbackJump): number {
  return CMP_SIZE + JE_NEAR + (jump.kind === 'thunk' ? 5 : 2);
}

/**
 * Decide the image of `progs` under `weights`: the cheapest search tree under the cost
 * model ({@link PROFILE_COST_MODEL}), or the kernel's binary search when the weights do
 * not tell the programs apart (all equal, all zero, none given: uniform traffic is never
 * worse off than with the kernel's image, byte for byte), when the profile tree is not
 * strictly cheaper than the kernel's, or when it would not fit `options.limit` bytes.
 *
 * Why the weights-all-equal rule and not only the cost comparison: even for uniform
 * weights some tree of probes and branches is cheaper than the kernel's under this model
 * (at 16 programs about 24 against 31.25 per call: a little because the kernel compares
 * each pair's first address twice, in the inner node and in the leaf, mostly because
 * lopsided branches mispredict less than the kernel's even ones). That gain owes nothing
 * to a profile, so the kernel's audited image stays the default, and the profile layout
 * is taken only when the weights prefer some programs to others.
 *
 * Goes beyond the kernel (whose image depends on the addresses only).
 * @throws NotSimm32Error if an address is not a sign-extended imm32; DispatcherError EINVAL
 *   for no programs, a program listed twice, bad weights or options.
 */
export function planProfileDispatcher(progs: readonly Address[], weights: ProfileWeights, options: ProfileDispatcherOptions): ProfilePlan {
  const what = 'planProfileDispatcher';
  const jump = fallbackJumpOf(options, what);
  const limit = limitOf(options, what);
  return plan(sortedProgs(progs, what).unsigned, profileWeights(weights, what), jump, limit, 0);
}

function limitOf(options: ProfileDispatcherOptions, what: string): number {
  const limit = (options as { limit?: unknown }).limit ?? HALF_SIZE;
  if (typeof limit !== 'number' || !(limit >= 0) || (!Number.isSafeInteger(limit) && limit !== Number.POSITIVE_INFINITY)) {
    throw new DispatcherError('EINVAL', `${what}: limit must be a non-negative integer, got ${describe(limit)}`);
  }
  return limit;
}

function plan(progs: readonly bigint[], given: ReadonlyMap<bigint, number>, jump: FallbackJump, limit: number, phase: number): ProfilePlan {
  const n = progs.length;
  const raw = progs.map((p) => given.get(p) ?? 0);
  const top = Math.max(...raw);
  const weights = Object.freeze(raw.map((v) => (top > 0 ? v / top : 0)));
  const kernel = kernelTree(0, n - 1);
  const layout = new Layout(leafSize(jump));
  const k = evaluate(kernel, weights);
  const make = (tree: ProfileNode, reason: ProfileReason, at: { instructions: number; cost: number }): ProfilePlan =>
    Object.freeze({
      layout: tree === kernel ? 'kernel' : 'profile',
      reason,
      progs: Object.freeze([...progs]),
      weights,
      tree,
      expectedInstructions: at.instructions,
      kernelInstructions: k.instructions,
      cost: at.cost,
      kernelCost: k.cost,
      size: layout.size(tree, phase),
    });
  if (weights.every((v) => v === weights[0])) return make(kernel, 'no-preference', k);
  if (n > MAX_PROFILE_PROGS) return make(kernel, 'too-many', k);
  const tree = cheapestTree(weights);
  const t = evaluate(tree, weights);
  if (!(t.cost < k.cost * (1 - PROFILE_COST_MODEL.margin))) return make(kernel, 'not-cheaper', k);
  if (layout.size(tree, phase) > limit) return make(kernel, 'too-large', k);
  return make(tree, 'profile', t);
}

/**
 * Expected instructions per call of `plan`'s image under other `weights` (e.g. the live
 * image's under freshly measured ones): from the image's first byte to the `je` that
 * leaves it, averaged by weight over the plan's programs (uniformly if all are 0).
 * Goes beyond the kernel.
 * @throws DispatcherError EINVAL for bad weights or something that is not a plan.
 */
export function expectedInstructions(plan: ProfilePlan, weights: ProfileWeights): number {
  if (typeof plan !== 'object' || plan === null || !Array.isArray(plan.progs) || typeof plan.tree !== 'object') {
    throw new DispatcherError('EINVAL', `expectedInstructions: plan must come from planProfileDispatcher, got ${describe(plan)}`);
  }
  const given = profileWeights(weights, 'expectedInstructions');
  return evaluate(
    plan.tree,
    plan.progs.map((p) => given.get(p) ?? 0),
  ).instructions;
}

/**
 * Emit the image of `progs` laid out by `weights` into `buf` ({@link planProfileDispatcher}
 * decides the tree): the kernel's image, byte for byte, when the plan says `kernel`;
 * otherwise the profile tree — leaves and branches as the kernel emits them, probes as
 * `cmp rdx, prog; je prog` (then `jg upper` when both sides hold programs), every `jg`
 * target 16-byte aligned with P6 nops, each `jg` short when it reaches. Like the kernel's,
 * the image is the identity on rdx: every path ends in the `je` to the program rdx holds
 * or in the fallback jump with rdx unchanged. Returns the plan.
 *
 * Goes beyond the kernel's `emit_bpf_dispatcher()` (see {@link DispatcherLayout}).
 * @throws the errors of {@link emitDispatcher} and {@link planProfileDispatcher}.
 */
export function emitProfileDispatcher(
  buf: CodeBuffer,
  progs: readonly Address[],
  weights: ProfileWeights,
  options: ProfileDispatcherOptions,
): ProfilePlan {
  const what = 'emitProfileDispatcher';
  assertCodeBuffer(buf, what);
  const jump = fallbackJumpOf(options, what);
  const limit = limitOf(options, what);
  const given = profileWeights(weights, what);
  const sorted = sortedProgs(progs, what);
  const phase = Number(buf.address() & 15n);
  const chosen = plan(sorted.unsigned, given, jump, limit, phase);
  if (chosen.layout === 'kernel') {
    emitDispatcher(buf, progs, { jump });
    return chosen;
  }
  try {
    emitTree(buf, chosen.tree, sorted.signed, jump, new Layout(leafSize(jump)));
  } catch (error) {
    if (error instanceof DisplacementRangeError) {
      throw new DispatcherError(
        'ERANGE',
        `${what}: a jump from the image at 0x${buf.base.toString(16)} does not reach its target (${error.message})`,
        { cause: error },
      );
    }
    throw error;
  }
  return chosen;
}

function emitTree(buf: CodeBuffer, node: ProfileNode, progs: readonly number[], jump: FallbackJump, layout: Layout): void {
  if (node.kind === 'leaf') {
    const prog = progs[node.prog] as number;
    cmp(buf, 'rdx', prog, 'imm32');
    jcc(buf, 'e', prog);
    emitFallbackJump(buf, jump);
    return;
  }
  let lower: ProfileNode | null;
  if (node.kind === 'branch') {
    cmp(buf, 'rdx', progs[node.pivot] as number, 'imm32');
    lower = node.lower;
  } else {
    const prog = progs[node.prog] as number;
    cmp(buf, 'rdx', prog, 'imm32');
    jcc(buf, 'e', prog);
    lower = node.lower;
  }
  const upper = node.upper;
  if (lower !== null && upper !== null) {
    const label: Label = buf.newLabel();
    const form = layout.jump(node, lower, Number(buf.address() & 15n)).size === JG_SHORT ? 'short' : 'near';
    jcc(buf, 'g', label, form);
    emitTree(buf, lower, progs, jump, layout);
    buf.align(16);
    buf.bind(label);
    emitTree(buf, upper, progs, jump, layout);
    return;
  }
  emitTree(buf, (lower ?? upper) as ProfileNode, progs, jump, layout);
}

/**
 * {@link generateImage} with a layout by weights: the image of `progs` to run at `address`
 * ({@link emitProfileDispatcher}), checked to fit `limit` bytes, with its plan. The
 * profile tree is only used if it fits `limit`; otherwise the kernel's image (which must
 * fit). Without `staging` the bytes are a fresh array; with it, a view of `staging`.
 * Goes beyond the kernel.
 * @throws ImageTooLargeError if even the kernel's image does not fit; DispatcherError
 *   EINVAL for a bad address, limit, staging buffer or weights; the errors of
 *   {@link emitDispatcher}.
 */
export function generateProfileImage(
  address: Address,
  progs: readonly Address[],
  weights: ProfileWeights,
  options: EmitDispatcherOptions,
  limit = HALF_SIZE,
  staging?: Uint8Array,
): { bytes: Uint8Array; plan: ProfilePlan } {
  const what = 'generateProfileImage';
  if (!isAddress(address))
    throw new DispatcherError('EINVAL', `${what}: address must be a bigint or safe integer, got ${describe(address)}`);
  if (!Number.isSafeInteger(limit) || limit < 0)
    throw new DispatcherError('EINVAL', `${what}: limit must be a non-negative integer, got ${describe(limit)}`);
  if (staging !== undefined && !(staging instanceof Uint8Array))
    throw new DispatcherError('EINVAL', `${what}: staging must be a Uint8Array, got ${describe(staging)}`);
  const buf = new CodeBuffer(address, staging ?? HALF_SIZE * 2);
  const chosen = emitProfileDispatcher(buf, progs, weights, { ...fallbackOptions(options, what), limit });
  const bytes = buf.finish();
  if (bytes.length > limit) throw new ImageTooLargeError(bytes.length, limit, progs.length);
  return { bytes, plan: chosen };
}

/** The fallback part of options, as `{ jump }`. */
function fallbackOptions(options: EmitDispatcherOptions, what: string): { jump: FallbackJump } {
  return { jump: fallbackJumpOf(options, what) };
}
