/**
 * A small x86-64 interpreter for the instruction subset our JIT emits: enough to run the
 * dispatcher image, trampolines, retpoline thunks, XDP programs and poll loops in the
 * simulated arena, deterministically, on any platform.
 */
import { GP64, type Gp64 } from '@bpf-dispatcher/x86';
import { TextPokeError } from '../errors.js';
import { BASE_NONE, BASE_RIP, type SimInsn, type SimOperand } from './decode.js';

/** What the CPU needs from memory. Addresses are unsigned 64-bit. */
export interface CpuMemory {
  load(address: bigint, bytes: number): bigint;
  store(address: bigint, bytes: number, value: bigint): void;
  /** The decoded instruction at `address`, or undefined if it is not arena text. */
  fetch(address: bigint): SimInsn | undefined;
}

/** Register values as seen by external functions and returned by a run. */
export type Registers = Record<Gp64, bigint>;

/** A function at an address outside the arena: gets the registers, returns rax (or nothing to keep it). */
export type ExternalFunction = (regs: Registers) => bigint | number | undefined;

const MASK64 = (1n << 64n) - 1n;
const masks: Record<number, bigint> = { 8: 0xffn, 16: 0xffffn, 32: 0xffff_ffffn, 64: MASK64 };
const signBits: Record<number, bigint> = { 8: 0x80n, 16: 0x8000n, 32: 0x8000_0000n, 64: 1n << 63n };

function fault(address: bigint, what: string): never {
  throw new TextPokeError('CPU_FAULT', `simulated CPU at 0x${address.toString(16)}: ${what}`);
}

function parity(value: bigint): boolean {
  let v = Number(value & 0xffn);
  v ^= v >> 4;
  v ^= v >> 2;
  v ^= v >> 1;
  return (v & 1) === 0;
}

/** The CPU state and interpreter. One per run. */
export class SimCpu {
  readonly regs = new BigUint64Array(16);
  rip = 0n;
  cf = false;
  zf = false;
  sf = false;
  of = false;
  pf = false;
  steps = 0;

  constructor(
    private readonly memory: CpuMemory,
    private readonly externals: ReadonlyMap<bigint, ExternalFunction>,
  ) {}

  /** Registers by name. */
  snapshot(): Registers {
    const out = {} as Registers;
    GP64.forEach((name, id) => {
      out[name] = this.regs[id] as bigint;
    });
    return out;
  }

  private push(value: bigint): void {
    const rsp = ((this.regs[4] as bigint) - 8n) & MASK64;
    this.regs[4] = rsp;
    this.memory.store(rsp, 8, value);
  }

  private pop(): bigint {
    const rsp = this.regs[4] as bigint;
    const value = this.memory.load(rsp, 8);
    this.regs[4] = (rsp + 8n) & MASK64;
    return value;
  }

  private address(op: Extract<SimOperand, { k: 'mem' }>): bigint {
    if (op.base === BASE_RIP || op.base === BASE_NONE) return op.disp;
    return ((this.regs[op.base] as bigint) + op.disp) & MASK64;
  }

  private width(op: SimOperand, fallback: number): number {
    if (op.k === 'reg') return op.bits;
    if (op.k === 'mem' && op.bits !== 0) return op.bits;
    return fallback;
  }

  private get(op: SimOperand, bits: number): bigint {
    switch (op.k) {
      case 'reg': {
        const v = this.regs[op.id] as bigint;
        return op.bits === 64 ? v : v & (masks[op.bits] as bigint);
      }
      case 'imm':
        return op.value & (masks[bits] as bigint);
      case 'mem':
        return this.memory.load(this.address(op), bits / 8);
      case 'br':
        return op.target;
    }
  }

  private set(op: SimOperand, bits: number, value: bigint): void {
    const v = value & (masks[bits] as bigint);
    if (op.k === 'reg') {
      if (op.bits === 64 || op.bits === 32) this.regs[op.id] = v; // 32-bit writes zero-extend
      else {
        const keep = (this.regs[op.id] as bigint) & ~(masks[op.bits] as bigint) & MASK64;
        this.regs[op.id] = keep | v;
      }
    } else if (op.k === 'mem') {
      this.memory.store(this.address(op), bits / 8, v);
    } else {
      fault(this.rip, 'write to an immediate operand');
    }
  }

