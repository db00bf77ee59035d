/**
 * Program generators and mutators for the safety fuzzer (see `scripts/fuzz.mjs`): the
 * user-space counterpart of syzkaller's BPF program generation. Three sources:
 *
 * - {@link randomProgram}: instruction soup over every opcode byte and every field (a tenth
 *   fully random, the rest biased toward valid encodings: known opcodes, registers
 *   r0..r10, small offsets, interesting immediates, forward jumps);
 * - {@link structuredProgram}: programs shaped like real ones (registers initialised,
 *   in-bounds and at-the-edge accesses to the memory or packet, stack use, variable
 *   offsets bounded by masks or comparisons, forward branches, counted loops, helper
 *   calls), which the verifier accepts often, so native runs get exercised;
 * - {@link mutate}: bit flips, field replacements, insertions, deletions, swaps and
 *   duplications applied to a valid program (from the corpus or the structured generator).
 *
 * Everything is a pure function of an {@link Rng}, so a program is reproducible from its
 * seed and index.
 */
import type { Insn } from '../insn.js';
import type { Rng } from './rng.js';

/** Which program type a generated program targets. */
export type FuzzTarget = 'memory' | 'xdp';

/** A generated program: its instructions, the program type and the memory size (memory type). */
export interface FuzzProgram {
  readonly insns: Insn[];
  readonly target: FuzzTarget;
  /** Size of the memory (memory type) or packet (xdp) the program runs on. */
  readonly size: number;
  /** How it was made: `random`, `structured`, `mutated-corpus` or `mutated-structured`. */
  readonly source: string;
}

const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
const JMP_CONDS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
const SIZE_BITS = [0x18, 0x00, 0x08, 0x10]; // dw, w, h, b
const SIZE_BYTES = [8, 4, 2, 1];
const ATOMIC_IMMS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];
const HELPERS = [1, 2, 3, 5, 7, 8, 44, 54, 65];
const INTERESTING_IMMS = [
  0, 1, -1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x7fff_ffff, -0x8000_0000, -512, 512, 4096,
];
const INTERESTING_OFFS = [0, 1, -1, 2, 4, 8, 12, 14, 16, -8, -16, -512, -513, -511, 511, 512, 0x7fff, -0x8000, 63, 64, 65];
/** Memory sizes programs of the memory type run on: 0, odd sizes, page-sized. */
export const FUZZ_MEMORY_SIZES: readonly number[] = [0, 1, 3, 8, 13, 14, 20, 64, 100, 256, 1500, 4096];

/** Every opcode byte that some valid program uses. */
export const VALID_OPCODES: readonly number[] = (() => {
  const codes: number[] = [];
  for (const cls of [0x04, 0x07]) {
    for (const op of ALU_OPS) codes.push(cls | op, cls | op | 0x08);
    codes.push(cls | 0x80);
  }
  codes.push(0xd4, 0xdc, 0xd7);
  for (const cls of [0x05, 0x06]) for (const op of JMP_CONDS) codes.push(cls | op, cls | op | 0x08);
  codes.push(0x05, 0x06, 0x85, 0x95, 0x18);
  for (const s of SIZE_BITS) codes.push(0x61 | s, 0x62 | s, 0x63 | s);
  codes.push(0x81, 0x89, 0x91, 0xc3, 0xdb);
  return codes;
})();

const BY_CLASS: number[][] = Array.from({ length: 8 }, (_, cls) => {
  const codes = VALID_OPCODES.filter((c) => (c & 7) === cls);
  return codes.length > 0 ? codes : [...VALID_OPCODES];
});

function ins(code: number, dst: number, src: number, off: number, imm: number): Insn {
  return { code, dst, src, off, imm };
}

/** A fully random instruction: any byte, any field value. */
export function wildInsn(rng: Rng): Insn {
  return ins(rng.below(256), rng.below(16), rng.below(16), rng.int(-0x8000, 0x7fff), rng.i32());
}

function imm(rng: Rng): number {
  const r = rng.below(4);
  if (r === 0) return rng.pick(INTERESTING_IMMS);
  if (r === 1) return rng.i32();
  return rng.int(-16, 70);
}

function off(rng: Rng): number {
  const r = rng.below(3);
  return r === 0 ? rng.pick(INTERESTING_OFFS) : r === 1 ? rng.int(-520, 80) : rng.int(-3, 6);
}

