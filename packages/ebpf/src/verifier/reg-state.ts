/**
 * Register and stack state of one path (the kernel's `bpf_reg_state`, `bpf_func_state`
 * and `bpf_verifier_state`), with the comparison that prunes a path already covered by
 * one explored before (`states_equal`) and the join that widens states at a busy
 * instruction.
 */
import { type Scalar, UNKNOWN, known, make, scalarContains, scalarJoin } from './scalar.js';

/**
 * Register types, named as the kernel's verifier log names them: `fp` is a pointer into a
 * stack frame, `mem` into the memory buffer of the memory program type, `pkt`/`pkt_meta`
 * into the packet (range proven by comparisons), `pkt_end` its end, `map_ptr` a map,
 * `map_value` an element value (after the NULL check of a `map_value_or_null`).
 */
export type RegType =
  | 'not_init'
  | 'scalar'
  | 'ctx'
  | 'fp'
  | 'mem'
  | 'pkt'
  | 'pkt_meta'
  | 'pkt_end'
  | 'map_ptr'
  | 'map_value'
  | 'map_value_or_null';

/**
 * One register. Scalars keep their bounds in `v`; pointers keep a fixed offset `off` and
 * the bounds of a variable offset in `v` (known 0 when there is none).
 */
export interface Reg {
  readonly type: RegType;
  readonly v: Scalar;
  readonly off: number;
  /** Packet pointer id (pointers with the same id share a proven range) or map value id (shared NULL check). */
  readonly id: number;
  /** Packet bytes proven readable from the pointer's base: [base, base + range). */
  readonly range: number;
  /** Stack frame index for `fp`; map fd for map types. */
  readonly ref: number;
  /** Size of the memory behind `mem` / `map_value` / `map_value_or_null`. */
  readonly size: number;
}

const ZERO = known(0n);

/** A register that was never written (reading it is "R%d !read_ok"). */
export const NOT_INIT: Reg = Object.freeze({ type: 'not_init', v: ZERO, off: 0, id: 0, range: 0, ref: 0, size: 0 });
/** An unknown 64-bit scalar. */
export const UNKNOWN_REG: Reg = Object.freeze({ type: 'scalar', v: UNKNOWN, off: 0, id: 0, range: 0, ref: 0, size: 0 });

/** A scalar register with bounds `v`. */
export function scalarReg(v: Scalar): Reg {
  return v === UNKNOWN ? UNKNOWN_REG : { type: 'scalar', v, off: 0, id: 0, range: 0, ref: 0, size: 0 };
}

/** A pointer register. */
export function ptrReg(type: RegType, fields: Partial<Omit<Reg, 'type'>> = {}): Reg {
  return {
    type,
    v: fields.v ?? ZERO,
    off: fields.off ?? 0,
    id: fields.id ?? 0,
    range: fields.range ?? 0,
    ref: fields.ref ?? 0,
    size: fields.size ?? 0,
  };
}

/** True for every type but scalar and not_init. */
export function isPointer(r: Reg): boolean {
  return r.type !== 'scalar' && r.type !== 'not_init';
}

/** The maximum stack of one frame in bytes (the kernel's MAX_BPF_STACK). */
export const MAX_BPF_STACK = 512;

/** One call frame: registers, its 512-byte stack, and where it returns to. */
export interface Frame {
  regs: Reg[];
  /**
   * Per 8-byte stack slot (index 0 = r10-512): a bit mask of the bytes written (the
   * kernel's slot_type: 0 bits are STACK_INVALID, 1 bits STACK_MISC or STACK_SPILL).
   */
  written: number[];
  /** Spilled registers by 8-byte slot (the kernel's STACK_SPILL): a full 8-byte store of a register. */
  spills: (Reg | undefined)[];
  /**
   * Narrow constants by 8-byte slot: a store of fewer than 8 bytes of a known scalar (the
   * kernel's narrow spill of a constant), as long as nothing else wrote that slot since.
   * What a map lookup's constant key is made of.
   */
  narrow: (NarrowConst | undefined)[];
  /** Index (in bytes from r10-512) of the lowest byte ever written (512: none). */
  stackLo: number;
  /** The call instruction that created this frame (-1 for the main program). */
  readonly callsite: number;
  /** Subprogram index. */
  readonly subprog: number;
}

/**
 * A known constant of `size` bytes (1, 2 or 4) at byte `start` of a stack slot. `used` is
 * set once a load or a map key read took the value (shared by every state copied from the
 * store on): only then must a state that prunes another agree on it, so that constants no
 * decision depended on do not multiply the states (the kernel's precision marking, reduced).
 */
