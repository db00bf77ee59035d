import { type Address, GP64, type Gp64 } from '@bpf-dispatcher/x86';
import { BaseArena, toAddress } from '../base-arena.js';
import { TextPokeError } from '../errors.js';
import type { Word } from '../types.js';
import { type CpuMemory, type ExternalFunction, type Registers, SimCpu } from './cpu.js';
import { type SimInsn, decodeInsn } from './decode.js';

/** Options of {@link SimulatedArena}. */
export interface SimulatedArenaOptions {
  /** Address of text (default 0xffffffffc0000000, kernel-module-like, so the reference listings reproduce). */
  readonly textBase?: Address;
  /** Bytes of text (default 4 MiB). */
  readonly textSize?: number;
  /** Address of data (default right after text). */
  readonly dataBase?: Address;
  /** Bytes of data (default 4 MiB). */
  readonly dataSize?: number;
  /** Bytes of the stack runs use (default 64 KiB, taken from data). */
  readonly stackSize?: number;
}

/** Options of {@link SimulatedArena.run}. */
export interface RunOptions {
  /** Stop with a STEP_LIMIT error after this many instructions (default 1,000,000). */
  readonly maxSteps?: number;
  /** Record the address of every executed instruction (default false). */
  readonly trace?: boolean;
}

/** Outcome of {@link SimulatedArena.run}. */
export interface RunResult {
  readonly rax: bigint;
  readonly regs: Registers;
  /** Executed addresses, in order (empty unless `trace`), external functions included. */
  readonly trace: readonly bigint[];
  readonly steps: number;
}

/** The return address a run starts with; reaching it ends the run. */
export const HALT_ADDRESS = 0x0000_7fff_dead_0000n;

const ARG_REGS: readonly Gp64[] = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'];

/**
 * A {@link TextArena} in plain memory with a small x86-64 interpreter: portable and
 * deterministic, with kernel-like addresses by default. Pokes are plain stores (the CPU
 * runs one instruction at a time, so every reader sees whole instructions).
 *
 * Code outside the arena can be modelled with {@link defineExternal}: e.g. programs at the
 * cover letter's addresses -1 ... -16 that return a chosen value.
 */
export class SimulatedArena extends BaseArena {
  readonly kind = 'simulated' as const;
  private readonly decoded = new Map<bigint, SimInsn>();
  private readonly externals = new Map<bigint, ExternalFunction>();
  private readonly stackTop: bigint;

  /** @throws TextPokeError EINVAL for bad sizes or overlapping ranges. */
  constructor(options: SimulatedArenaOptions = {}) {
    super();
    const textSize = options.textSize ?? 4 << 20;
    const dataSize = options.dataSize ?? 4 << 20;
    const stackSize = options.stackSize ?? 64 << 10;
    for (const [name, size] of [['textSize', textSize], ['dataSize', dataSize], ['stackSize', stackSize]] as const) {
      if (!Number.isSafeInteger(size) || size <= 0 || size > 1 << 30) throw new TextPokeError('EINVAL', `SimulatedArena: ${name} must be 1 byte to 1 GiB, got ${size}`);
    }
    const textBase = toAddress(options.textBase ?? 0xffffffffc0000000n, 'SimulatedArena textBase');
    const dataBase = toAddress(options.dataBase ?? textBase + BigInt(textSize), 'SimulatedArena dataBase');
    const overlap = dataBase < textBase + BigInt(textSize) && textBase < dataBase + BigInt(dataSize);
    if (overlap) throw new TextPokeError('EINVAL', 'SimulatedArena: text and data ranges overlap');
    this.init({ textBase, text: new Uint8Array(textSize), dataBase, data: new Uint8Array(dataSize) });
    const stack = this.allocData(stackSize, { align: 16 });
    this.stackTop = stack.address + BigInt(stack.size);
  }

  protected override onTextWrite(): void {
    this.decoded.clear();
  }

  protected storePoke(offset: number, _current: Uint8Array, insn: Uint8Array): void {
    this.bytesOf('text').set(insn, offset);
    this.onTextWrite();
  }

  protected release(): void {
    this.decoded.clear();
    this.externals.clear();
  }

  /**
   * Model a function at `address` outside the arena: when execution reaches it, `fn` gets
   * the registers and its result becomes rax, then the CPU returns (`ret`).
   * @throws TextPokeError EINVAL if the address is inside the arena or the halt address.
   */
  defineExternal(address: Address, fn: ExternalFunction): void {
    this.check();
    const at = toAddress(address, 'defineExternal');
    const [textStart, textEnd] = this.textRange;
    const [dataStart, dataEnd] = this.dataRange;
    if ((at >= textStart && at < textEnd) || (at >= dataStart && at < dataEnd) || at === HALT_ADDRESS) {
      throw new TextPokeError('EINVAL', `defineExternal: 0x${at.toString(16)} is inside the arena`);
    }
    if (typeof fn !== 'function') throw new TextPokeError('EINVAL', 'defineExternal: fn must be a function');
    this.externals.set(at, fn);
  }

  /** Remove an external function. */
  removeExternal(address: Address): void {
    this.externals.delete(toAddress(address, 'removeExternal'));
  }

