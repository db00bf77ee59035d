/**
 * The structural checks the JIT makes before translating a program, and the facts it
 * needs: subprogram boundaries (BPF-to-BPF call targets), jump targets, registers used.
 * These are the kernel verifier's `check_subprogs()`/`check_cfg()`-level rules (known
 * opcodes, no write to R10, jumps inside their subprogram, no fall-through off the end,
 * no recursion, at most 8 frames); they keep the JIT from emitting code that leaves its
 * image. They do not prove memory accesses safe or loops bounded: that is the verifier's job.
 */
import { EbpfError } from '../errors.js';
import { BPF_ALU_OP, BPF_ATOMIC, BPF_ATOMIC_OPS, BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_PSEUDO_CALL, BPF_SIZE, BPF_SRC, type Insn } from '../insn.js';
import { JitError } from './errors.js';

/** Most instructions a program may have (the kernel's BPF_COMPLEXITY_LIMIT_INSNS). */
export const MAX_INSNS = 1_000_000;
/** Most frames of a BPF-to-BPF call chain, the main program included (the kernel's MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;

/** One subprogram: instructions [start, end). */
export interface SubprogInfo {
  readonly start: number;
  readonly end: number;
  /** eBPF registers R6..R9 it uses (their x86 registers are pushed by its prologue). */
  readonly calleeSaved: readonly number[];
}

/** What the JIT learns from a program before emitting it. */
export interface Analysis {
  readonly insns: readonly Insn[];
  readonly subprogs: readonly SubprogInfo[];
  /** 1 where an instruction is the target of a jump. */
  readonly isTarget: Uint8Array;
  /** Helper ids called. */
  readonly helperIds: ReadonlySet<number>;
}

function isInt(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Check that `program` is an array of well-formed instruction slots.
 * @throws EbpfError EINVAL otherwise (naming the slot and field).
 */
export function checkSlots(program: unknown): readonly Insn[] {
  if (!Array.isArray(program)) throw new EbpfError('EINVAL', 'jit: expected an array of instructions or a verified program');
  if (program.length === 0) throw new EbpfError('EINVAL', 'jit: the program is empty');
  if (program.length > MAX_INSNS) throw new EbpfError('EINVAL', `jit: ${program.length} instructions exceed the limit of ${MAX_INSNS}`);
  for (let i = 0; i < program.length; i++) {
    const x = program[i] as Partial<Insn> | null;
    if (typeof x !== 'object' || x === null) throw new EbpfError('EINVAL', `jit: instruction ${i} is not an object`);
    if (
      !isInt(x.code, 0, 0xff) ||
      !isInt(x.dst, 0, 15) ||
      !isInt(x.src, 0, 15) ||
      !isInt(x.off, -0x8000, 0x7fff) ||
      !isInt(x.imm, -0x8000_0000, 0x7fff_ffff)
    ) {
      throw new EbpfError('EINVAL', `jit: instruction ${i} has a field that is not an integer in range: ${safeJson(x)}`);
    }
  }
  return program as readonly Insn[];
}

function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(x);
  } catch {
    return String(x);
  }
}

/** The slot a jump at `i` goes to (JMP32 `ja` is `gotol` with the offset in imm). */
export function jumpTarget(x: Insn, i: number): number {
  return (x.code === (BPF_CLASS.JMP32 | BPF_JMP_OP.JA) ? x.imm : x.off) + i + 1;
}

/** True for `exit`, `ja` and `gotol`: instructions after which control does not fall through. */
function endsFlow(x: Insn): boolean {
  return (
    x.code === (BPF_CLASS.JMP | BPF_JMP_OP.EXIT) ||
    x.code === (BPF_CLASS.JMP | BPF_JMP_OP.JA) ||
    x.code === (BPF_CLASS.JMP32 | BPF_JMP_OP.JA)
  );
}

const LOCAL_CALL = BPF_CLASS.JMP | BPF_JMP_OP.CALL;

function refuse(x: Insn, i: number, why: string): never {
  throw new JitError(
    i,
    `${why} (code 0x${x.code.toString(16).padStart(2, '0')}, dst r${x.dst}, src r${x.src}, off ${x.off}, imm ${x.imm})`,
  );
}

function badReg(x: Insn, i: number, r: number, what: string): never {
  return refuse(x, i, r > 10 ? `${what} register r${r} does not exist` : 'r10 (the frame pointer) is read-only');
}

/**
 * Check one instruction's opcode and fields; returns the registers it reads and writes as
 * bit masks. @throws JitError naming the instruction.
 */
