import { EbpfError } from './errors.js';
import { BPF_ALU_OP, BPF_ATOMIC, BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_SIZE, BPF_SRC, type Insn, LDDW_OPCODE, insn } from './insn.js';
import {
  MAX_REG,
  type AluOperation,
  type AtomicOperation,
  type JmpCondition,
  type MemSize,
  type Op,
  type Source,
  type Width,
} from './program.js';

/**
 * An instruction slot that is not an RFC 9669 instruction (unknown opcode, a reserved
 * field that is not zero, a register beyond r10, a truncated `lddw`). `index` is the
 * slot. Code `DECODE`.
 */
export class InsnDecodeError extends EbpfError {
  /** Index of the offending slot. */
  readonly index: number;
  constructor(index: number, message: string) {
    super('DECODE', `instruction ${index}: ${message}`);
    this.index = index;
  }
}

const ALU_NAMES: Readonly<Record<number, AluOperation>> = Object.freeze({
  [BPF_ALU_OP.ADD]: 'add',
  [BPF_ALU_OP.SUB]: 'sub',
  [BPF_ALU_OP.MUL]: 'mul',
  [BPF_ALU_OP.DIV]: 'div',
  [BPF_ALU_OP.OR]: 'or',
  [BPF_ALU_OP.AND]: 'and',
  [BPF_ALU_OP.LSH]: 'lsh',
  [BPF_ALU_OP.RSH]: 'rsh',
  [BPF_ALU_OP.MOD]: 'mod',
  [BPF_ALU_OP.XOR]: 'xor',
  [BPF_ALU_OP.MOV]: 'mov',
  [BPF_ALU_OP.ARSH]: 'arsh',
});

const ALU_CODES: Readonly<Record<AluOperation, number>> = Object.freeze({
  add: BPF_ALU_OP.ADD,
  sub: BPF_ALU_OP.SUB,
  mul: BPF_ALU_OP.MUL,
  div: BPF_ALU_OP.DIV,
  sdiv: BPF_ALU_OP.DIV,
  or: BPF_ALU_OP.OR,
  and: BPF_ALU_OP.AND,
  lsh: BPF_ALU_OP.LSH,
  rsh: BPF_ALU_OP.RSH,
  mod: BPF_ALU_OP.MOD,
  smod: BPF_ALU_OP.MOD,
  xor: BPF_ALU_OP.XOR,
  mov: BPF_ALU_OP.MOV,
  arsh: BPF_ALU_OP.ARSH,
});

const JMP_CODES: Readonly<Record<JmpCondition, number>> = Object.freeze({
  jeq: BPF_JMP_OP.JEQ,
  jgt: BPF_JMP_OP.JGT,
  jge: BPF_JMP_OP.JGE,
  jset: BPF_JMP_OP.JSET,
  jne: BPF_JMP_OP.JNE,
  jsgt: BPF_JMP_OP.JSGT,
  jsge: BPF_JMP_OP.JSGE,
  jlt: BPF_JMP_OP.JLT,
  jle: BPF_JMP_OP.JLE,
  jslt: BPF_JMP_OP.JSLT,
  jsle: BPF_JMP_OP.JSLE,
});
const JMP_NAMES: Readonly<Record<number, JmpCondition>> = Object.freeze(
  Object.fromEntries(Object.entries(JMP_CODES).map(([name, code]) => [code, name as JmpCondition])),
);

const SIZE_CODES: Readonly<Record<MemSize, number>> = Object.freeze({ b: BPF_SIZE.B, h: BPF_SIZE.H, w: BPF_SIZE.W, dw: BPF_SIZE.DW });
const SIZE_NAMES: Readonly<Record<number, MemSize>> = Object.freeze({
  [BPF_SIZE.B]: 'b',
  [BPF_SIZE.H]: 'h',
  [BPF_SIZE.W]: 'w',
  [BPF_SIZE.DW]: 'dw',
});

