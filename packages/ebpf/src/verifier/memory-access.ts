/**
 * Loads, stores and atomics: which memory a pointer may reach and how (the kernel's
 * `check_mem_access`, `check_stack_read/write`, `check_packet_access`,
 * `check_map_access`, `check_ctx_access`, `check_atomic`).
 */
import { BPF_ATOMIC, BPF_MODE, type Insn } from '../insn.js';
import type { Env } from './env.js';
import { ctxAccess, pktWritable } from './program-types.js';
import { type Frame, MAX_BPF_STACK, type Reg, UNKNOWN_REG, ptrReg, scalarReg } from './reg-state.js';
import { type Scalar, UNKNOWN, UNKNOWN32, isConst, known, make, urange } from './scalar.js';
import { reject } from './types.js';

const SIZES = [4, 2, 1, 8] as const;

/** Bytes accessed by a load/store opcode. */
export function accessSize(code: number): 1 | 2 | 4 | 8 {
  return SIZES[(code >> 3) & 3] as 1 | 2 | 4 | 8;
}

const U64_MAX = (1n << 64n) - 1n;

function makeSizedUnknown(size: number, sx: boolean): Reg {
  if (size === 8) return UNKNOWN_REG;
  const bits = BigInt(size * 8);
  if (!sx) return scalarReg(size === 4 ? UNKNOWN32 : urange(0n, (1n << bits) - 1n));
  const half = 1n << (bits - 1n);
  return scalarReg(make(0n, U64_MAX, -half, half - 1n) as Scalar);
}

/** Unknown values of 1, 2, 4, 8 bytes: zero-extended at [size], sign-extended at [size + 8]. */
const SIZED: readonly Reg[] = Array.from({ length: 17 }, (_, i) => makeSizedUnknown(i & 7 || 8, i > 8));

/** An unknown value of `size` bytes, zero- or sign-extended. */
function sizedUnknown(size: number, sx: boolean): Reg {
  return SIZED[sx ? size + 8 : size] as Reg;
}

function varBounds(v: Scalar): [number, number] {
  return [Number(v.smin), Number(v.smax)];
}

/** `ldx dst, [src + off]` (MEM or MEMSX). */
export function doLoad(env: Env, insn: Insn): void {
  const base = env.read(insn.src);
  const size = accessSize(insn.code);
  const sx = (insn.code & 0xe0) === BPF_MODE.MEMSX;
  if (insn.dst === 10) reject(env.pc, 'frame pointer is read only');
  const value = access(env, insn.src, base, insn.off, size, false, null, -1, sx);
  env.write(insn.dst, value);
}

/** `st [dst + off], imm` and `stx [dst + off], src`. */
export function doStore(env: Env, insn: Insn, isImm: boolean): void {
  const value = isImm ? scalarReg(known(BigInt(insn.imm))) : env.read(insn.src);
  const base = env.read(insn.dst);
  access(env, insn.dst, base, insn.off, accessSize(insn.code), true, value, isImm ? -1 : insn.src, false);
}

/** `stx` with mode ATOMIC: read-modify-write of 4 or 8 bytes, optionally fetching the old value. */
export function doAtomic(env: Env, insn: Insn): void {
  const size = accessSize(insn.code);
  const src = env.read(insn.src);
  if (src.type !== 'scalar') reject(env.pc, `R${insn.src} leaks addr into mem`);
  if (insn.imm === BPF_ATOMIC.CMPXCHG && env.read(0).type !== 'scalar') reject(env.pc, 'R0 leaks addr into mem');
  const base = env.read(insn.dst);
  if (base.type === 'ctx' || base.type === 'pkt' || base.type === 'pkt_meta') {
    reject(env.pc, `BPF_ATOMIC stores into R${insn.dst} ${base.type} is not allowed`);
  }
  const old = access(env, insn.dst, base, insn.off, size, false, null, -1, false);
  if (old.type !== 'scalar') reject(env.pc, `BPF_ATOMIC on R${insn.dst} reads a spilled pointer`);
  access(env, insn.dst, base, insn.off, size, true, UNKNOWN_REG, insn.src, false);
  const fetched = scalarReg(size === 4 ? UNKNOWN32 : UNKNOWN);
  if (insn.imm === BPF_ATOMIC.CMPXCHG) env.write(0, fetched);
  else if ((insn.imm & BPF_ATOMIC.FETCH) !== 0) env.write(insn.src, fetched);
}

