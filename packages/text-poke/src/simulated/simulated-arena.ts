import { type Address, GP64, type Gp64 } from '@bpf-dispatcher/x86';
import { BaseArena, toAddress, toWord } from '../base-arena.js';
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
  /** Stop with a STEP_LIMIT error after this many instructions: a positive safe integer (default 1,000,000). */
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
const DEFAULT_MAX_STEPS = 1_000_000;

/** A step budget. @throws TextPokeError EINVAL unless a positive safe integer (or undefined: the default). */
function stepBudget(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_MAX_STEPS;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  throw new TextPokeError('EINVAL', `${what}: maxSteps must be a positive safe integer, got ${describeValue(value)}`);
}

/** An options object (or undefined). @throws TextPokeError EINVAL otherwise, or for a `trace` that is not a boolean. */
function optionsObject<T extends object>(value: T | undefined, what: string): Partial<T> & { trace?: unknown } {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new TextPokeError('EINVAL', `${what}: options must be an object, got ${describeValue(value)}`);
  const { trace } = value as { trace?: unknown };
  if (trace !== undefined && typeof trace !== 'boolean') throw new TextPokeError('EINVAL', `${what}: trace must be a boolean, got ${describeValue(trace)}`);
  return value;
}

/** A short description of any value for an error message. Never throws. */
function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  return typeof value === 'symbol' ? value.toString() : String(value);
}