/** A plausible instruction: a known opcode with fields mostly in their valid ranges. */
export function biasedInsn(rng: Rng, remaining = 4): Insn {
  const code = rng.pick(VALID_OPCODES);
  const cls = code & 7;
  const dst = rng.chance(0.95) ? rng.below(11) : rng.below(16);
  const src = rng.chance(0.95) ? rng.below(11) : rng.below(16);
  const fwd = rng.below(Math.max(1, Math.min(remaining, 6)));
  if (code === 0x95) return ins(code, 0, 0, 0, 0);
  if (code === 0x85) return rng.chance(0.2) ? ins(code, 0, 1, 0, fwd) : ins(code, 0, 0, 0, rng.chance(0.9) ? rng.pick(HELPERS) : imm(rng));
  if (code === 0x18) return ins(code, dst === 10 ? 0 : dst, rng.chance(0.9) ? 0 : rng.below(7), 0, imm(rng));
  if (cls === 4 || cls === 7) {
    const op = code & 0xf0;
    const x = (code & 8) !== 0;
    if (op === 0x80) return ins(code, dst, 0, 0, 0);
    if (op === 0xd0) return ins(code, dst, 0, 0, rng.pick([16, 32, 64]));
    let o = 0;
    if (op === 0x30 || op === 0x90) o = rng.below(2);
    if (op === 0xb0 && x) o = rng.pick([0, 0, 0, 8, 16, 32]);
    if (x) return ins(code, dst, src, o, 0);
    let k = imm(rng);
    if ((op === 0x60 || op === 0x70 || op === 0xc0) && rng.chance(0.8)) k = rng.below(cls === 7 ? 64 : 32);
    if ((op === 0x30 || op === 0x90) && k === 0 && rng.chance(0.8)) k = 3;
    return ins(code, dst, 0, o, k);
  }
  if (cls === 5 || cls === 6) {
    if ((code & 0xf0) === 0) return cls === 5 ? ins(code, 0, 0, fwd, 0) : ins(code, 0, 0, 0, fwd);
    const back = rng.chance(0.05) ? -rng.int(1, 4) : fwd;
    return (code & 8) !== 0 ? ins(code, dst, src, back, 0) : ins(code, dst, 0, back, imm(rng));
  }
  // Memory: stack (r10), context/memory (r1), or any register.
  const base = rng.chance(0.4) ? 10 : rng.chance(0.5) ? 1 : rng.below(11);
  const bytes = [4, 2, 1, 8][(code >> 3) & 3] as number;
  const o = base === 10 ? (rng.chance(0.8) ? -bytes * rng.int(1, 512 / bytes) : off(rng)) : off(rng);
  if (cls === 1) return ins(code, dst, base, o, 0);
  if (cls === 2) return ins(code, base, 0, o, imm(rng));
  return ins(code, base, src, o, code === 0xc3 || code === 0xdb ? rng.pick(ATOMIC_IMMS) : 0);
}

/** Instruction soup ending with `exit` most of the time. */
export function randomProgram(rng: Rng): Insn[] {
  const length = rng.int(1, rng.chance(0.1) ? 120 : 24);
  const insns: Insn[] = [];
  const wild = rng.chance(0.2) ? 0.5 : 0.05;
  for (let n = 0; n < length; n++) insns.push(rng.chance(wild) ? wildInsn(rng) : biasedInsn(rng, length - n));
  if (rng.chance(0.7)) {
    if (rng.chance(0.8)) insns.push(ins(0xb7, 0, 0, 0, rng.int(0, 3)));
    insns.push(ins(0x95, 0, 0, 0, 0));
  }
  return insns;
}

/** Builder of structured programs: appends instructions, tracks forward-branch fixups. */
class Body {
  readonly insns: Insn[] = [];
  push(i: Insn): number {
    this.insns.push(i);
    return this.insns.length - 1;
  }
  /** Point the jump at `at` to the next instruction emitted. */
  land(at: number): void {
    const j = this.insns[at] as Insn;
    this.insns[at] = { ...j, off: this.insns.length - at - 1 };
  }
}

const ldx = (bytes: number, dst: number, src: number, o: number): Insn =>
  ins(0x61 | (SIZE_BITS[SIZE_BYTES.indexOf(bytes)] as number), dst, src, o, 0);
const stx = (bytes: number, dst: number, src: number, o: number): Insn =>
  ins(0x63 | (SIZE_BITS[SIZE_BYTES.indexOf(bytes)] as number), dst, src, o, 0);