function checkInsn(insns: readonly Insn[], i: number, maps: ReadonlySet<number>): number {
  const x = insns[i] as Insn;
  const { code, dst, src, off, imm } = x;
  const cls = code & 0x07;
  const fail = (why: string): never => refuse(x, i, why);
  const reg = (r: number, what: string, writable: boolean): number => (r > 10 || (writable && r === 10) ? badReg(x, i, r, what) : 1 << r);
  switch (cls) {
    case BPF_CLASS.ALU:
    case BPF_CLASS.ALU64: {
      const op = code & 0xf0;
      const x64 = cls === BPF_CLASS.ALU64;
      const isX = (code & BPF_SRC.X) !== 0;
      let used = reg(dst, 'destination', true);
      if (op === BPF_ALU_OP.NEG) {
        if (isX || src !== 0 || off !== 0 || imm !== 0) fail('neg uses reserved fields');
        return used;
      }
      if (op === BPF_ALU_OP.END) {
        if ((x64 && isX) || src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)) fail('invalid byte swap');
        return used;
      }
      if (op > BPF_ALU_OP.END) fail('unknown ALU operation');
      if (isX) used |= reg(src, 'source', false);
      else if (src !== 0) fail('the source field of an immediate ALU operation must be 0');
      const okOff =
        off === 0 ||
        ((op === BPF_ALU_OP.DIV || op === BPF_ALU_OP.MOD) && off === 1) ||
        (op === BPF_ALU_OP.MOV && isX && (off === 8 || off === 16 || (x64 && off === 32)));
      if (!okOff) fail(`offset ${off} is not defined for this ALU operation`);
      if (isX && imm !== 0) fail('the immediate of a register ALU operation must be 0');
      return used;
    }
    case BPF_CLASS.JMP:
    case BPF_CLASS.JMP32: {
      const op = code & 0xf0;
      const isX = (code & BPF_SRC.X) !== 0;
      const j32 = cls === BPF_CLASS.JMP32;
      if (op === BPF_JMP_OP.JA) {
        if (isX || dst !== 0 || src !== 0 || (j32 ? off !== 0 : imm !== 0)) fail('ja uses reserved fields');
        return 0;
      }
      if (op === BPF_JMP_OP.EXIT) {
        if (j32 || isX || dst !== 0 || src !== 0 || off !== 0 || imm !== 0) fail('exit uses reserved fields');
        return 1;
      }
      if (op === BPF_JMP_OP.CALL) {
        if (j32 || isX || dst !== 0 || off !== 0) fail('call uses reserved fields');
        if (src === BPF_PSEUDO_CALL.KFUNC) fail('kfunc calls are not supported');
        if (src !== BPF_PSEUDO_CALL.HELPER && src !== BPF_PSEUDO_CALL.LOCAL) fail('unknown call kind');
        return 0b111111;
      }
      if (op > BPF_JMP_OP.JSLE) fail('unknown jump operation');
      let used = reg(dst, 'destination', false);
      if (isX) {
        used |= reg(src, 'source', false);
        if (imm !== 0) fail('the immediate of a register jump must be 0');
      } else if (src !== 0) fail('the source field of an immediate jump must be 0');
      return used;
    }
    case BPF_CLASS.LD: {
      if (code !== (BPF_CLASS.LD | BPF_SIZE.DW | BPF_MODE.IMM)) {
        const mode = code & 0xe0;
        fail(mode === BPF_MODE.ABS || mode === BPF_MODE.IND ? 'legacy packet access (LD_ABS/LD_IND) is not supported' : 'unknown load');
      }
      if (src === 1 || src === 2) {
        if (!maps.has(x.imm)) fail(`lddw refers to map fd ${x.imm}, which the JIT was not given (options.maps)`);
      } else if (src !== 0) fail(`lddw with pseudo source ${src} is not supported`);
      if (off !== 0) fail('lddw uses reserved fields');
      const next = insns[i + 1];
      if (next === undefined) fail('lddw has no second slot');
      else if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0)
        fail('the second slot of lddw must have code, registers and offset 0');
      return reg(dst, 'destination', true);
    }
    case BPF_CLASS.LDX: {
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode !== BPF_MODE.MEM && !(mode === BPF_MODE.MEMSX && size !== BPF_SIZE.DW)) fail('unknown load mode');
      if (imm !== 0) fail('the immediate of a load must be 0');
      return reg(dst, 'destination', true) | reg(src, 'source', false);
    }
    case BPF_CLASS.ST: {
      if ((code & 0xe0) !== BPF_MODE.MEM) fail('unknown store mode');
      if (src !== 0) fail('the source field of an immediate store must be 0');
      return reg(dst, 'base', false);
    }
    default: {
      // STX
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode === BPF_MODE.MEM) {
        if (imm !== 0) fail('the immediate of a store must be 0');
        return reg(dst, 'base', false) | reg(src, 'source', false);
      }
      if (mode !== BPF_MODE.ATOMIC) fail('unknown store mode');
      if (size !== BPF_SIZE.W && size !== BPF_SIZE.DW) fail('atomic operations are 32 or 64 bits wide');
      if (!BPF_ATOMIC_OPS.has(imm)) fail('unknown atomic operation');
      const fetches = (imm & BPF_ATOMIC.FETCH) !== 0;
      return reg(dst, 'base', false) | reg(src, 'source', fetches) | (imm === BPF_ATOMIC.CMPXCHG ? 1 : 0);
    }
  }
}