const ATOMIC_CODES: Readonly<Record<AtomicOperation, number>> = Object.freeze({
  add: BPF_ATOMIC.ADD,
  or: BPF_ATOMIC.OR,
  and: BPF_ATOMIC.AND,
  xor: BPF_ATOMIC.XOR,
  xchg: BPF_ATOMIC.XCHG,
  cmpxchg: BPF_ATOMIC.CMPXCHG,
});

const CALL_KINDS = ['helper', 'local', 'kfunc'] as const;

/** Highest `src` (pseudo kind) of `lddw` defined by RFC 9669. */
const MAX_LDDW_PSEUDO = 6;

function reg(i: number, which: string, value: number): number {
  if (value > MAX_REG) throw new InsnDecodeError(i, `${which} register r${value} does not exist (r0..r10)`);
  return value;
}

function zero(i: number, x: Insn, fields: readonly ('dst' | 'src' | 'off' | 'imm')[]): void {
  for (const f of fields) {
    if (x[f] !== 0) throw new InsnDecodeError(i, `opcode 0x${hex2(x.code)}: reserved field ${f} = ${x[f]} must be 0`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function bad(i: number, x: Insn, why = 'is not an RFC 9669 instruction'): never {
  throw new InsnDecodeError(i, `opcode 0x${hex2(x.code)} ${why}`);
}

function decodeAlu(i: number, x: Insn, width: Width): Op {
  const opcode = x.code & 0xf0;
  const isX = (x.code & BPF_SRC.X) !== 0;
  const dst = reg(i, 'dst', x.dst);
  if (opcode === BPF_ALU_OP.NEG) {
    if (isX) bad(i, x, '(neg with a register source) is not defined');
    zero(i, x, ['src', 'off', 'imm']);
    return { op: 'neg', width, dst };
  }
  if (opcode === BPF_ALU_OP.END) {
    if (width === 64 && isX) bad(i, x, '(64-bit byte swap with the source bit) is not defined');
    zero(i, x, ['src', 'off']);
    if (x.imm !== 16 && x.imm !== 32 && x.imm !== 64) throw new InsnDecodeError(i, `byte swap width ${x.imm} is not 16, 32 or 64`);
    return { op: 'endian', order: width === 64 ? 'bswap' : isX ? 'be' : 'le', bits: x.imm, dst };
  }
  let operation = ALU_NAMES[opcode];
  if (operation === undefined) bad(i, x);
  if (opcode === BPF_ALU_OP.MOV && isX && x.off !== 0) {
    zero(i, x, ['imm']);
    if (x.off === 8 || x.off === 16 || (x.off === 32 && width === 64)) {
      return { op: 'movsx', width, bits: x.off, dst, src: reg(i, 'src', x.src) };
    }
    throw new InsnDecodeError(i, `movsx${width === 32 ? '32' : ''} from ${x.off} bits is not defined`);
  }
  if ((opcode === BPF_ALU_OP.DIV || opcode === BPF_ALU_OP.MOD) && x.off === 1) {
    operation = opcode === BPF_ALU_OP.DIV ? 'sdiv' : 'smod';
  } else {
    zero(i, x, ['off']);
  }
  let source: Source;
  if (isX) {
    zero(i, x, ['imm']);
    source = { reg: reg(i, 'src', x.src) };
  } else {
    zero(i, x, ['src']);
    source = { imm: x.imm };
  }
  return { op: 'alu', width, operation, dst, source };
}

function decodeJmp(i: number, x: Insn, width: Width): Op {
  const opcode = x.code & 0xf0;
  const isX = (x.code & BPF_SRC.X) !== 0;
  switch (opcode) {
    case BPF_JMP_OP.JA:
      if (isX) bad(i, x);
      if (width === 64) {
        zero(i, x, ['dst', 'src', 'imm']);
        return { op: 'ja', off: x.off };
      }
      zero(i, x, ['dst', 'src', 'off']);
      return { op: 'gotol', off: x.imm };
    case BPF_JMP_OP.CALL: {
      if (width === 32) bad(i, x, '(call in class JMP32) is not defined');
      if (isX) bad(i, x, '(callx, a call through a register) is not part of RFC 9669');
      zero(i, x, ['dst', 'off']);
      const kind = CALL_KINDS[x.src];
      if (kind === undefined) throw new InsnDecodeError(i, `call with src ${x.src} is not a helper (0), local (1) or kfunc (2) call`);
      return { op: 'call', kind, imm: x.imm };
    }
    case BPF_JMP_OP.EXIT:
      if (width === 32 || isX) bad(i, x);
      zero(i, x, ['dst', 'src', 'off', 'imm']);
      return { op: 'exit' };
    default: {
      const cond = JMP_NAMES[opcode];
      if (cond === undefined) bad(i, x);
      const dst = reg(i, 'dst', x.dst);
      let source: Source;
      if (isX) {
        zero(i, x, ['imm']);
        source = { reg: reg(i, 'src', x.src) };
      } else {
        zero(i, x, ['src']);
        source = { imm: x.imm };
      }
      return { op: 'jmp', width, cond, dst, source, off: x.off };
    }
  }
}

function decodeMem(i: number, x: Insn, next: Insn | undefined): Op {
  const cls = x.code & 0x07;
  const mode = x.code & 0xe0;
  const size = SIZE_NAMES[x.code & 0x18] as MemSize;
  if (cls === BPF_CLASS.LD) {
    if (x.code === LDDW_OPCODE) {
      zero(i, x, ['off']);
      if (x.src > MAX_LDDW_PSEUDO) throw new InsnDecodeError(i, `lddw with src ${x.src} is not a defined 64-bit immediate kind (0..6)`);
      if (next === undefined) throw new InsnDecodeError(i, 'lddw needs a second slot');
      if (typeof next !== 'object' || next === null) throw new EbpfError('EINVAL', `instruction ${i + 1} is not an object`);
      insn(next.code, next.dst, next.src, next.off, next.imm);
      if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
        throw new InsnDecodeError(i + 1, 'the second slot of lddw must have code, dst, src and off 0');
      }
      const imm = (BigInt(next.imm >>> 0) << 32n) | BigInt(x.imm >>> 0);
      return { op: 'lddw', dst: reg(i, 'dst', x.dst), imm, pseudo: x.src };
    }
    if ((mode === BPF_MODE.ABS || mode === BPF_MODE.IND) && size !== 'dw') {
      if (mode === BPF_MODE.ABS) {
        zero(i, x, ['dst', 'src', 'off']);
        return { op: 'ldabs', size, imm: x.imm };
      }
      zero(i, x, ['dst', 'off']);
      return { op: 'ldind', size, src: reg(i, 'src', x.src), imm: x.imm };
    }
    bad(i, x);
  }
  if (cls === BPF_CLASS.LDX) {
    if (mode !== BPF_MODE.MEM && !(mode === BPF_MODE.MEMSX && size !== 'dw')) bad(i, x);
    zero(i, x, ['imm']);
    return { op: 'ldx', size, sign: mode === BPF_MODE.MEMSX, dst: reg(i, 'dst', x.dst), src: reg(i, 'src', x.src), off: x.off };
  }
  if (cls === BPF_CLASS.ST) {
    if (mode !== BPF_MODE.MEM) bad(i, x);
    zero(i, x, ['src']);
    return { op: 'st', size, dst: reg(i, 'dst', x.dst), off: x.off, imm: x.imm };
  }
  // STX
  if (mode === BPF_MODE.MEM) {
    zero(i, x, ['imm']);
    return { op: 'stx', size, dst: reg(i, 'dst', x.dst), src: reg(i, 'src', x.src), off: x.off };
  }
  if (mode !== BPF_MODE.ATOMIC || (size !== 'w' && size !== 'dw')) bad(i, x);
  const fetch = (x.imm & BPF_ATOMIC.FETCH) !== 0;
  let operation: AtomicOperation | undefined;
  if (x.imm === BPF_ATOMIC.XCHG) operation = 'xchg';
  else if (x.imm === BPF_ATOMIC.CMPXCHG) operation = 'cmpxchg';
  else {
    const base = x.imm & ~BPF_ATOMIC.FETCH;
    operation = (['add', 'or', 'and', 'xor'] as const).find((o) => ATOMIC_CODES[o] === base);
  }
  if (operation === undefined) throw new InsnDecodeError(i, `atomic operation imm = 0x${(x.imm >>> 0).toString(16)} is not defined`);
  return {
    op: 'atomic',
    width: size === 'w' ? 32 : 64,
    operation,
    fetch,
    dst: reg(i, 'dst', x.dst),
    src: reg(i, 'src', x.src),
    off: x.off,
  };
}

/**
 * Decode one instruction at slot `index` of `insns` (reading the next slot for `lddw`).
 * @throws InsnDecodeError (code DECODE) if the slot is not an RFC 9669 instruction;
 *   EbpfError EINVAL if a slot is not an object with in-range integer fields.
 */
export function decodeOp(insns: readonly Insn[], index: number): Op {
  const slot = insns[index];
  if (slot === undefined) throw new InsnDecodeError(index, 'past the end of the program');
  if (typeof slot !== 'object' || slot === null) throw new EbpfError('EINVAL', `instruction ${index} is not an object`);
  const x = insn(slot.code, slot.dst, slot.src, slot.off, slot.imm);
  switch (x.code & 0x07) {
    case BPF_CLASS.ALU:
      return decodeAlu(index, x, 32);
    case BPF_CLASS.ALU64:
      return decodeAlu(index, x, 64);
    case BPF_CLASS.JMP:
      return decodeJmp(index, x, 64);
    case BPF_CLASS.JMP32:
      return decodeJmp(index, x, 32);
    default:
      return decodeMem(index, x, insns[index + 1]);
  }
}

/**
 * Decode a program's slots into typed instruction objects (one per instruction; `lddw`
 * consumes two slots). Mirrors the instruction-set part of the kernel's `check_*`
 * passes: every opcode, reserved field and register is checked against RFC 9669.
 * @throws InsnDecodeError (code DECODE, with the slot index) for an invalid slot;
 *   EbpfError EINVAL if `insns` is not an array, or a slot is not an object whose fields
 *   are integers in their ranges (see `insn`).
 */
export function fromInsns(insns: readonly Insn[]): Op[] {
  if (!Array.isArray(insns)) throw new EbpfError('EINVAL', 'fromInsns: expected an array of instructions');
  const out: Op[] = [];
  for (let i = 0; i < insns.length; ) {
    const op = decodeOp(insns, i);
    out.push(op);
    i += op.op === 'lddw' ? 2 : 1;
  }
  return out;
}

function checkReg(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_REG) {
    throw new EbpfError('EINVAL', `${what} must be a register number 0..10, got ${String(value)}`);
  }
  return value;
}

function checkInt(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EbpfError('EINVAL', `${what} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

const imm32 = (v: unknown, what = 'imm') => checkInt(v, what, -0x8000_0000, 0x7fff_ffff);
const off16 = (v: unknown, what = 'off') => checkInt(v, what, -0x8000, 0x7fff);

function sizeCode(size: unknown): number {
  const code = typeof size === 'string' ? SIZE_CODES[size as MemSize] : undefined;
  if (code === undefined) throw new EbpfError('EINVAL', `size must be b, h, w or dw, got ${String(size)}`);
  return code;
}

function widthClass(width: unknown, c32: number, c64: number): number {
  if (width === 32) return c32;
  if (width === 64) return c64;
  throw new EbpfError('EINVAL', `width must be 32 or 64, got ${String(width)}`);
}

function sourceFields(source: Source | undefined): { x: number; src: number; imm: number } {
  if (typeof source === 'object' && source !== null) {
    if ('reg' in source) return { x: BPF_SRC.X, src: checkReg(source.reg, 'source register'), imm: 0 };
    if ('imm' in source) return { x: BPF_SRC.K, src: 0, imm: imm32(source.imm, 'source immediate') };
  }
  throw new EbpfError('EINVAL', 'source must be { reg } or { imm }');
}

/**
 * Encode one typed instruction into its slot(s) (two for `lddw`).
 * @throws EbpfError EINVAL for an object that is not a valid instruction (unknown `op`,
 *   field out of range, register beyond r10).
 */
export function encodeOp(o: Op): Insn[] {
  if (typeof o !== 'object' || o === null) throw new EbpfError('EINVAL', 'instruction must be an object');
  switch (o.op) {
    case 'alu': {
      const cls = widthClass(o.width, BPF_CLASS.ALU, BPF_CLASS.ALU64);
      const code = ALU_CODES[o.operation];
      if (code === undefined) throw new EbpfError('EINVAL', `unknown ALU operation ${String(o.operation)}`);
      const s = sourceFields(o.source);
      const off = o.operation === 'sdiv' || o.operation === 'smod' ? 1 : 0;
      return [insn(cls | code | s.x, checkReg(o.dst, 'dst'), s.src, off, s.imm)];
    }
    case 'neg':
      return [insn(widthClass(o.width, BPF_CLASS.ALU, BPF_CLASS.ALU64) | BPF_ALU_OP.NEG, checkReg(o.dst, 'dst'), 0, 0, 0)];
    case 'movsx': {
      const cls = widthClass(o.width, BPF_CLASS.ALU, BPF_CLASS.ALU64);
      if (o.bits !== 8 && o.bits !== 16 && !(o.bits === 32 && o.width === 64)) {
        throw new EbpfError('EINVAL', `movsx${o.width} cannot sign-extend from ${String(o.bits)} bits`);
      }
      return [insn(cls | BPF_ALU_OP.MOV | BPF_SRC.X, checkReg(o.dst, 'dst'), checkReg(o.src, 'src'), o.bits, 0)];
    }
    case 'endian': {
      if (o.bits !== 16 && o.bits !== 32 && o.bits !== 64) throw new EbpfError('EINVAL', `byte swap width must be 16, 32 or 64`);
      const code =
        o.order === 'le'
          ? BPF_CLASS.ALU | BPF_SRC.K
          : o.order === 'be'
            ? BPF_CLASS.ALU | BPF_SRC.X
            : o.order === 'bswap'
              ? BPF_CLASS.ALU64
              : -1;
      if (code < 0) throw new EbpfError('EINVAL', `byte order must be le, be or bswap, got ${String(o.order)}`);
      return [insn(code | BPF_ALU_OP.END, checkReg(o.dst, 'dst'), 0, 0, o.bits)];
    }
    case 'jmp': {
      const cls = widthClass(o.width, BPF_CLASS.JMP32, BPF_CLASS.JMP);
      const code = JMP_CODES[o.cond];
      if (code === undefined) throw new EbpfError('EINVAL', `unknown jump condition ${String(o.cond)}`);
      const s = sourceFields(o.source);
      return [insn(cls | code | s.x, checkReg(o.dst, 'dst'), s.src, off16(o.off), s.imm)];
    }
    case 'ja':
      return [insn(BPF_CLASS.JMP | BPF_JMP_OP.JA, 0, 0, off16(o.off), 0)];
    case 'gotol':
      return [insn(BPF_CLASS.JMP32 | BPF_JMP_OP.JA, 0, 0, 0, imm32(o.off, 'off'))];
    case 'ldx': {
      if (o.sign && o.size === 'dw') throw new EbpfError('EINVAL', 'a sign-extending load is b, h or w');
      const mode = o.sign ? BPF_MODE.MEMSX : BPF_MODE.MEM;
      return [insn(BPF_CLASS.LDX | mode | sizeCode(o.size), checkReg(o.dst, 'dst'), checkReg(o.src, 'src'), off16(o.off), 0)];
    }
    case 'st':
      return [insn(BPF_CLASS.ST | BPF_MODE.MEM | sizeCode(o.size), checkReg(o.dst, 'dst'), 0, off16(o.off), imm32(o.imm))];
    case 'stx':
      return [insn(BPF_CLASS.STX | BPF_MODE.MEM | sizeCode(o.size), checkReg(o.dst, 'dst'), checkReg(o.src, 'src'), off16(o.off), 0)];
    case 'atomic': {
      const size = widthClass(o.width, BPF_SIZE.W, BPF_SIZE.DW);
      const base = ATOMIC_CODES[o.operation];
      if (base === undefined) throw new EbpfError('EINVAL', `unknown atomic operation ${String(o.operation)}`);
      const alwaysFetch = o.operation === 'xchg' || o.operation === 'cmpxchg';
      if (alwaysFetch && o.fetch !== true) throw new EbpfError('EINVAL', `atomic ${o.operation} always fetches (fetch: true)`);
      const imm = alwaysFetch || !o.fetch ? base : base | BPF_ATOMIC.FETCH;
      return [insn(BPF_CLASS.STX | BPF_MODE.ATOMIC | size, checkReg(o.dst, 'dst'), checkReg(o.src, 'src'), off16(o.off), imm)];
    }
    case 'lddw': {
      if (typeof o.imm !== 'bigint' || o.imm < -(1n << 63n) || o.imm >= 1n << 64n) {
        throw new EbpfError('EINVAL', 'lddw imm must be a bigint in -2^63 .. 2^64-1');
      }
      const pseudo = checkInt(o.pseudo, 'lddw pseudo', 0, MAX_LDDW_PSEUDO);
      const u = BigInt.asUintN(64, o.imm);
      const lo = Number(BigInt.asIntN(32, u));
      const hi = Number(BigInt.asIntN(32, u >> 32n));
      return [insn(LDDW_OPCODE, checkReg(o.dst, 'dst'), pseudo, 0, lo), insn(0, 0, 0, 0, hi)];
    }
    case 'ldabs':
    case 'ldind': {
      if (o.size !== 'b' && o.size !== 'h' && o.size !== 'w') throw new EbpfError('EINVAL', 'legacy packet loads are b, h or w');
      const mode = o.op === 'ldabs' ? BPF_MODE.ABS : BPF_MODE.IND;
      const src = o.op === 'ldind' ? checkReg(o.src, 'src') : 0;
      return [insn(BPF_CLASS.LD | mode | sizeCode(o.size), 0, src, 0, imm32(o.imm))];
    }
    case 'call': {
      const src = CALL_KINDS.indexOf(o.kind);
      if (src < 0) throw new EbpfError('EINVAL', `call kind must be helper, local or kfunc, got ${String(o.kind)}`);
      return [insn(BPF_CLASS.JMP | BPF_JMP_OP.CALL, 0, src, 0, imm32(o.imm))];
    }
    case 'exit':
      return [insn(BPF_CLASS.JMP | BPF_JMP_OP.EXIT, 0, 0, 0, 0)];
    default:
      throw new EbpfError('EINVAL', `unknown instruction op ${String((o as { op?: unknown }).op)}`);
  }
}

/**
 * Encode typed instruction objects into wire slots (the inverse of {@link fromInsns}).
 * @throws EbpfError EINVAL for an object that is not a valid instruction.
 */
export function toInsns(ops: readonly Op[]): Insn[] {
  if (!Array.isArray(ops)) throw new EbpfError('EINVAL', 'toInsns: expected an array of instruction objects');
  const out: Insn[] = [];
  for (const o of ops) for (const x of encodeOp(o)) out.push(x);
  return out;
}