const st = (bytes: number, dst: number, o: number, k: number): Insn =>
  ins(0x62 | (SIZE_BITS[SIZE_BYTES.indexOf(bytes)] as number), dst, 0, o, k);
const mov64 = (dst: number, k: number): Insn => ins(0xb7, dst, 0, 0, k);
const movReg = (dst: number, src: number): Insn => ins(0xbf, dst, src, 0, 0);
const alu64 = (op: number, dst: number, k: number): Insn => ins(0x07 | op, dst, 0, 0, k);
const aluReg64 = (op: number, dst: number, src: number): Insn => ins(0x0f | op, dst, src, 0, 0);
const EXIT = ins(0x95, 0, 0, 0, 0);

/**
 * A program shaped like a real one for `target` with a region of `size` bytes: r6 holds the
 * region's start, r7 its (checked) end for XDP; scratch registers r0, r2..r5, r8, r9.
 * Accesses are in bounds, at the very edge, or (rarely) one past it.
 */
export function structuredProgram(rng: Rng, target: FuzzTarget, size: number): Insn[] {
  const b = new Body();
  const scratch = [0, 2, 3, 4, 5, 8, 9];
  let checked = size; // bytes known accessible from r6
  if (target === 'xdp') {
    b.push(ldx(4, 6, 1, 0)); // r6 = data
    b.push(ldx(4, 7, 1, 4)); // r7 = data_end
    checked = rng.chance(0.15) ? rng.int(0, 64) : Math.min(size, rng.pick([1, 8, 14, 20, 34, 64, size]));
    b.push(movReg(8, 6));
    b.push(alu64(0x00, 8, checked)); // r8 = data + checked
    const cond = rng.chance(0.5);
    // if r8 > r7 goto out   (or: if r7 < r8 goto out)
    const jOut = cond ? b.push(ins(0x2d, 8, 7, 0, 0)) : b.push(ins(0xad, 7, 8, 0, 0));
    buildBody(rng, b, scratch, checked, target);
    b.push(EXIT);
    b.land(jOut);
    b.push(mov64(0, rng.int(0, 3)));
    b.push(EXIT);
    return b.insns;
  }
  b.push(movReg(6, 1));
  buildBody(rng, b, scratch, checked, target);
  b.push(EXIT);
  return b.insns;
}