/**
 * Check one access of `size` bytes at `base + off` through register `regNo`; returns the
 * loaded value for a read. `value` / `valueReg` are the stored register for a write.
 */
function access(
  env: Env,
  regNo: number,
  base: Reg,
  off: number,
  size: number,
  write: boolean,
  value: Reg | null,
  valueReg: number,
  sx: boolean,
): Reg {
  const pc = env.pc;
  env.noteAccess(base.type === 'ctx');
  switch (base.type) {
    case 'fp': {
      if (!isConst(base.v)) {
        const [lo, hi] = varBounds(base.v);
        reject(pc, `variable stack access var_off=(${lo}; ${hi}) off=${base.off + off} size=${size} is not supported`);
      }
      const at = base.off + off;
      if (at < -MAX_BPF_STACK || at + size > 0) reject(pc, `invalid stack off=${at} size=${size}`);
      if (at % size !== 0) reject(pc, `misaligned stack access off ${at} size ${size}`);
      const frame = env.st.frames[base.ref] as Frame;
      env.touchStack(frame.subprog, at);
      if (write) {
        if (size !== 8 && value !== null && value.type !== 'scalar') reject(pc, 'invalid size of register spill');
        stackWrite(frame, at, size, value as Reg);
        return UNKNOWN_REG;
      }
      return stackRead(env, frame, at, size, sx);
    }
    case 'ctx': {
      if (base.off !== 0 || !isConst(base.v) || base.v.umin !== 0n) {
        reject(pc, `dereference of modified ctx ptr R${regNo} off=${base.off} disallowed`);
      }
      const a = ctxAccess(env.progType, off, size, write);
      if (a === null || sx) reject(pc, `invalid bpf_context access off=${off} size=${size}`);
      env.ctxLoads.set(pc, { insnIndex: pc, field: a.field, offset: off, size, result: a.result });
      if (a.result === 'scalar') return scalarReg(UNKNOWN32);
      return ptrReg(a.result);
    }
    case 'pkt':
    case 'pkt_meta': {
      if (write && !pktWritable(env.progType)) reject(pc, 'cannot write into packet');
      if (write && value !== null && value.type !== 'scalar') reject(pc, `R${valueReg} leaks addr into packet`);
      if (base.v.smin < 0n) reject(pc, `R${regNo} min value is negative, either use unsigned index or do a if (index >=0) check.`);
      const at = base.off + off;
      if (at < 0 || at + size > base.range) {
        reject(pc, `invalid access to packet, off=${at} size=${size}, R${regNo}(id=${base.id},off=${base.off},r=${base.range})`);
      }
      return write ? UNKNOWN_REG : sizedUnknown(size, sx);
    }
    case 'mem':
    case 'map_value': {
      const what = base.type === 'mem' ? 'memory' : 'map value';
      if (write && base.type === 'map_value' && env.maps.get(base.ref)?.readonly === true) {
        reject(pc, `write into map forbidden, value_size=${base.size} off=${base.off + off} size=${size}`);
      }
      if (write && value !== null && value.type !== 'scalar')
        reject(pc, `R${valueReg} leaks addr into ${base.type === 'mem' ? 'mem' : 'map'}`);
      checkSized(env, regNo, base, off, size, what);
      return write ? UNKNOWN_REG : sizedUnknown(size, sx);
    }
    default:
      reject(pc, `R${regNo} invalid mem access '${base.type}'`);
  }
}

