/**
 * `testRun`: run a JIT'd program on a buffer, the way the kernel's `BPF_PROG_TEST_RUN`
 * (libbpf's `bpf_prog_test_run_opts`) does: the data is copied into arena data memory, the
 * program runs `repeat` times with r1 = the data's address and r2 = its length (the memory
 * context of the bpf_conformance suite and uBPF), and the last return value, the data as the
 * program left it and the time per run come back.
 *
 * The repetitions are one native call: a small JIT'd loop calls `bpf_func` `repeat` times,
 * so no run pays the JS-to-native transition (which costs more than a small program).
 */
import { emitText, type Region } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError, call, dec, jcc, mov, pop, push, ret } from '@bpf-dispatcher/x86';
import { EbpfError } from './errors.js';
import { GuardedMemory, type GuardedPlacement } from './guarded-memory.js';
import { type JitProgram, isJitProgram } from './jit/jit.js';

/** Options of {@link testRun}. */
export interface TestRunOptions {
  /** The buffer r1 points to (copied in; default empty). */
  readonly data?: Uint8Array;
  /** How many times to run (the kernel's `repeat`; 0 means 1). Default 1. At most 2^32-1. */
  readonly repeat?: number;
  /**
   * Put the data between `PROT_NONE` guard pages instead of arena data memory, so a stray
   * access faults (SIGSEGV) instead of going unnoticed (native arena only). `true` or
   * `'end'`: the byte after the data is in a guard page; `'start'`: the byte before it.
   * A {@link GuardedMemory} is used as it is (r1 = its address, r2 = its size; `data`, if
   * given, must have its size and is copied in). Default: arena data memory.
   */
  readonly guarded?: boolean | GuardedPlacement | GuardedMemory;
}

/** What {@link testRun} returns (the kernel's `retval`, `data_out` and `duration`). */
export interface TestRunResult {
  /** r0 of the last run, unsigned 64-bit. */
  readonly retval: bigint;
  /** The data after the last run. */
  readonly dataOut: Uint8Array;
  /** Mean wall time of one run in nanoseconds (total over `repeat`, loop included). */
  readonly durationNs: number;
}

/** The native loop: `for (n = repeat; n; n--) rax = bpf_func(data, len);`, System V (rdi, rsi, rdx). */
function emitLoop(prog: JitProgram): Region {
  return emitText(prog.arena, (b) => {
    push(b, 'rbx');
    push(b, 'rbp');
    push(b, 'r12'); // three pushes: rsp is 16-byte aligned at the call
    mov(b, 'rbx', 'rdi');
    mov(b, 'rbp', 'rsi');
    mov(b, 'r12', 'rdx');
    const top = b.newLabel();
    b.bind(top);
    mov(b, 'rdi', 'rbx');
    mov(b, 'rsi', 'rbp');
    call(b, prog.bpfFunc);
    dec(b, 'r12');
    jcc(b, 'ne', top, 'short');
    pop(b, 'r12');
    pop(b, 'rbp');
    pop(b, 'rbx');
    ret(b);
  });
}

/**
 * Run `prog` on `data`, `repeat` times in one native call (the kernel's
 * `bpf_prog_test_run`). Works on a NativeArena (real execution) and on a SimulatedArena
 * (the simulated CPU; an instruction form it lacks throws its typed `CPU_FAULT`).
 * @throws EbpfError EINVAL for a freed or foreign program or bad options; the arena's
 *   errors (ENOMEM, CPU_FAULT, STEP_LIMIT) as they are.
 */
export function testRun(prog: JitProgram, options: TestRunOptions = {}): TestRunResult {
  if (!isJitProgram(prog)) throw new EbpfError('EINVAL', 'testRun: expected a program made by jit()');
  if (prog.freed) throw new EbpfError('EINVAL', 'testRun: the program was freed');
  const pt = prog.progType;
  if (typeof pt !== 'object' || pt.kind !== 'memory') {
    throw new EbpfError('EINVAL', 'testRun: the program was verified for another context; testRun runs programs verified for { kind: "memory", size }');
  }
  const data = options.data ?? new Uint8Array(0);
  if (!(data instanceof Uint8Array)) throw new EbpfError('EINVAL', 'testRun: data must be a Uint8Array');
  const repeat = options.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 0 || repeat > 0xffff_ffff)
    throw new EbpfError('EINVAL', 'testRun: repeat must be an integer in 0..2^32-1');
  const runs = Math.max(repeat, 1);
  const arena = prog.arena;
  const guard = guardedBuffer(options.guarded, data, arena.kind);
  const buffer = guard === undefined ? arena.allocData(Math.max(data.length, 8), 64) : undefined;
  let loop: Region | undefined;
  try {
    if (buffer !== undefined && data.length > 0) arena.write(buffer.address, data);
    const address = buffer?.address ?? (guard as GuardedMemory).address;
    const length = guard?.size ?? data.length;
    // The verifier proved the accesses for exactly this many bytes (and r2 = this length).
    if (length !== pt.size) throw new EbpfError('EINVAL', `testRun: the program was verified for ${pt.size} bytes of memory, the run has ${length}`);
    loop = emitLoop(prog);
    const start = process.hrtime.bigint();
    const retval = arena.call(loop.address, address, length, runs);
    const elapsed = Number(process.hrtime.bigint() - start);
    const dataOut = guard !== undefined ? guard.read() : data.length > 0 ? arena.read(address, data.length).slice() : new Uint8Array(0);
    return { retval, dataOut, durationNs: elapsed / runs };
  } catch (error) {
    if (BpfDispatcherError.isInstance(error)) throw error;
    throw new EbpfError('EINVAL', `testRun: ${(error as Error).message}`, { cause: error });
  } finally {
    if (loop !== undefined) arena.free(loop);
    if (buffer !== undefined) arena.free(buffer);
    if (guard !== undefined && guard !== options.guarded) guard.free();
  }
}

/** The guarded buffer a run uses (see {@link TestRunOptions.guarded}), data copied in; undefined for arena memory. */
function guardedBuffer(option: TestRunOptions['guarded'], data: Uint8Array, kind: string): GuardedMemory | undefined {
  if (option === undefined || option === false) return undefined;
  if (kind !== 'native') throw new EbpfError('EINVAL', 'testRun: guarded memory needs a native arena');
  if (option instanceof GuardedMemory) {
    if (option.freed) throw new EbpfError('EINVAL', 'testRun: the guarded memory was freed');
    if (data.length > 0 && data.length !== option.size)
      throw new EbpfError('EINVAL', `testRun: data is ${data.length} bytes, the guarded memory ${option.size}`);
    if (data.length > 0) option.write(data);
    return option;
  }
  if (option !== true && option !== 'end' && option !== 'start')
    throw new EbpfError('EINVAL', "testRun: guarded must be a boolean, 'end', 'start' or a GuardedMemory");
  const memory = GuardedMemory.create(data.length, { placement: option === true ? 'end' : option });
  memory.write(data);
  return memory;
}