function buildBody(rng: Rng, b: Body, scratch: readonly number[], checked: number, target: FuzzTarget): void {
  for (const r of scratch) {
    if (rng.chance(0.02)) continue;
    if (rng.chance(0.7)) b.push(mov64(r, imm(rng)));
    else {
      b.push(ins(0x18, r, 0, 0, rng.i32()));
      b.push(ins(0, 0, 0, 0, rng.i32()));
    }
  }
  const length = rng.int(1, 30);
  let loopDone = false;
  for (let n = 0; n < length; n++) {
    const what = rng.below(16);
    const r = rng.pick(scratch);
    const s = rng.pick(scratch);
    if (what <= 3) {
      // A load from the region: in bounds, at the edge, or one past it.
      const bytes = rng.pick(SIZE_BYTES);
      if (checked >= bytes || rng.chance(0.05)) {
        const edge = checked - bytes;
        const o = rng.chance(0.3) ? edge : rng.chance(0.03) ? edge + 1 : rng.chance(0.02) ? -1 : rng.int(0, Math.max(0, edge));
        b.push(
          rng.chance(0.15)
            ? ins(0x81 | (SIZE_BITS[SIZE_BYTES.indexOf(bytes === 8 ? 4 : bytes)] as number), r, 6, o, 0)
            : ldx(bytes, r, 6, o),
        );
      }
    } else if (what === 4) {
      const bytes = rng.pick(SIZE_BYTES);
      if (checked >= bytes) {
        const o = rng.chance(0.4) ? checked - bytes : rng.int(0, checked - bytes);
        b.push(rng.chance(0.5) ? stx(bytes, 6, s, o) : st(bytes, 6, o, imm(rng)));
      }
    } else if (what === 5 && checked > 0) {
      // Variable offset: r = byte from the region, bounded by a mask or a comparison, added to the base.
      const bytes = 1;
      b.push(ldx(bytes, r, 6, rng.int(0, checked - 1)));
      const span = rng.int(0, checked - 1);
      let bound = span;
      let jSkip = -1;
      if (rng.chance(0.5)) {
        const mask = (1 << Math.floor(Math.log2(span + 1))) - 1;
        bound = mask;
        b.push(alu64(0x50, r, rng.chance(0.03) ? mask + 1 : mask));
      } else {
        // if r > span goto skip
        jSkip = b.push(ins(rng.chance(0.03) ? 0x3d : 0x25, r, 0, 0, span));
      }
      const p = s === r ? (r === 0 ? 2 : 0) : s;
      b.push(movReg(p, 6));
      b.push(aluReg64(0x00, p, r));
      const width = rng.pick(SIZE_BYTES.filter((w) => w <= checked - bound) as number[]);
      if (width !== undefined) {
        const o = checked - bound - width;
        const at = rng.int(0, o);
        let jRecheck = -1;
        if (target === 'xdp') {
          // A packet pointer plus a variable has an unknown range: check data_end (r7) again.
          const q = scratch.find((x) => x !== p && x !== r) as number;
          b.push(movReg(q, p));
          b.push(alu64(0x00, q, at + width));
          jRecheck = b.push(ins(0x2d, q, 7, 0, 0));
        }
        b.push(rng.chance(0.5) ? ldx(width, rng.pick(scratch.filter((x) => x !== p)), p, at) : st(width, p, at, 7));
        if (jRecheck >= 0) b.land(jRecheck);
      }
      if (jSkip >= 0) b.land(jSkip);
    } else if (what === 6) {
      // Stack: store then load, or an atomic on an initialised slot.
      const bytes = rng.pick(SIZE_BYTES);
      const slot = -bytes * rng.int(1, 512 / bytes);
      b.push(rng.chance(0.5) ? stx(bytes, 10, s, slot) : st(bytes, 10, slot, imm(rng)));
      if (rng.chance(0.3) && bytes >= 4) b.push(ins(bytes === 8 ? 0xdb : 0xc3, 10, s, slot, rng.pick(ATOMIC_IMMS)));
      b.push(ldx(rng.chance(0.8) ? bytes : rng.pick(SIZE_BYTES), r, 10, slot));
    } else if (what === 7) {
      // A forward branch over a few ALU ops.
      const x = rng.chance(0.5);
      const j = b.push(ins((rng.chance(0.5) ? 0x05 : 0x06) | rng.pick(JMP_CONDS) | (x ? 8 : 0), r, x ? s : 0, 0, x ? 0 : imm(rng)));
      const k = rng.int(1, 3);
      for (let m = 0; m < k; m++) b.push(alu64(rng.pick([0x00, 0x10, 0x40, 0x50, 0xa0]), rng.pick(scratch), imm(rng)));
      b.land(j);
    } else if (what === 8 && !loopDone) {
      // A counted loop: r9 = N; loop: body; r9 -= 1; if r9 != 0 goto loop.
      loopDone = true;
      const count = rng.chance(0.98) ? rng.int(1, 12) : rng.int(50, 300);
      b.push(mov64(9, count));
      const top = b.insns.length;
      b.push(alu64(rng.pick([0x00, 0x20, 0xa0]), 0, imm(rng)));
      if (checked >= 1 && rng.chance(0.5)) b.push(ldx(1, 3, 6, rng.int(0, checked - 1)));
      b.push(alu64(0x10, 9, 1));
      const at = b.push(ins(0x55, 9, 0, 0, 0));
      b.insns[at] = { ...(b.insns[at] as Insn), off: top - at - 1 };
    } else if (what === 9) {
      // A helper without arguments that matter (ktime, prandom, cpu id): clobbers r1..r5.
      b.push(ins(0x85, 0, 0, 0, rng.pick([5, 7, 8])));
      for (const x of [2, 3, 4, 5]) b.push(mov64(x, imm(rng)));
    } else if (what === 10) {
      const code = rng.pick([0x84, 0x87, 0xd4, 0xdc, 0xd7]);
      b.push(ins(code, r, 0, 0, code === 0x84 || code === 0x87 ? 0 : rng.pick([16, 32, 64])));
    } else if (what === 11 && rng.chance(0.3)) {
      b.push(biasedInsn(rng, 2));
    } else {
      const op = rng.pick(ALU_OPS);
      const x = rng.chance(0.5);
      const cls = rng.chance(0.7) ? 0x07 : 0x04;
      let k = imm(rng);
      if (op === 0x60 || op === 0x70 || op === 0xc0) k = rng.below(cls === 7 ? 64 : 32);
      if ((op === 0x30 || op === 0x90) && k === 0) k = 5;
      b.push(x ? ins(cls | op | 8, r, s, (op === 0x30 || op === 0x90) && rng.chance(0.3) ? 1 : 0, 0) : ins(cls | op, r, 0, 0, k));
    }
  }
  // Fold into r0 a scalar (never a pointer) so the result is comparable across runtimes.
  b.push(movReg(0, rng.pick([0, 2, 3, 4, 5, 8])));
}