  private readonly memoryPort: CpuMemory = {
    load: (address, bytes) => {
      const { space, offset } = this.locateOrFault(address, bytes, 'simulated load');
      const mem = this.bytesOf(space);
      let value = 0n;
      for (let i = bytes - 1; i >= 0; i--) value = (value << 8n) | BigInt(mem[offset + i] as number);
      return value;
    },
    store: (address, bytes, value) => {
      const { space, offset } = this.locateOrFault(address, bytes, 'simulated store');
      if (space === 'text') throw new TextPokeError('CPU_FAULT', `simulated store to text at 0x${address.toString(16)} (text is not writable by code)`);
      const mem = this.bytesOf(space);
      let v = value;
      for (let i = 0; i < bytes; i++) {
        mem[offset + i] = Number(v & 0xffn);
        v >>= 8n;
      }
    },
    fetch: (address) => {
      const hit = this.decoded.get(address);
      if (hit !== undefined) return hit;
      const location = this.locate(address, 1);
      if (location === undefined || location.space !== 'text') return undefined;
      const text = this.bytesOf('text');
      const insn = decodeInsn(text.subarray(location.offset, Math.min(text.length, location.offset + 15)), address);
      this.decoded.set(address, insn);
      return insn;
    },
  };

  /**
   * Run code at `entry` until it returns to the caller, with the given registers (others
   * zero; rsp points into the arena's stack with a return address that ends the run).
   * @throws TextPokeError STEP_LIMIT after `maxSteps`; CPU_FAULT for an instruction outside
   *   the subset, a store to text, int3, or execution/memory access outside the arena.
   */
  run(entry: Address, regs: Partial<Record<Gp64, Word>> = {}, options: RunOptions = {}): RunResult {
    this.check();
    const thread = new SimThread(this, this.newCpu(entry, regs, this.stackTop), entry, options.trace === true, null);
    return thread.finish(options.maxSteps ?? 1_000_000);
  }

  /**
   * Start a simulated thread at `entry` that runs only when stepped — e.g. to stop a reader
   * in the middle of the dispatcher image while updates happen elsewhere. It has a stack
   * of its own (freed when it halts).
   * @throws TextPokeError ENOMEM if no stack can be allocated; EINVAL for bad registers.
   */
  start(entry: Address, regs: Partial<Record<Gp64, Word>> = {}, options: { trace?: boolean; stackSize?: number } = {}): SimThread {
    this.check();
    const stack = this.allocData(options.stackSize ?? 16 << 10, { align: 16 });
    return new SimThread(this, this.newCpu(entry, regs, stack.address + BigInt(stack.size)), entry, options.trace === true, () => this.free(stack));
  }

  private newCpu(entry: Address, regs: Partial<Record<Gp64, Word>>, stackTop: bigint): SimCpu {
    const cpu = new SimCpu(this.memoryPort, this.externals);
    for (const [name, value] of Object.entries(regs)) {
      const id = GP64.indexOf(name as Gp64);
      if (id < 0) throw new TextPokeError('EINVAL', `run: unknown register ${name}`);
      cpu.regs[id] = BigInt.asUintN(64, BigInt(value as Word));
    }
    cpu.regs[4] = stackTop - 8n;
    this.memoryPort.store(cpu.regs[4] as bigint, 8, HALT_ADDRESS);
    cpu.rip = toAddress(entry, 'run');
    return cpu;
  }

  /** @internal */
  assertLive(): void {
    this.check();
  }

  call(entry: Address, ...args: Word[]): bigint {
    if (args.length > ARG_REGS.length) throw new TextPokeError('EINVAL', `call: at most ${ARG_REGS.length} arguments`);
    const regs: Partial<Record<Gp64, Word>> = {};
    args.forEach((value, i) => {
      regs[ARG_REGS[i] as Gp64] = value;
    });
    return this.run(entry, regs).rax;
  }
}

/**
 * A simulated thread: a CPU state that advances only when stepped (see
 * {@link SimulatedArena.start}).
 */
export class SimThread {
  private readonly traceLog: bigint[] | undefined;
  private done = false;

  constructor(
    private readonly arena: SimulatedArena,
    private readonly cpu: SimCpu,
    private readonly entry: Address,
    trace: boolean,
    private readonly release: (() => void) | null,
  ) {
    this.traceLog = trace ? [] : undefined;
  }

  /** The address of the next instruction. */
  get rip(): bigint {
    return this.cpu.rip;
  }

  /** Instructions executed so far. */
  get steps(): number {
    return this.cpu.steps;
  }

  /** True once the thread returned to its caller. */
  get halted(): boolean {
    return this.done;
  }

  private advance(): void {
    this.arena.assertLive();
    this.cpu.step(this.traceLog);
    if (this.cpu.rip === HALT_ADDRESS) {
      this.done = true;
      this.release?.();
    }
  }

  /**
   * Execute until `stop(rip)` holds for the next instruction (which is not executed), the
   * thread halts, or `maxSteps` pass. Returns true if it stopped because of `stop`.
   * @throws TextPokeError CPU_FAULT as `run` does.
   */
  runUntil(stop: (rip: bigint) => boolean, maxSteps = 1_000_000): boolean {
    for (let i = 0; i < maxSteps && !this.done; i++) {
      if (stop(this.cpu.rip)) return true;
      this.advance();
    }
    return false;
  }

  /**
   * Run to completion.
   * @throws TextPokeError STEP_LIMIT after `maxSteps` more instructions; CPU_FAULT.
   */
  finish(maxSteps = 1_000_000): RunResult {
    const limit = this.cpu.steps + maxSteps;
    while (!this.done) {
      if (this.cpu.steps >= limit) {
        throw new TextPokeError('STEP_LIMIT', `simulated run from 0x${toAddress(this.entry, 'run').toString(16)} exceeded ${maxSteps} steps (at 0x${this.cpu.rip.toString(16)})`);
      }
      this.advance();
    }
    return { rax: this.cpu.regs[0] as bigint, regs: this.cpu.snapshot(), trace: this.traceLog ?? [], steps: this.cpu.steps };
  }
}