export interface NarrowConst {
  readonly start: number;
  readonly size: number;
  /** The stored bytes as an unsigned number. */
  readonly value: bigint;
  used: boolean;
}

function narrowEqual(a: NarrowConst | undefined, b: NarrowConst | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.start === b.start && a.size === b.size && a.value === b.value);
}

/** The state of one path: its frames, innermost last. */
export interface State {
  frames: Frame[];
  /** How many joins produced this state (0 or absent: a state of one path). */
  joins?: number;
}

/** A fresh frame. */
export function newFrame(callsite: number, subprog: number): Frame {
  return {
    regs: new Array<Reg>(11).fill(NOT_INIT),
    written: new Array<number>(64).fill(0),
    spills: new Array(64).fill(undefined),
    narrow: new Array(64).fill(undefined),
    stackLo: MAX_BPF_STACK,
    callsite,
    subprog,
  };
}

/** A deep copy (registers are immutable, so arrays are copied, not registers). */
export function cloneState(s: State): State {
  return {
    frames: s.frames.map((f) => ({
      regs: f.regs.slice(),
      written: f.written.slice(),
      spills: f.spills.slice(),
      narrow: f.narrow.slice(),
      stackLo: f.stackLo,
      callsite: f.callsite,
      subprog: f.subprog,
    })),
  };
}

/** Apply `fn` to every register and spilled register of every frame (e.g. to invalidate packet pointers). */
export function mapAllRegs(s: State, fn: (r: Reg) => Reg): void {
  for (const f of s.frames) {
    for (let i = 0; i < 11; i++) f.regs[i] = fn(f.regs[i] as Reg);
    for (let i = 0; i < 64; i++) {
      const r = f.spills[i];
      if (r !== undefined) f.spills[i] = fn(r);
    }
  }
}

/**
 * Whether every behaviour of `cur` is covered by the already explored `old` (the
 * kernel's `states_equal` with `regsafe`/`stacksafe`): same frames and call sites; each
 * register of `old` is either never read (not_init) or at least as general as `cur`'s;
 * a pointer's ids correspond one way (`old` ids to `cur` ids) so a NULL check or a
 * packet range applies to the same registers.
 */
export function covers(old: State, cur: State): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  const idmap = new Map<number, number>();
  for (let fi = 0; fi < old.frames.length; fi++) {
    const fo = old.frames[fi] as Frame;
    const fc = cur.frames[fi] as Frame;
    if (fo.callsite !== fc.callsite) return false;
    for (let r = 0; r < 11; r++) if (!regCovers(fo.regs[r] as Reg, fc.regs[r] as Reg, idmap)) return false;
    for (let slot = Math.min(fo.stackLo, fc.stackLo) >> 3; slot < 64; slot++) {
      // Bytes old had written must be written in cur (else cur may read uninitialised stack unseen).
      if (((fo.written[slot] as number) & ~(fc.written[slot] as number)) !== 0) return false;
      // A constant old's continuation relied on must be the same in cur.
      if (fo.narrow[slot]?.used === true && !narrowEqual(fo.narrow[slot], fc.narrow[slot])) return false;
      const so = fo.spills[slot];
      const sc = fc.spills[slot];
      if (so !== undefined) {
        if (sc === undefined || !regCovers(so, sc, idmap)) return false; // old knew a spilled register
      } else if (sc !== undefined && sc.type !== 'scalar') {
        return false; // old read plain data where cur holds a pointer
      }
    }
  }
  return true;
}

function mapId(old: number, cur: number, idmap: Map<number, number>): boolean {
  const seen = idmap.get(old);
  if (seen === undefined) {
    idmap.set(old, cur);
    return true;
  }
  return seen === cur;
}

function regCovers(o: Reg, c: Reg, idmap: Map<number, number>): boolean {
  if (o.type === 'not_init') return true;
  if (o.type !== c.type) return false;
  if (o.type === 'scalar') return o.v === c.v || scalarContains(o.v, c.v);
  if (o.off !== c.off || o.ref !== c.ref || o.size !== c.size) return false;
  if (!(o.v === c.v || scalarContains(o.v, c.v))) return false;
  switch (o.type) {
    case 'pkt':
    case 'pkt_meta':
      return c.range >= o.range && mapId(o.id, c.id, idmap);
    case 'map_value_or_null':
    case 'map_value':
      return mapId(o.id, c.id, idmap);
    default:
      return true;
  }
}