  private logicFlags(result: bigint, bits: number): void {
    this.cf = false;
    this.of = false;
    this.zf = result === 0n;
    this.sf = (result & (signBits[bits] as bigint)) !== 0n;
    this.pf = parity(result);
  }

  private addFlags(a: bigint, b: bigint, result: bigint, bits: number, carry: boolean, sub: boolean): void {
    const sign = signBits[bits] as bigint;
    this.cf = carry;
    this.zf = result === 0n;
    this.sf = (result & sign) !== 0n;
    this.pf = parity(result);
    const sa = (a & sign) !== 0n;
    const sb = (b & sign) !== 0n;
    const sr = (result & sign) !== 0n;
    this.of = sub ? sa !== sb && sr !== sa : sa === sb && sr !== sa;
  }

  private condition(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0:
        r = this.of;
        break;
      case 1:
        r = this.cf;
        break;
      case 2:
        r = this.zf;
        break;
      case 3:
        r = this.cf || this.zf;
        break;
      case 4:
        r = this.sf;
        break;
      case 5:
        r = this.pf;
        break;
      case 6:
        r = this.sf !== this.of;
        break;
      default:
        r = this.zf || this.sf !== this.of;
    }
    return (cc & 1) === 0 ? r : !r;
  }

  /** Execute one instruction, or one external function plus its return. */
  step(trace: bigint[] | undefined): void {
    const rip = this.rip;
    trace?.push(rip);
    this.steps++;
    const insn = this.memory.fetch(rip);
    if (insn === undefined) {
      const external = this.externals.get(rip);
      if (external === undefined) fault(rip, 'execution outside arena text (no code or external function here)');
      const result = external(this.snapshot());
      if (result !== undefined) this.regs[0] = BigInt.asUintN(64, BigInt(result));
      this.rip = this.pop();
      return;
    }
    this.rip = insn.next;
    this.execute(insn);
  }

  private execute(insn: SimInsn): void {
    const ops = insn.operands;
    const a = ops[0] as SimOperand;
    const b = ops[1] as SimOperand;
    const m = insn.mnemonic;
    if (insn.cc >= 0) {
      if (m.startsWith('j')) {
        if (this.condition(insn.cc)) this.rip = this.get(a, 64);
      } else if (m.startsWith('cmov')) {
        const bits = this.width(a, 64);
        // cmov with a 32-bit destination zero-extends even when the move is not taken
        this.set(a, bits, this.condition(insn.cc) ? this.get(b, bits) : this.get(a, bits));
      } else if (m.startsWith('set')) {
        this.set(a, 8, this.condition(insn.cc) ? 1n : 0n);
      } else fault(insn.address, `unsupported conditional instruction ${insn.text}`);
      return;
    }
    switch (m) {
      case 'nop':
      case 'pause':
      case 'lfence':
      case 'mfence':
      case 'sfence':
        return;
      case 'mov': {
        const bits = this.width(a, this.width(b, 64));
        this.set(a, bits, this.get(b, bits));
        return;
      }
      case 'movzx': {
        const from = this.width(b, 8);
        this.set(a, this.width(a, 64), this.get(b, from));
        return;
      }
      case 'movsx':
      case 'movsxd': {
        const from = this.width(b, 32);
        const v = this.get(b, from);
        const signed = BigInt.asIntN(from, v);
        this.set(a, this.width(a, 64), BigInt.asUintN(64, signed));
        return;
      }
      case 'lea':
        if (b.k !== 'mem') fault(insn.address, 'lea without a memory operand');
        this.set(a, this.width(a, 64), this.address(b));
        return;
      case 'add':
      case 'sub':
      case 'cmp': {
        const bits = this.width(a, 64);
        const x = this.get(a, bits);
        const y = this.get(b, bits);
        const mask = masks[bits] as bigint;
        const sub = m !== 'add';
        const result = (sub ? x - y : x + y) & mask;
        this.addFlags(x, y, result, bits, sub ? x < y : x + y > mask, sub);
        if (m !== 'cmp') this.set(a, bits, result);
        return;
      }
      case 'and':
      case 'or':
      case 'xor':
      case 'test': {
        const bits = this.width(a, 64);
        const x = this.get(a, bits);
        const y = this.get(b, bits);
        const result = m === 'or' ? x | y : m === 'xor' ? x ^ y : x & y;
        this.logicFlags(result, bits);
        if (m !== 'test') this.set(a, bits, result);
        return;
      }
      case 'inc':
      case 'dec': {
        const bits = this.width(a, 64);
        const x = this.get(a, bits);
        const result = (m === 'inc' ? x + 1n : x - 1n) & (masks[bits] as bigint);
        const cf = this.cf;
        this.addFlags(x, 1n, result, bits, false, m === 'dec');
        this.cf = cf;
        this.set(a, bits, result);
        return;
      }
      case 'neg': {
        const bits = this.width(a, 64);
        const x = this.get(a, bits);
        const result = -x & (masks[bits] as bigint);
        this.addFlags(0n, x, result, bits, x !== 0n, true);
        this.set(a, bits, result);
        return;
      }
      case 'not': {
        const bits = this.width(a, 64);
        this.set(a, bits, ~this.get(a, bits));
        return;
      }
      case 'shl':
      case 'shr':
      case 'sar':
      case 'rol':
      case 'ror':
        this.shift(m, a, b);
        return;
      case 'bswap': {
        const bits = this.width(a, 64);
        let v = this.get(a, bits);
        let out = 0n;
        for (let i = 0; i < bits / 8; i++) {
          out = (out << 8n) | (v & 0xffn);
          v >>= 8n;
        }
        this.set(a, bits, out);
        return;
      }
      case 'push':
        this.push(this.get(a, 64));
        return;
      case 'pop':
        this.set(a, 64, this.pop());
        return;
      case 'call': {
        const target = this.get(a, 64);
        this.push(insn.next);
        this.rip = target;
        return;
      }
      case 'jmp':
        this.rip = this.get(a, 64);
        return;
      case 'ret':
        this.rip = this.pop();
        return;
      case 'xchg': {
        const bits = this.width(a, this.width(b, 64));
        const x = this.get(a, bits);
        this.set(a, bits, this.get(b, bits));
        this.set(b, bits, x);
        return;
      }
      case 'xadd': {
        const bits = this.width(a, this.width(b, 64));
        const x = this.get(a, bits);
        const y = this.get(b, bits);
        const mask = masks[bits] as bigint;
        const result = (x + y) & mask;
        this.addFlags(x, y, result, bits, x + y > mask, false);
        this.set(b, bits, x);
        this.set(a, bits, result);
        return;
      }
      case 'rdtsc':
      case 'rdtscp': {
        // A deterministic clock: one tick per executed instruction.
        const tsc = BigInt(this.steps);
        this.regs[0] = tsc & 0xffff_ffffn;
        this.regs[2] = tsc >> 32n;
        if (m === 'rdtscp') this.regs[1] = 0n;
        return;
      }
      case 'int3':
        fault(insn.address, 'int3 (breakpoint / unused text)');
        break;
      default:
        fault(insn.address, `instruction outside the simulated subset: ${insn.text}`);
    }
  }

  private shift(m: string, a: SimOperand, b: SimOperand | undefined): void {
    const bits = this.width(a, 64);
    const count = Number((b === undefined ? 1n : this.get(b, 8)) & (bits === 64 ? 63n : 31n));
    if (count === 0) return;
    const mask = masks[bits] as bigint;
    const x = this.get(a, bits);
    const n = BigInt(count);
    const width = BigInt(bits);
    let result: bigint;
    if (m === 'shl') {
      result = (x << n) & mask;
      this.cf = ((x >> (width - n)) & 1n) === 1n;
    } else if (m === 'shr') {
      result = x >> n;
      this.cf = ((x >> (n - 1n)) & 1n) === 1n;
    } else if (m === 'sar') {
      result = BigInt.asUintN(bits, BigInt.asIntN(bits, x) >> n);
      this.cf = ((x >> (n - 1n)) & 1n) === 1n;
    } else if (m === 'rol') {
      const r = n % width;
      result = ((x << r) | (x >> (width - r))) & mask;
      this.cf = (result & 1n) === 1n;
      this.set(a, bits, result);
      return;
    } else {
      const r = n % width;
      result = ((x >> r) | (x << (width - r))) & mask;
      this.cf = (result & (signBits[bits] as bigint)) !== 0n;
      this.set(a, bits, result);
      return;
    }
    this.zf = result === 0n;
    this.sf = (result & (signBits[bits] as bigint)) !== 0n;
    this.pf = parity(result);
    this.of = false;
    this.set(a, bits, result);
  }
}
