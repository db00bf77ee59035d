import { EbpfError } from './errors.js';
import type { Insn } from './insn.js';
import { aluOp, endianOp, immOperand, jmpCond, movsxOp, negOp } from './interpreter/alu.js';
import {
  type AccessSize,
  AddressSpace,
  INTERPRETER_CONTEXT_ADDRESS,
  INTERPRETER_STACK_TOP,
  InterpreterError,
  type InterpreterMemory,
  MAX_CALL_FRAMES,
  STACK_FRAME_SIZE,
} from './interpreter/memory.js';
import { fromInsns } from './program-codec.js';
import type { MemSize, Op } from './program.js';

/**
 * A helper function for the interpreter, by the kernel's helper id: receives r1..r5
 * (unsigned 64-bit) and the address space, returns r0 (taken modulo 2^64).
 */
export type InterpreterHelper = (args: readonly bigint[], mem: InterpreterMemory) => bigint;

/** Options of {@link interpret}. */
export interface InterpretOptions {
  /** The context memory: r1 = its address, r2 = its length (both 0 without); modified in place. */
  readonly memory?: Uint8Array;
  /** Stop with a RUNTIME error after this many instructions (default 1 000 000). */
  readonly maxSteps?: number;
  /** Helpers by id (`call N`); a call to an id not in the map is a RUNTIME error. */
  readonly helpers?: ReadonlyMap<number, InterpreterHelper>;
}

/** What a run returned. */
export interface InterpretResult {
  /** r0 at the final `exit`, unsigned 64-bit. */
  readonly r0: bigint;
  /** Instructions executed (a two-slot `lddw` counts once). */
  readonly steps: number;
}

/** Default step limit of {@link interpret}. */
export const DEFAULT_MAX_STEPS = 1_000_000;

const SIZE_BYTES: Readonly<Record<MemSize, AccessSize>> = Object.freeze({ b: 1, h: 2, w: 4, dw: 8 });

interface Frame {
  readonly ret: number;
  readonly saved: readonly bigint[];
}

/**
 * Run a program with the reference semantics of RFC 9669, portably (no JIT, no kernel).
 *
 * Memory model: the context memory at {@link INTERPRETER_CONTEXT_ADDRESS} (r1, length in
 * r2), a 512-byte stack per frame below {@link INTERPRETER_STACK_TOP} (r10 = the top of the
 * current frame), BPF-to-BPF calls with r6..r9 preserved and at most 8 frames (the
 * kernel's `MAX_CALL_FRAMES`). Pointers are plain 64-bit numbers; an access outside the
 * context memory and the live stack frames stops the run. Arithmetic follows RFC 9669:
 * division by zero gives 0, modulo by zero leaves the dividend, shift counts are masked,
 * 32-bit operations zero-extend.
 *
 * @throws InsnDecodeError (code DECODE, with the slot) if a slot is not an RFC 9669
 *   instruction (callx included) — the program is checked before it runs;
 *   InterpreterError (code RUNTIME, with the slot `index`) for an access outside the
 *   regions, a jump outside the program, a write to r10, a call deeper than 8 frames,
 *   an unknown helper or a helper that throws, lddw of a map or a legacy packet load
 *   (not supported here), or the step limit;
 *   EbpfError EINVAL for bad options.
 */