/** Bounds check of an access into `mem` or a `map_value` of `base.size` bytes. */
export function checkSized(env: Env, regNo: number, base: Reg, off: number, size: number, what: 'memory' | 'map value'): void {
  const [lo, hi] = varBounds(base.v);
  const at = base.off + off;
  const sizeName = what === 'memory' ? 'mem_size' : 'value_size';
  if (lo !== hi) {
    if (at + lo < 0) reject(env.pc, `R${regNo} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    if (at + hi + size > base.size) reject(env.pc, `R${regNo} unbounded memory access, make sure to bounds check any such access`);
    return;
  }
  if (at + lo < 0 || at + lo + size > base.size)
    reject(env.pc, `invalid access to ${what}, ${sizeName}=${base.size} off=${at + lo} size=${size}`);
}

function stackWrite(frame: Frame, at: number, size: number, value: Reg): void {
  const idx = at + MAX_BPF_STACK;
  const slot = idx >> 3;
  if (idx < frame.stackLo) frame.stackLo = idx;
  if (size === 8) {
    frame.spills[slot] = value;
    frame.narrow[slot] = undefined;
    frame.written[slot] = 0xff;
    return;
  }
  // A partial overwrite destroys a spilled register: its bytes become plain data.
  frame.spills[slot] = undefined;
  frame.narrow[slot] = value.type === 'scalar' && isConst(value.v) ? { start: idx & 7, size, value: BigInt.asUintN(size * 8, value.v.umin), used: false } : undefined;
  frame.written[slot] = (frame.written[slot] as number) | (((1 << size) - 1) << (idx & 7));
}

function stackRead(env: Env, frame: Frame, at: number, size: number, sx: boolean): Reg {
  const idx = at + MAX_BPF_STACK;
  const slot = idx >> 3;
  const spill = frame.spills[slot];
  if (spill !== undefined) {
    if (size === 8) return spill;
    if (spill.type !== 'scalar') reject(env.pc, 'invalid size of register fill');
    if (isConst(spill.v)) {
      const bits = BigInt(size * 8);
      const v = (spill.v.umin >> BigInt((idx & 7) * 8)) & ((1n << bits) - 1n);
      return scalarReg(known(sx ? BigInt.asIntN(size * 8, v) : v));
    }
    return sizedUnknown(size, sx);
  }
  const mask = ((1 << size) - 1) << (idx & 7);
  if (((frame.written[slot] as number) & mask) !== mask) env.readsUninit = true;
  const narrow = frame.narrow[slot];
  if (narrow !== undefined && narrow.start === (idx & 7) && narrow.size === size) {
    narrow.used = true;
    return scalarReg(known(sx ? BigInt.asIntN(size * 8, narrow.value) : narrow.value));
  }
  return sizedUnknown(size, sx);
}

/**
 * The constant `size` bytes at stack offset `at` of `frame` (a map key), if a store of a
 * known scalar left them there: a spilled constant, or a narrow constant of exactly that
 * size. Undefined when unknown.
 */
export function stackConstant(frame: Frame, at: number, size: number): bigint | undefined {
  const idx = at + MAX_BPF_STACK;
  const slot = idx >> 3;
  if (size > 8 || (idx & 7) + size > 8) return undefined;
  const spill = frame.spills[slot];
  if (spill !== undefined) {
    if (spill.type !== 'scalar' || !isConst(spill.v)) return undefined;
    return BigInt.asUintN(size * 8, spill.v.umin >> BigInt((idx & 7) * 8));
  }
  const narrow = frame.narrow[slot];
  if (narrow === undefined || narrow.start !== (idx & 7) || narrow.size !== size) return undefined;
  narrow.used = true;
  return narrow.value;
}

/**
 * A helper reads `size` bytes at register `regNo` (a map key or value): stack (any bytes
 * in the frame; uninitialised allowed, as for root), map value, memory buffer or checked
 * packet (the kernel's `check_helper_mem_access`).
 */
export function helperMemAccess(env: Env, regNo: number, r: Reg, size: number): void {
  const pc = env.pc;
  switch (r.type) {
    case 'fp': {
      if (!isConst(r.v)) reject(pc, `R${regNo} variable stack access is not supported for helper arguments`);
      const at = r.off;
      if (at < -MAX_BPF_STACK || at + size > 0) reject(pc, `invalid indirect access to stack R${regNo} off=${at} size=${size}`);
      const frame = env.st.frames[r.ref] as Frame;
      env.touchStack(frame.subprog, at);
      const idx = at + MAX_BPF_STACK;
      for (let i = idx; i < idx + size; i++) if ((((frame.written[i >> 3] as number) >> (i & 7)) & 1) === 0) env.readsUninit = true;
      return;
    }
    case 'pkt':
    case 'pkt_meta':
      if (r.v.smin < 0n || r.off < 0 || r.off + size > r.range) {
        reject(pc, `invalid access to packet, off=${r.off} size=${size}, R${regNo}(id=${r.id},off=${r.off},r=${r.range})`);
      }
      return;
    case 'mem':
    case 'map_value':
      checkSized(env, regNo, r, 0, size, r.type === 'mem' ? 'memory' : 'map value');
      return;
    default:
      reject(pc, `R${regNo} type=${r.type} expected=fp, pkt, pkt_meta, map_value, mem`);
  }
}