/**
 * A state covering both `a` and `b` (same frames and call sites required; else null):
 * scalars by the union of their bounds (`widen`: bounds that grow go out to the next
 * threshold, see `widenScalar`), pointers kept where they agree (pointers into the same
 * map value or memory at different offsets become one pointer with a variable offset)
 * and made unreadable (not_init) where they do not, packet ranges by the smaller one.
 */
export function joinStates(a: State, b: State, widen: boolean): State | null {
  if (a.frames.length !== b.frames.length) return null;
  const out = cloneState(a);
  out.joins = (a.joins ?? 0) + 1;
  const idmap: IdBijection = { fwd: new Map(), rev: new Map() };
  for (let fi = 0; fi < a.frames.length; fi++) {
    const fa = a.frames[fi] as Frame;
    const fb = b.frames[fi] as Frame;
    const fo = out.frames[fi] as Frame;
    if (fa.callsite !== fb.callsite) return null;
    for (let r = 0; r < 11; r++) fo.regs[r] = joinReg(fa.regs[r] as Reg, fb.regs[r] as Reg, idmap, widen);
    fo.stackLo = Math.min(fa.stackLo, fb.stackLo);
    for (let slot = fo.stackLo >> 3; slot < 64; slot++) {
      fo.written[slot] = (fa.written[slot] as number) & (fb.written[slot] as number);
      if (!narrowEqual(fa.narrow[slot], fb.narrow[slot])) fo.narrow[slot] = undefined;
      const sa = fa.spills[slot];
      const sb = fb.spills[slot];
      if (sa === undefined && sb === undefined) continue;
      const j = sa !== undefined && sb !== undefined ? joinReg(sa, sb, idmap, widen) : NOT_INIT;
      // Where they disagree the slot holds plain data (a spilled pointer on one side is read as a number).
      fo.spills[slot] = j.type === 'not_init' ? undefined : j;
    }
  }
  return out;
}

interface IdBijection {
  fwd: Map<number, number>;
  rev: Map<number, number>;
}

function biMapId(b: number, a: number, m: IdBijection): boolean {
  const f = m.fwd.get(b);
  const r = m.rev.get(a);
  if (f === undefined && r === undefined) {
    m.fwd.set(b, a);
    m.rev.set(a, b);
    return true;
  }
  return f === a && r === b;
}

function joinReg(a: Reg, b: Reg, idmap: IdBijection, widen: boolean): Reg {
  if (a.type !== b.type) return NOT_INIT;
  if (a.type === 'scalar') {
    if (a.v === b.v) return a;
    // widening (a ∇ b): a scalar whose bounds b does not extend keeps them
    if (scalarContains(a.v, b.v)) return a;
    return scalarReg(widen ? widenScalar(a.v, scalarJoin(a.v, b.v)) : scalarJoin(a.v, b.v));
  }
  if (a.type === 'not_init') return NOT_INIT;
  if (a.off !== b.off && (a.type === 'map_value' || a.type === 'mem') && a.ref === b.ref && a.size === b.size) return joinOffsets(a, b, idmap);
  if (a.off !== b.off || a.ref !== b.ref || a.size !== b.size) return NOT_INIT;
  if (
    (a.type === 'pkt' || a.type === 'pkt_meta' || a.type === 'map_value' || a.type === 'map_value_or_null') &&
    !biMapId(b.id, a.id, idmap)
  ) {
    return NOT_INIT;
  }
  if (a === b) return a;
  return { ...a, v: scalarJoin(a.v, b.v), range: Math.min(a.range, b.range) };
}

/** 2^k - 1 for the smallest k with 2^k - 1 >= x (x >= 0). */
function allOnes(x: bigint): bigint {
  let m = 0n;
  while (m < x) m = (m << 1n) | 1n;
  return m;
}

/**
 * Widening with thresholds: each bound of `hull` that moved past `old`'s goes out to the
 * next threshold — minimums to 0 (or, signed and negative, to -2^k), maximums to 2^k - 1
 * — so that a bound moves at most 65 times, while small ranges of small values (a
 * verdict 0..3, an index 0..7) stay exact.
 */
function widenScalar(old: Scalar, hull: Scalar): Scalar {
  const umin = hull.umin < old.umin ? 0n : old.umin;
  const umax = hull.umax > old.umax ? allOnes(hull.umax) : old.umax;
  const smin = hull.smin < old.smin ? (hull.smin >= 0n ? 0n : -allOnes(-hull.smin - 1n) - 1n) : old.smin;
  const smax = hull.smax > old.smax ? (hull.smax < 0n ? -1n : allOnes(hull.smax)) : old.smax;
  return make(umin, umax, smin, smax) ?? UNKNOWN;
}