export function interpret(program: readonly Insn[], options: InterpretOptions = {}): InterpretResult {
  const { memory, helpers } = options;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 0)
    throw new EbpfError('EINVAL', `maxSteps must be a non-negative integer, got ${maxSteps}`);
  if (memory !== undefined && !(memory instanceof Uint8Array)) throw new EbpfError('EINVAL', 'memory must be a Uint8Array');
  if (helpers !== undefined && !(helpers instanceof Map)) throw new EbpfError('EINVAL', 'helpers must be a Map');

  const ops = fromInsns(program);
  const code: (Op | undefined)[] = new Array(program.length);
  let slot = 0;
  for (const o of ops) {
    code[slot] = o;
    slot += o.op === 'lddw' ? 2 : 1;
  }

  const space = new AddressSpace(memory);
  const r = new BigUint64Array(11);
  r[1] = memory === undefined ? 0n : INTERPRETER_CONTEXT_ADDRESS;
  r[2] = memory === undefined ? 0n : BigInt(memory.length);
  r[10] = INTERPRETER_STACK_TOP;
  const frames: Frame[] = [];
  const fail: (pc: number, message: string, cause?: unknown) => never = (pc, message, cause) => {
    throw new InterpreterError(pc, message, cause === undefined ? undefined : { cause });
  };
  const set = (pc: number, reg: number, value: bigint): void => {
    if (reg === 10) fail(pc, 'r10 (the frame pointer) is read-only');
    r[reg] = value;
  };
  const get = (reg: number): bigint => r[reg] as bigint;
  const addr = (reg: number, off: number): bigint => BigInt.asUintN(64, get(reg) + BigInt(off));

  let pc = 0;
  let last = 0;
  let steps = 0;
  for (;;) {
    const o = code[pc];
    if (o === undefined) {
      // Name the instruction that got here (the jump, or the last one before the end).
      if (pc >= 0 && pc < program.length) fail(last, `jump to slot ${pc}, the second slot of lddw`);
      fail(last, `execution left the program: slot ${pc} is outside its ${program.length} slots`);
    }
    if (steps >= maxSteps) fail(pc, `step limit of ${maxSteps} instructions reached`);
    steps++;
    space.pc = pc;
    let next = pc + 1;
    switch (o.op) {
      case 'alu': {
        const b = 'reg' in o.source ? get(o.source.reg) : immOperand(o.source.imm);
        set(pc, o.dst, aluOp(o.operation, o.width, get(o.dst), b));
        break;
      }
      case 'neg':
        set(pc, o.dst, negOp(o.width, get(o.dst)));
        break;
      case 'movsx':
        set(pc, o.dst, movsxOp(o.width, o.bits, get(o.src)));
        break;
      case 'endian':
        set(pc, o.dst, endianOp(o.order, o.bits, get(o.dst)));
        break;
      case 'jmp': {
        const b = 'reg' in o.source ? get(o.source.reg) : immOperand(o.source.imm);
        if (jmpCond(o.cond, o.width, get(o.dst), b)) next = pc + 1 + o.off;
        break;
      }
      case 'ja':
      case 'gotol':
        next = pc + 1 + o.off;
        break;
      case 'ldx': {
        const size = SIZE_BYTES[o.size];
        const v = space.load(addr(o.src, o.off), size);
        set(pc, o.dst, o.sign ? BigInt.asUintN(64, BigInt.asIntN(size * 8, v)) : v);
        break;
      }
      case 'st':
        space.store(addr(o.dst, o.off), SIZE_BYTES[o.size], immOperand(o.imm));
        break;
      case 'stx':
        space.store(addr(o.dst, o.off), SIZE_BYTES[o.size], get(o.src));
        break;
      case 'atomic': {
        const size: AccessSize = o.width === 32 ? 4 : 8;
        const at = addr(o.dst, o.off);
        const old = space.load(at, size);
        const val = BigInt.asUintN(o.width, get(o.src));
        switch (o.operation) {
          case 'cmpxchg':
            if (old === BigInt.asUintN(o.width, get(0))) space.store(at, size, val);
            set(pc, 0, old);
            break;
          case 'xchg':
            space.store(at, size, val);
            set(pc, o.src, old);
            break;
          default:
            space.store(at, size, aluOp(o.operation, o.width, old, val));
            if (o.fetch) set(pc, o.src, old);
        }
        break;
      }
      case 'lddw':
        if (o.pseudo !== 0)
          fail(pc, `lddw with pseudo source ${o.pseudo} (maps, variables, code addresses) is not supported by the interpreter`);
        set(pc, o.dst, o.imm);
        next = pc + 2;
        break;
      case 'ldabs':
      case 'ldind':
        fail(pc, 'legacy packet access (ld_abs/ld_ind) needs a socket buffer; the interpreter has none');
        break;
      case 'call':
        if (o.kind === 'local') {
          if (frames.length + 1 >= MAX_CALL_FRAMES) fail(pc, `call depth exceeds ${MAX_CALL_FRAMES} frames`);
          frames.push({ ret: pc + 1, saved: [get(6), get(7), get(8), get(9)] });
          space.stackLow -= BigInt(STACK_FRAME_SIZE);
          r[10] = get(10) - BigInt(STACK_FRAME_SIZE);
          space.stack.bytes.fill(
            0,
            Number(space.stackLow - space.stack.start),
            Number(space.stackLow - space.stack.start) + STACK_FRAME_SIZE,
          );
          next = pc + 1 + o.imm;
        } else if (o.kind === 'kfunc') {
          fail(pc, `kfunc calls (call runtime ${o.imm}) are not supported by the interpreter`);
        } else {
          const helper = helpers?.get(o.imm);
          if (helper === undefined) fail(pc, `unknown helper ${o.imm}`);
          let v: unknown;
          try {
            v = helper([get(1), get(2), get(3), get(4), get(5)], space);
          } catch (err) {
            if (EbpfError.isInstance(err)) throw err;
            fail(pc, `helper ${o.imm} threw: ${err instanceof Error ? err.message : String(err)}`, err);
          }
          if (typeof v !== 'bigint') fail(pc, `helper ${o.imm} returned ${typeof v}, not a bigint`);
          r[0] = BigInt.asUintN(64, v as bigint);
        }
        break;
      case 'exit': {
        const frame = frames.pop();
        if (frame === undefined) return { r0: get(0), steps };
        [r[6], r[7], r[8], r[9]] = frame.saved as [bigint, bigint, bigint, bigint];
        r[10] = get(10) + BigInt(STACK_FRAME_SIZE);
        space.stackLow += BigInt(STACK_FRAME_SIZE);
        next = frame.ret;
        break;
      }
    }
    last = pc;
    pc = next;
  }
}
