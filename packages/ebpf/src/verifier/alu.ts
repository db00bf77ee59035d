/**
 * ALU instructions: scalar bounds, and the pointer arithmetic the verifier allows (the
 * kernel's `check_alu_op`, `adjust_ptr_min_max_vals`, `adjust_scalar_min_max_vals`).
 * Pointer arithmetic is 64-bit add/sub of a scalar with bounds; a variable offset on a
 * packet pointer gives it a new id (its proven range must be established again).
 */
import { BPF_ALU_OP, type Insn } from '../insn.js';
import type { Env } from './env.js';
import { type Reg, UNKNOWN_REG, isPointer, scalarReg } from './reg-state.js';
import { type Scalar, UNKNOWN, UNKNOWN32, aluScalar, endScalar, isConst, known, make } from './scalar.js';
import { reject } from './types.js';

/** Largest offset (fixed plus variable) a pointer may carry (the kernel's BPF_MAX_VAR_OFF). */
export const MAX_PTR_OFF = 1 << 29;

const OP_NAMES: Readonly<Record<number, string>> = {
  [BPF_ALU_OP.ADD]: '+=',
  [BPF_ALU_OP.SUB]: '-=',
  [BPF_ALU_OP.MUL]: '*=',
  [BPF_ALU_OP.DIV]: '/=',
  [BPF_ALU_OP.OR]: '|=',
  [BPF_ALU_OP.AND]: '&=',
  [BPF_ALU_OP.LSH]: '<<=',
  [BPF_ALU_OP.RSH]: '>>=',
  [BPF_ALU_OP.MOD]: '%=',
  [BPF_ALU_OP.XOR]: '^=',
  [BPF_ALU_OP.ARSH]: 's>>=',
};

const U64_MAX = (1n << 64n) - 1n;
const UNKNOWN32_REG = scalarReg(UNKNOWN32);

/** Process an ALU or ALU64 instruction. */
export function doAlu(env: Env, insn: Insn, is64: boolean): void {
  const op = insn.code & 0xf0;
  const x = (insn.code & 0x08) !== 0;
  const unknown = is64 ? UNKNOWN_REG : UNKNOWN32_REG;
  if (op === BPF_ALU_OP.END || op === BPF_ALU_OP.NEG) {
    const d = env.read(insn.dst);
    if (insn.dst === 10) reject(env.pc, 'frame pointer is read only');
    if (d.type !== 'scalar') {
      env.write(insn.dst, unknown);
      return;
    }
    if (op === BPF_ALU_OP.NEG) env.write(insn.dst, scalarReg(aluScalar(op, d.v, d.v, is64, 0)));
    else env.write(insn.dst, scalarReg(endScalar(d.v, insn.imm, is64 || x)));
    return;
  }
  const s: Reg = x ? env.read(insn.src) : scalarReg(known(BigInt(insn.imm)));
  if (op === BPF_ALU_OP.MOV) {
    if (x && is64 && insn.off === 0) {
      env.write(insn.dst, s);
      return;
    }
    if (s.type !== 'scalar') {
      env.write(insn.dst, unknown); // a partial or sign-extended copy of a pointer is a number
      return;
    }
    env.write(insn.dst, scalarReg(aluScalar(op, known(0n), s.v, is64, insn.off)));
    return;
  }
  const d = env.read(insn.dst);
  if (insn.dst === 10) reject(env.pc, 'frame pointer is read only');
  if (d.type === 'scalar' && s.type === 'scalar') {
    env.write(insn.dst, scalarReg(aluScalar(op, d.v, s.v, is64, insn.off)));
    return;
  }
  env.write(insn.dst, pointerArith(env, insn, op, is64, d, s));
}

function pointerArith(env: Env, insn: Insn, op: number, is64: boolean, d: Reg, s: Reg): Reg {
  const pc = env.pc;
  const r = insn.dst;
  const opName = OP_NAMES[op] ?? '?';
  if (isPointer(d) && isPointer(s)) {
    // Root may subtract pointers (e.g. data_end - data): the difference is a number.
    if (op === BPF_ALU_OP.SUB) return scalarReg(is64 ? UNKNOWN : UNKNOWN32);
    reject(pc, `R${r} pointer ${opName} pointer prohibited`);
  }
  const ptrIsDst = isPointer(d);
  const ptr = ptrIsDst ? d : s;
  const sc = ptrIsDst ? s : d;
  if (op === BPF_ALU_OP.SUB && !ptrIsDst) reject(pc, `R${r} tried to subtract pointer from scalar`);
  if (op !== BPF_ALU_OP.ADD && op !== BPF_ALU_OP.SUB) {
    if (op === BPF_ALU_OP.AND || op === BPF_ALU_OP.OR || op === BPF_ALU_OP.XOR) {
      reject(pc, `R${r} bitwise operator ${opName} on pointer prohibited`);
    }
    reject(pc, `R${r} pointer arithmetic with ${opName} operator prohibited`);
  }
  if (!is64) reject(pc, `R${r} 32-bit pointer arithmetic prohibited`);
  if (ptr.type === 'pkt_end' || ptr.type === 'map_ptr' || ptr.type === 'map_value_or_null') {
    reject(pc, `R${r} pointer arithmetic on ${ptr.type} prohibited`);
  }
  const neg = op === BPF_ALU_OP.SUB;
  const v = sc.v;
  if (isConst(v)) {
    const c = BigInt.asIntN(64, v.umin);
    const off = BigInt(ptr.off) + (neg ? -c : c);
    if (off < -BigInt(MAX_PTR_OFF) || off > BigInt(MAX_PTR_OFF)) reject(pc, `value ${c} makes ${ptr.type} pointer be out of bounds`);
    return { ...ptr, off: Number(off) };
  }
  if (v.smin < -BigInt(MAX_PTR_OFF) || v.smax > BigInt(MAX_PTR_OFF)) {
    reject(pc, `math between ${ptr.type} pointer and register with unbounded min value is not allowed`);
  }
  const lo = neg ? -v.smax : v.smin;
  const hi = neg ? -v.smin : v.smax;
  const nlo = ptr.v.smin + lo;
  const nhi = ptr.v.smax + hi;
  if (nlo < -BigInt(MAX_PTR_OFF) || nhi > BigInt(MAX_PTR_OFF)) reject(pc, `${ptr.type} pointer offset is out of bounds`);
  const nv = make(0n, U64_MAX, nlo, nhi) as Scalar;
  if (ptr.type === 'pkt' || ptr.type === 'pkt_meta') return { ...ptr, v: nv, id: ++env.idGen, range: 0 };
  return { ...ptr, v: nv };
}