/**
 * A {@link TextArena} in plain memory with a small x86-64 interpreter: portable and
 * deterministic, with kernel-like addresses by default. Pokes are plain stores (the CPU
 * runs one instruction at a time, so every reader sees whole instructions).
 *
 * Errors follow one rule: a fault raised by *executing code* (a load or store outside the
 * arena's allocated regions, a store to text, a jump to nowhere, int3, #DE, an instruction
 * outside the simulated subset) is `CPU_FAULT` — the simulated counterpart of the signal
 * the native arena would die of; an *API call* with a bad range (an entry outside
 * allocated text, `read`/`write` outside a region) is `EFAULT`; a malformed argument is
 * `EINVAL`, raised before anything runs.
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

  /** Where an access of code lands. @throws TextPokeError CPU_FAULT outside allocated regions. */
  private codeAccess(address: bigint, bytes: number, what: 'load' | 'store'): { space: 'text' | 'data'; offset: number } {
    const location = this.locate(address, bytes);
    if (location === undefined) {
      throw new TextPokeError('CPU_FAULT', `simulated ${what} of ${bytes} byte(s) at 0x${address.toString(16)}: not inside one allocated region of the arena (a page fault)`);
    }
    return location;
  }

  private readonly memoryPort: CpuMemory = {
    load: (address, bytes) => {
      const { space, offset } = this.codeAccess(address, bytes, 'load');
      const mem = this.bytesOf(space);
      let value = 0n;
      for (let i = bytes - 1; i >= 0; i--) value = (value << 8n) | BigInt(mem[offset + i] as number);
      return value;
    },
    store: (address, bytes, value) => {
      const { space, offset } = this.codeAccess(address, bytes, 'store');
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
   * Arguments are checked before anything runs.
   * @throws TextPokeError EINVAL for malformed options (`maxSteps` not a positive safe
   *   integer, `trace` not a boolean), an unknown register or a value that is not a 64-bit
   *   word; EFAULT if `entry` is neither allocated text nor an external function;
   *   STEP_LIMIT after `maxSteps`; CPU_FAULT for a fault of the executing code (an
   *   instruction outside the subset, a store to text, int3, #DE, execution or a memory
   *   access outside the arena).
   */
  run(entry: Address, regs: Partial<Record<Gp64, Word>> = {}, options: RunOptions = {}): RunResult {
    this.check();
    const opts = optionsObject(options, 'run');
    const maxSteps = stepBudget(opts.maxSteps, 'run');
    const thread = new SimThread(this, this.newCpu(entry, regs, this.stackTop, 'run'), entry, opts.trace === true, null);
    return thread.finish(maxSteps);
  }

  /**
   * Start a simulated thread at `entry` that runs only when stepped — e.g. to stop a reader
   * in the middle of the dispatcher image while updates happen elsewhere. It has a stack
   * of its own (freed when it halts).
   * @throws TextPokeError ENOMEM if no stack can be allocated; EINVAL for bad registers or
   *   options; EFAULT as {@link run}.
   */
  start(entry: Address, regs: Partial<Record<Gp64, Word>> = {}, options: { trace?: boolean; stackSize?: number } = {}): SimThread {
    this.check();
    const opts = optionsObject(options, 'start');
    const stackSize = opts.stackSize ?? 16 << 10;
    const rip = this.checkEntry(entry, 'start');
    const values = checkRegisters(regs, 'start');
    const stack = this.allocData(stackSize, { align: 16 });
    return new SimThread(this, this.cpuAt(rip, values, stack.address + BigInt(stack.size)), entry, opts.trace === true, () => this.free(stack));
  }

  /**
   * The entry of a run, checked: allocated text or an external function.
   * @throws TextPokeError EINVAL for a malformed address; EFAULT anywhere else.
   */
  private checkEntry(entry: Address, what: string): bigint {
    const at = toAddress(entry, what);
    if (this.externals.has(at)) return at;
    const location = this.locate(at, 1);
    if (location === undefined || location.space !== 'text') {
      throw new TextPokeError('EFAULT', `${what}: entry 0x${at.toString(16)} is not allocated text of this arena nor an external function`);
    }
    return at;
  }

  private newCpu(entry: Address, regs: Partial<Record<Gp64, Word>>, stackTop: bigint, what: string): SimCpu {
    const rip = this.checkEntry(entry, what);
    return this.cpuAt(rip, checkRegisters(regs, what), stackTop);
  }

  private cpuAt(rip: bigint, values: readonly (readonly [number, bigint])[], stackTop: bigint): SimCpu {
    const cpu = new SimCpu(this.memoryPort, this.externals);
    for (const [id, value] of values) cpu.regs[id] = value;
    cpu.regs[4] = stackTop - 8n;
    this.memoryPort.store(cpu.regs[4] as bigint, 8, HALT_ADDRESS);
    cpu.rip = rip;
    return cpu;
  }

  /** @internal */
  assertLive(): void {
    this.check();
  }

  call(entry: Address, ...args: Word[]): bigint {
    const checked = this.prepareCall(entry, args); // base arena: entry in written text, Word arguments
    const regs: Partial<Record<Gp64, Word>> = {};
    checked.args.forEach((value, i) => {
      regs[ARG_REGS[i] as Gp64] = value;
    });
    return this.run(checked.entry, regs).rax;
  }
}

/**
 * Initial register values, checked: an object whose own keys are 64-bit register names and
 * whose values are 64-bit words. Returns (register id, unsigned value) pairs.
 * @throws TextPokeError EINVAL otherwise.
 */
function checkRegisters(regs: unknown, what: string): (readonly [number, bigint])[] {
  if (regs === undefined) return [];
  if (typeof regs !== 'object' || regs === null || Array.isArray(regs)) {
    throw new TextPokeError('EINVAL', `${what}: registers must be an object such as { rdi: 1n }, got ${describeValue(regs)}`);
  }
  const out: (readonly [number, bigint])[] = [];
  for (const name of Object.keys(regs)) {
    const id = GP64.indexOf(name as Gp64);
    if (id < 0) throw new TextPokeError('EINVAL', `${what}: unknown register ${JSON.stringify(name)} (use the 64-bit names rax ... r15)`);
    const value = (regs as Record<string, unknown>)[name];
    if (value === undefined) continue;
    out.push([id, toWord(value as Word, `${what}: register ${name}`)]);
  }
  return out;
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
   * @throws TextPokeError EINVAL if `stop` is not a function or `maxSteps` not a positive
   *   safe integer; CPU_FAULT as `run` does.
   */
  runUntil(stop: (rip: bigint) => boolean, maxSteps = DEFAULT_MAX_STEPS): boolean {
    if (typeof stop !== 'function') throw new TextPokeError('EINVAL', `runUntil: stop must be a function, got ${describeValue(stop)}`);
    const budget = stepBudget(maxSteps, 'runUntil');
    for (let i = 0; i < budget && !this.done; i++) {
      if (stop(this.cpu.rip)) return true;
      this.advance();
    }
    return false;
  }

  /**
   * Run to completion.
   * @throws TextPokeError EINVAL unless `maxSteps` is a positive safe integer; STEP_LIMIT
   *   after `maxSteps` more instructions; CPU_FAULT.
   */
  finish(maxSteps = DEFAULT_MAX_STEPS): RunResult {
    const budget = stepBudget(maxSteps, 'finish');
    const limit = this.cpu.steps + budget;
    while (!this.done) {
      if (this.cpu.steps >= limit) {
        throw new TextPokeError('STEP_LIMIT', `simulated run from 0x${toAddress(this.entry, 'run').toString(16)} exceeded ${budget} steps (at 0x${this.cpu.rip.toString(16)})`);
      }
      this.advance();
    }
    return { rax: this.cpu.regs[0] as bigint, regs: this.cpu.snapshot(), trace: this.traceLog ?? [], steps: this.cpu.steps };
  }
}