/**
 * Two pointers into the same map value (or memory) at different fixed offsets: one pointer
 * at the lower offset whose variable part covers both (the kernel's var_off), when both
 * variable parts are small non-negative ranges; else not_init.
 */
function joinOffsets(a: Reg, b: Reg, idmap: IdBijection): Reg {
  if (a.type === 'map_value' && !biMapId(b.id, a.id, idmap)) return NOT_INIT;
  const limit = 1n << 32n;
  if (a.v.smin < 0n || b.v.smin < 0n || a.v.umax >= limit || b.v.umax >= limit) return NOT_INIT;
  const base = Math.min(a.off, b.off);
  const shift = (r: Reg) => {
    const d = BigInt(r.off - base);
    return make(r.v.umin + d, r.v.umax + d, r.v.smin + d, r.v.smax + d) as Scalar;
  };
  return { ...a, off: base, v: scalarJoin(shift(a), shift(b)) };
}

/**
 * Whether two states are identical: same frames and call sites, registers of the same
 * type with the same bounds, offsets, ids and ranges, the same stack bytes written and
 * the same spilled registers. The kernel's `states_equal` in its exact mode, the test
 * for an infinite loop (every scalar is treated as precise: this verifier does not track
 * precision).
 */
export function statesEqual(a: State, b: State): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let fi = 0; fi < a.frames.length; fi++) {
    const fa = a.frames[fi] as Frame;
    const fb = b.frames[fi] as Frame;
    if (fa.callsite !== fb.callsite) return false;
    for (let r = 0; r < 11; r++) if (!regEqual(fa.regs[r] as Reg, fb.regs[r] as Reg)) return false;
    for (let slot = Math.min(fa.stackLo, fb.stackLo) >> 3; slot < 64; slot++) {
      if (fa.written[slot] !== fb.written[slot]) return false;
      if (!narrowEqual(fa.narrow[slot], fb.narrow[slot])) return false;
      const sa = fa.spills[slot];
      const sb = fb.spills[slot];
      if (sa === sb) continue;
      if (sa === undefined || sb === undefined || !regEqual(sa, sb)) return false;
    }
  }
  return true;
}

function scalarEqual(a: Scalar, b: Scalar): boolean {
  return a === b || (a.umin === b.umin && a.umax === b.umax && a.smin === b.smin && a.smax === b.smax);
}

function regEqual(a: Reg, b: Reg): boolean {
  if (a === b) return true;
  if (a.type !== b.type) return false;
  if (a.type === 'not_init') return true;
  return a.off === b.off && a.id === b.id && a.range === b.range && a.ref === b.ref && a.size === b.size && scalarEqual(a.v, b.v);
}

const TYPE_CODES: Readonly<Record<RegType, number>> = {
  not_init: 1,
  scalar: 2,
  ctx: 3,
  fp: 4,
  mem: 5,
  pkt: 6,
  pkt_meta: 7,
  pkt_end: 8,
  map_ptr: 9,
  map_value: 10,
  map_value_or_null: 11,
};

function mix(h: number, x: number): number {
  return Math.imul((h ^ x) >>> 0, 0x9e3779b1) ^ (h >>> 15);
}

function scalarHash(v: Scalar): number {
  // The low 32 bits of each unsigned bound: what changes from one loop iteration to the next.
  const lo = Number(BigInt.asUintN(32, v.umin));
  return v.umin === v.umax ? lo : mix(lo, Number(BigInt.asUintN(32, v.umax)));
}

function regHash(r: Reg): number {
  const t = TYPE_CODES[r.type];
  if (r.type === 'not_init') return t;
  return mix(mix(mix(t, r.off), r.id ^ (r.ref << 8) ^ (r.range << 16)), scalarHash(r.v));
}

/** A hash of a state, equal for states that {@link statesEqual} finds equal. */
export function stateHash(s: State): number {
  let h = s.frames.length;
  for (const f of s.frames) {
    h = mix(h, f.callsite);
    for (let r = 0; r < 11; r++) h = mix(h, regHash(f.regs[r] as Reg));
    // From the lowest slot written: below it every slot is empty in both of two equal states.
    for (let slot = f.stackLo >> 3; slot < 64; slot++) {
      const w = f.written[slot] as number;
      const sp = f.spills[slot];
      if (w !== 0) h = mix(h, w + slot * 256);
      if (sp !== undefined) h = mix(h, regHash(sp));
    }
  }
  return h >>> 0;
}