/**
 * Check a program's structure and find its subprograms.
 * @throws EbpfError EINVAL for malformed slots; JitError for an unknown or invalid
 *   instruction, a jump out of its subprogram or into an `lddw`, a subprogram that falls
 *   off its end, recursion or more than {@link MAX_CALL_FRAMES} frames.
 */
export function analyze(program: unknown, maps: ReadonlySet<number> = new Set()): Analysis {
  const insns = checkSlots(program);
  const n = insns.length;
  const used = new Int32Array(n);
  const isSecondSlot = new Uint8Array(n);
  const starts = new Set<number>([0]);
  const helperIds = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (isSecondSlot[i]) continue;
    const x = insns[i] as Insn;
    used[i] = checkInsn(insns, i, maps);
    if (x.code === (BPF_CLASS.LD | BPF_SIZE.DW | BPF_MODE.IMM)) isSecondSlot[i + 1] = 1;
    if (x.code === LOCAL_CALL) {
      if (x.src === BPF_PSEUDO_CALL.LOCAL) {
        const target = i + 1 + x.imm;
        if (target < 0 || target >= n) throw new JitError(i, `local call target ${target} is outside the program`);
        starts.add(target);
      } else helperIds.add(x.imm);
    }
  }
  const sorted = [...starts].sort((a, b) => a - b);
  const subprogOf = new Int32Array(n);
  const subprogs: SubprogInfo[] = [];
  sorted.forEach((start, k) => {
    const end = sorted[k + 1] ?? n;
    if (isSecondSlot[start]) throw new JitError(start, 'a local call targets the second slot of an lddw');
    let mask = 0;
    for (let i = start; i < end; i++) {
      subprogOf[i] = k;
      mask |= used[i] as number;
    }
    const last = insns[end - 1] as Insn;
    if (isSecondSlot[end - 1] || !endsFlow(last))
      throw new JitError(end - 1, 'the last instruction of a subprogram must be exit or a jump');
    subprogs.push({ start, end, calleeSaved: [6, 7, 8, 9].filter((r) => (mask & (1 << r)) !== 0) });
  });
  const isTarget = new Uint8Array(n);
  const callees: Set<number>[] = subprogs.map(() => new Set<number>());
  for (let i = 0; i < n; i++) {
    if (isSecondSlot[i]) continue;
    const x = insns[i] as Insn;
    const cls = x.code & 0x07;
    if (cls !== BPF_CLASS.JMP && cls !== BPF_CLASS.JMP32) continue;
    const op = x.code & 0xf0;
    if (op === BPF_JMP_OP.EXIT) continue;
    if (op === BPF_JMP_OP.CALL) {
      if (x.src === BPF_PSEUDO_CALL.LOCAL) (callees[subprogOf[i] as number] as Set<number>).add(subprogOf[i + 1 + x.imm] as number);
      continue;
    }
    const target = jumpTarget(x, i);
    const sp = subprogs[subprogOf[i] as number] as SubprogInfo;
    if (target < sp.start || target >= sp.end)
      throw new JitError(i, `jump target ${target} is outside its subprogram [${sp.start}, ${sp.end})`);
    if (isSecondSlot[target]) throw new JitError(i, `jump target ${target} is the second slot of an lddw`);
    isTarget[target] = 1;
  }
  checkCallGraph(callees, subprogs);
  return { insns, subprogs, isTarget, helperIds };
}

function checkCallGraph(callees: readonly Set<number>[], subprogs: readonly SubprogInfo[]): void {
  const depth = new Int32Array(callees.length).fill(-1); // -1 unvisited, -2 on the path
  const visit = (k: number): number => {
    const d = depth[k] as number;
    if (d === -2) throw new JitError((subprogs[k] as SubprogInfo).start, 'recursive BPF-to-BPF call');
    if (d >= 0) return d;
    depth[k] = -2;
    let max = 0;
    for (const c of callees[k] as Set<number>) max = Math.max(max, visit(c));
    depth[k] = max + 1;
    return max + 1;
  };
  const frames = visit(0);
  if (frames > MAX_CALL_FRAMES) throw new JitError(-1, `the call chain is ${frames} frames deep; at most ${MAX_CALL_FRAMES} are allowed`);
}
