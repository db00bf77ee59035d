/**
 * A small x86-64 interpreter for the instruction forms the `@bpf-dispatcher/x86` encoder
 * emits: enough to run the dispatcher image, trampolines, retpoline thunks, XDP programs,
 * the eBPF JIT's output and poll loops in the simulated arena, deterministically, on any
 * platform. Semantics follow the Intel SDM (Vol. 2) for every defined result and flag; a
 * differential test runs the same code on the real CPU.
 *
 * Forms executed: mov (all widths, immediates, loads/stores), movabs, movzx, movsx/movsxd,
 * lea, add/or/and/sub/xor/cmp/test, inc/dec/neg/not, shl/shr/sar/rol/ror by 1, imm8 and
 * cl, imul (1-, 2- and 3-operand), mul, div, idiv, cdq/cqo, bswap, xchg, xadd, cmpxchg
 * (the lock prefix is accepted: one simulated CPU runs one instruction at a time), push,
 * pop, call, jmp, ret, jcc, setcc, cmovcc, nop/pause/fences, rdtsc/rdtscp, int3 (faults).
 */
import { GP64, type Gp64 } from '@bpf-dispatcher/x86';
import { toWord } from '../base-arena.js';
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

/**
 * A function at an address outside the arena: gets the registers, returns rax (a 64-bit
 * word: a bigint in [-2^63, 2^64) or a safe integer; anything else is an EINVAL error of
 * the run) or nothing to keep rax.
 */
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

  /** The accumulator (al/ax/eax/rax) of a width, as an operand. */
  private static acc(bits: number): SimOperand {
    return { k: 'reg', id: 0, bits: bits as 8 | 16 | 32 | 64 };
  }

  /** rdx (dx/edx), the high half of the implicit operands of mul/div. */
  private static dxOf(bits: number): SimOperand {
    return { k: 'reg', id: 2, bits: bits as 8 | 16 | 32 | 64 };
  }

  /** Set ZF/SF/PF from a result (the "set according to the result" flags). */
  private resultFlags(result: bigint, bits: number): void {
    this.zf = result === 0n;
    this.sf = (result & (signBits[bits] as bigint)) !== 0n;
    this.pf = parity(result);
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
      if (result !== undefined) this.regs[0] = toWord(result, `external function at 0x${rip.toString(16)} returned`);
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
      case 'sal':
      case 'shr':
      case 'sar':
      case 'rol':
      case 'ror':
        this.shift(m === 'sal' ? 'shl' : m, a, b);
        return;
      case 'imul':
        if (ops.length === 1) this.mulDx(a, true);
        else this.imul(a, ops.length === 3 ? b : a, (ops.length === 3 ? ops[2] : b) as SimOperand);
        return;
      case 'mul':
        this.mulDx(a, false);
        return;
      case 'div':
      case 'idiv':
        this.divide(insn, a, m === 'idiv');
        return;
      case 'cdq':
        this.set(SimCpu.dxOf(32), 32, (this.regs[0] as bigint) & 0x8000_0000n ? 0xffff_ffffn : 0n);
        return;
      case 'cqo':
        this.regs[2] = (this.regs[0] as bigint) & (1n << 63n) ? MASK64 : 0n;
        return;
      case 'cwd':
        this.set(SimCpu.dxOf(16), 16, (this.regs[0] as bigint) & 0x8000n ? 0xffffn : 0n);
        return;
      case 'cdqe':
        this.regs[0] = BigInt.asUintN(64, BigInt.asIntN(32, (this.regs[0] as bigint) & 0xffff_ffffn));
        return;
      case 'cmpxchg': {
        const bits = this.width(a, this.width(b, 64));
        const acc = SimCpu.acc(bits);
        const x = this.get(acc, bits);
        const y = this.get(a, bits);
        const mask = masks[bits] as bigint;
        this.addFlags(x, y, (x - y) & mask, bits, x < y, true);
        // Intel: equal -> DEST = SRC; else accumulator = DEST and DEST is rewritten with its
        // own value (so a 32-bit register destination is zero-extended either way).
        if (x === y) this.set(a, bits, this.get(b, bits));
        else {
          this.set(acc, bits, y);
          this.set(a, bits, y);
        }
        return;
      }
      case 'bswap': {
        const bits = this.width(a, 64);
        if (bits === 16) fault(insn.address, 'bswap of a 16-bit register is undefined');
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
      case 'leave':
        this.regs[4] = this.regs[5] as bigint;
        this.regs[5] = this.pop();
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

  /**
   * SHL/SHR/SAR/ROL/ROR (Intel SDM Vol. 2B "SAL/SAR/SHL/SHR", Vol. 2A "RCL/RCR/ROL/ROR"):
   * the count (1, imm8 or cl) is masked to 6 bits for 64-bit operands and 5 bits otherwise;
   * rotates of 8/16-bit operands then take it modulo the width. A masked count of 0 changes
   * no flag, but the destination is still written: a 32-bit register destination is
   * zero-extended to 64 bits, as for every 32-bit register write.
   */
  private shift(m: string, a: SimOperand, b: SimOperand | undefined): void {
    const bits = this.width(a, 64);
    const x = this.get(a, bits);
    const count = Number((b === undefined ? 1n : this.get(b, 8)) & (bits === 64 ? 63n : 31n));
    if (count === 0) {
      this.set(a, bits, x);
      return;
    }
    const mask = masks[bits] as bigint;
    const sign = signBits[bits] as bigint;
    const n = BigInt(count);
    const width = BigInt(bits);
    let result: bigint;
    if (m === 'rol' || m === 'ror') {
      const r = n % width;
      result = r === 0n ? x : m === 'rol' ? ((x << r) | (x >> (width - r))) & mask : ((x >> r) | (x << (width - r))) & mask;
      const msb = (result & sign) !== 0n;
      if (m === 'rol') {
        this.cf = (result & 1n) === 1n;
        this.of = msb !== this.cf; // defined for a count of 1
      } else {
        this.cf = msb;
        this.of = msb !== ((result & (sign >> 1n)) !== 0n);
      }
      this.set(a, bits, result);
      return;
    }
    if (m === 'shl') {
      result = (x << n) & mask;
      // the last bit shifted out (undefined by Intel when count >= width: 0 here)
      this.cf = n <= width && ((x >> (width - n)) & 1n) === 1n;
      this.of = ((result & sign) !== 0n) !== this.cf;
    } else if (m === 'shr') {
      result = x >> n;
      this.cf = ((x >> (n - 1n)) & 1n) === 1n;
      this.of = (x & sign) !== 0n;
    } else {
      result = BigInt.asUintN(bits, BigInt.asIntN(bits, x) >> n);
      this.cf = ((BigInt.asIntN(bits, x) >> (n - 1n)) & 1n) === 1n;
      this.of = false;
    }
    this.resultFlags(result, bits);
    this.set(a, bits, result);
  }

  /**
   * Two- and three-operand IMUL: `dst = low(src * factor)` (signed); CF = OF = the signed
   * product does not fit the width. SF/ZF/PF are undefined by Intel: set from the result.
   */
  private imul(dst: SimOperand, src: SimOperand, factor: SimOperand): void {
    const bits = this.width(dst, 64);
    const product = BigInt.asIntN(bits, this.get(src, bits)) * BigInt.asIntN(bits, this.get(factor, bits));
    const low = BigInt.asUintN(bits, product);
    this.cf = this.of = BigInt.asIntN(bits, low) !== product;
    this.resultFlags(low, bits);
    this.set(dst, bits, low);
  }

  /**
   * One-operand MUL/IMUL: ax = al * r/m8, else rdx:rax (dx:ax, edx:eax) = rax * r/m.
   * CF = OF = the high half is significant. Other flags undefined by Intel (SF/ZF/PF set
   * from the low half here).
   */
  private mulDx(src: SimOperand, signed: boolean): void {
    const bits = this.width(src, 64);
    const acc = SimCpu.acc(bits);
    const x = this.get(acc, bits);
    const y = this.get(src, bits);
    const product = signed ? BigInt.asIntN(bits, x) * BigInt.asIntN(bits, y) : x * y;
    const low = BigInt.asUintN(bits, product);
    const high = BigInt.asUintN(bits, product >> BigInt(bits));
    this.cf = this.of = signed ? BigInt.asIntN(bits, low) !== product : high !== 0n;
    this.resultFlags(low, bits);
    if (bits === 8) {
      this.set(SimCpu.acc(16), 16, BigInt.asUintN(16, product));
      return;
    }
    this.set(acc, bits, low);
    this.set(SimCpu.dxOf(bits), bits, high);
  }

  /**
   * DIV/IDIV: divide ax (dx:ax, edx:eax, rdx:rax) by r/m; quotient in al (ax, eax, rax),
   * remainder in ah (dx, edx, rdx). Signed division truncates toward zero and the remainder
   * takes the dividend's sign. A zero divisor or a quotient that does not fit raises #DE,
   * here a CPU_FAULT. Flags are undefined by Intel and left unchanged.
   */
  private divide(insn: SimInsn, src: SimOperand, signed: boolean): void {
    const bits = this.width(src, 64);
    const width = BigInt(bits);
    const divisorRaw = this.get(src, bits);
    if (divisorRaw === 0n) fault(insn.address, `divide error (#DE): ${insn.text} by zero`);
    let dividendRaw: bigint;
    if (bits === 8) dividendRaw = this.get(SimCpu.acc(16), 16);
    else dividendRaw = (this.get(SimCpu.dxOf(bits), bits) << width) | this.get(SimCpu.acc(bits), bits);
    const dividend = signed ? BigInt.asIntN(bits * 2, dividendRaw) : dividendRaw;
    const divisor = signed ? BigInt.asIntN(bits, divisorRaw) : divisorRaw;
    const quotient = dividend / divisor; // BigInt division truncates toward zero
    const remainder = dividend - quotient * divisor;
    const fits = signed ? BigInt.asIntN(bits, quotient) === quotient : quotient <= (masks[bits] as bigint);
    if (!fits) fault(insn.address, `divide error (#DE): the quotient of ${insn.text} does not fit ${bits} bits`);
    const q = BigInt.asUintN(bits, quotient);
    const r = BigInt.asUintN(bits, remainder);
    if (bits === 8) {
      this.set(SimCpu.acc(16), 16, (r << 8n) | q);
      return;
    }
    this.set(SimCpu.acc(bits), bits, q);
    this.set(SimCpu.dxOf(bits), bits, r);
  }
}