/** Small hand-written valid programs: packet parsers, stack users, loops, subprograms. */
export function corpus(): readonly { readonly insns: Insn[]; readonly target: FuzzTarget; readonly size: number }[] {
  return CORPUS;
}

const CORPUS: { insns: Insn[]; target: FuzzTarget; size: number }[] = [
  // XDP: Ethernet + IPv4 parser: drop if ethertype != 0x0800 or the protocol byte is 17.
  {
    target: 'xdp',
    size: 64,
    insns: [
      ldx(4, 2, 1, 0),
      ldx(4, 3, 1, 4),
      movReg(4, 2),
      alu64(0x00, 4, 34),
      ins(0x2d, 4, 3, 6, 0), // if r4 > r3 goto pass
      ldx(2, 5, 2, 12),
      ins(0x55, 5, 0, 4, 0x0008), // if r5 != htons(0x0800) goto pass
      ldx(1, 5, 2, 23),
      ins(0x55, 5, 0, 2, 17), // if proto != udp goto pass
      mov64(0, 1), // XDP_DROP
      EXIT,
      mov64(0, 2), // XDP_PASS
      EXIT,
    ],
  },
  // Memory: sum the 16 bytes of the memory in a counted loop, keep a running value on the stack.
  {
    target: 'memory',
    size: 16,
    insns: [
      mov64(0, 0),
      st(8, 10, -8, 0),
      mov64(2, 0),
      movReg(3, 1),
      aluReg64(0x00, 3, 2), // loop: r3 = r1 + r2
      ldx(1, 4, 3, 0),
      aluReg64(0x00, 0, 4),
      stx(8, 10, 0, -8),
      alu64(0x00, 2, 1),
      movReg(3, 1),
      ins(0xa5, 2, 0, -7, 16), // if r2 < 16 goto loop
      ldx(8, 0, 10, -8),
      EXIT,
    ],
  },
  // Memory: read the last byte and the last 8 bytes of a 13-byte buffer, write the first.
  { target: 'memory', size: 13, insns: [ldx(1, 0, 1, 12), ldx(8, 2, 1, 5), aluReg64(0xa0, 0, 2), st(1, 1, 0, 0x5a), EXIT] },
  // Memory: stack user, whole 512-byte frame, atomics.
  {
    target: 'memory',
    size: 8,
    insns: [
      st(8, 10, -512, 1),
      st(8, 10, -8, 2),
      mov64(2, 5),
      ins(0xdb, 10, 2, -512, 0x01), // fetch-add
      ldx(8, 0, 10, -512),
      aluReg64(0x00, 0, 2),
      ldx(8, 3, 10, -8),
      aluReg64(0x00, 0, 3),
      EXIT,
    ],
  },
  // Memory: a subprogram call (bpf-to-bpf) that returns the first byte of the memory.
  { target: 'memory', size: 4, insns: [ins(0x85, 0, 1, 0, 2), alu64(0x00, 0, 1), EXIT, ldx(1, 0, 1, 0), EXIT] },
  // Memory: bounded variable offset by mask, reaching the last byte (15 + 9 + 8 = 32).
  { target: 'memory', size: 32, insns: [ldx(1, 2, 1, 0), alu64(0x50, 2, 15), movReg(3, 1), aluReg64(0x00, 3, 2), ldx(8, 0, 3, 9), EXIT] },
  // XDP: bounded variable offset by comparison, then data_end checked again for the derived pointer.
  {
    target: 'xdp',
    size: 64,
    insns: [
      ldx(4, 2, 1, 0),
      ldx(4, 3, 1, 4),
      movReg(4, 2),
      alu64(0x00, 4, 1),
      ins(0x2d, 4, 3, 8, 0), // if r4 > r3 goto out
      ldx(1, 5, 2, 0),
      ins(0x25, 5, 0, 6, 31), // if r5 > 31 goto out
      movReg(4, 2),
      aluReg64(0x00, 4, 5),
      movReg(8, 4),
      alu64(0x00, 8, 8),
      ins(0x2d, 8, 3, 1, 0), // if r8 > r3 goto out
      st(8, 4, 0, 7),
      mov64(0, 2), // out:
      EXIT,
    ],
  },
];

function mutateOne(rng: Rng, insns: Insn[]): void {
  const n = insns.length;
  const at = rng.below(Math.max(1, n));
  const target = insns[at];
  switch (rng.below(10)) {
    case 0:
    case 1: {
      if (target === undefined) break;
      // Flip one bit of one field.
      const field = rng.pick(['code', 'dst', 'src', 'off', 'imm'] as const);
      const bits = field === 'code' ? 8 : field === 'dst' || field === 'src' ? 4 : field === 'off' ? 16 : 32;
      const bit = rng.below(bits);
      let v = target[field] ^ (bits === 32 ? 1 << bit : 1 << bit);
      if (field === 'off') v = (v << 16) >> 16;
      if (bits === 32) v |= 0;
      insns[at] = { ...target, [field]: v };
      break;
    }
    case 2: {
      if (target === undefined) break;
      // Replace a field by an interesting value.
      const field = rng.pick(['dst', 'src', 'off', 'imm'] as const);
      const v =
        field === 'off'
          ? rng.pick(INTERESTING_OFFS)
          : field === 'imm'
            ? rng.pick(INTERESTING_IMMS)
            : rng.chance(0.9)
              ? rng.below(11)
              : rng.below(16);
      insns[at] = { ...target, [field]: v };
      break;
    }
    case 3: {
      if (target === undefined) break;
      // Change the opcode within its class, or to any valid one.
      const code = rng.chance(0.5) ? rng.pick(BY_CLASS[target.code & 7] as number[]) : rng.pick(VALID_OPCODES);
      insns[at] = { ...target, code };
      break;
    }
    case 4:
      insns.splice(rng.below(n + 1), 0, rng.chance(0.9) ? biasedInsn(rng) : wildInsn(rng));
      break;
    case 5:
      if (n > 1) insns.splice(at, 1);
      break;
    case 6: {
      const other = rng.below(Math.max(1, n));
      if (target !== undefined && insns[other] !== undefined) {
        insns[at] = insns[other] as Insn;
        insns[other] = target;
      }
      break;
    }
    case 7:
      if (target !== undefined) insns.splice(at, 0, target);
      break;
    case 8: {
      if (target === undefined) break;
      // Nudge an offset or immediate by a little (off-by-one bounds).
      const d = rng.pick([-8, -4, -2, -1, 1, 2, 4, 8]);
      insns[at] = rng.chance(0.6)
        ? { ...target, off: Math.max(-0x8000, Math.min(0x7fff, target.off + d)) }
        : { ...target, imm: (target.imm + d) | 0 };
      break;
    }
    default:
      if (target !== undefined) insns[at] = wildInsn(rng);
  }
}

/** Apply 1..4 random mutations to a copy of `insns`. */
export function mutate(rng: Rng, insns: readonly Insn[]): Insn[] {
  const out = insns.slice();
  const count = rng.chance(0.6) ? 1 : rng.int(2, 4);
  for (let k = 0; k < count; k++) mutateOne(rng, out);
  return out;
}

/** One fuzz program drawn from `rng`: random (30%), structured (30%) or mutated (40%). */
export function fuzzProgram(rng: Rng): FuzzProgram {
  const kind = rng.below(10);
  const target: FuzzTarget = rng.chance(0.3) ? 'xdp' : 'memory';
  const size = target === 'xdp' ? rng.pick([14, 34, 64, 100, 1500]) : rng.pick(FUZZ_MEMORY_SIZES);
  if (kind < 3) return { insns: randomProgram(rng), target, size, source: 'random' };
  if (kind < 6) return { insns: structuredProgram(rng, target, size), target, size, source: 'structured' };
  if (kind < 8) {
    const seed = rng.pick(corpus());
    return { insns: mutate(rng, seed.insns), target: seed.target, size: rng.chance(0.8) ? seed.size : size, source: 'mutated-corpus' };
  }
  return { insns: mutate(rng, structuredProgram(rng, target, size)), target, size, source: 'mutated-structured' };
}
