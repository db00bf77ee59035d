/**
 * The safety fuzzer's per-program step: verify a program, classify a refusal, and run an
 * accepted one natively on guarded memory (see `../guarded-memory.ts`), sometimes
 * comparing with the interpreter. A stray access by JIT'd code faults (SIGSEGV) and kills
 * the process: the fuzz script runs this in child processes and treats such a death as a
 * crash (the kernel's syzkaller does the same with KASAN reports).
 */
import { emitText, type Region, type TextArena } from '@bpf-dispatcher/text-poke';
import { mov, ret } from '@bpf-dispatcher/x86';
import { EbpfError } from '../errors.js';
import { GuardedMemory, type GuardedPlacement } from '../guarded-memory.js';
import type { Insn } from '../insn.js';
import { type InterpreterHelper, interpret } from '../interpreter.js';
import { jit } from '../jit/jit.js';
import { testRun } from '../test-run.js';
import { type VerifiedProgram, VerifierError, type VerifyOptions } from '../verifier/types.js';
import { verify } from '../verifier/verify.js';
import type { FuzzProgram, FuzzTarget } from './generate.js';
import type { Rng } from './rng.js';

/** Constant results of the argument-less helpers the fuzzer provides natively and to the interpreter. */
const HELPER_RESULTS: ReadonlyMap<number, bigint> = new Map([
  [5, 123_456_789n], // ktime_get_ns
  [7, 0x5eed_1234n], // get_prandom_u32
  [8, 1n], // get_smp_processor_id
]);

/** What happened to one (program, program type) pair. */
export interface FuzzOutcome {
  readonly target: FuzzTarget;
  /**
   * `accepted`; `rejected` (a typed EbpfError; `reason` gives its class); `untyped` (a
   * throw that is not an EbpfError: a bug); `jit-error` / `run-error` (a verified program
   * the JIT or the run refused: a bug); `mismatch` (native and interpreter disagree: a
   * bug, or a pointer the program leaked into r0 or memory, which privileged programs may
   * do as in the kernel, and whose value differs between the two runtimes).
   */
  readonly verdict: 'accepted' | 'rejected' | 'untyped' | 'jit-error' | 'run-error' | 'mismatch';
  /** Rejection class (the verifier's reason with numbers and registers blanked), or the error text. */
  readonly reason?: string;
  /** True if it ran natively. */
  readonly ran: boolean;
  /** True if the interpreter's result was compared. */
  readonly compared: boolean;
}

/** Options of {@link Fuzzer}. */
export interface FuzzerOptions {
  /** Compare with the interpreter once in this many native runs (default 100; 0 = never). */
  readonly compareEvery?: number;
  /** Verifier exploration budget per program (default 200,000 insns processed). */
  readonly maxStates?: number;
}

/** Blank the numbers and register names in a verifier reason, giving a class to count by. */
export function reasonClass(error: unknown): string {
  if (error instanceof VerifierError) {
    return `VERIFY: ${error.reason
      .replace(/\bR\d+/g, 'R#')
      .replace(/-?(0x)?[0-9a-f]*\d[0-9a-f]*/gi, 'N')
      .replace(/\(.*\)/g, '(..)')
      .slice(0, 80)}`;
  }
  if (error instanceof EbpfError) return `${error.code}: ${error.message.replace(/-?(0x)?[0-9a-f]*\d[0-9a-f]*/gi, 'N').slice(0, 80)}`;
  return error instanceof Error ? `${error.constructor.name}: ${error.message.slice(0, 120)}` : `thrown ${typeof error}`;
}

/**
 * Runs fuzz programs in one process: owns a native arena (for JIT'd code and helper
 * stubs) and guarded buffers by (size, placement). Call {@link dispose} at the end.
 */
export class Fuzzer {
  readonly #arena: TextArena;
  readonly #compareEvery: number;
  readonly #maxStates: number;
  readonly #buffers = new Map<string, GuardedMemory>();
  readonly #stubs: Region[] = [];
  readonly #helperAddresses = new Map<number, bigint>();
  readonly #interpHelpers = new Map<number, InterpreterHelper>();
  #runs = 0;

  constructor(arena: TextArena, options: FuzzerOptions = {}) {
    this.#arena = arena;
    this.#compareEvery = options.compareEvery ?? 100;
    this.#maxStates = options.maxStates ?? 200_000;
    for (const [id, value] of HELPER_RESULTS) {
      const stub = emitText(arena, 16, (b) => {
        mov(b, 'rax', value);
        ret(b);
      });
      this.#stubs.push(stub);
      this.#helperAddresses.set(id, stub.address);
      this.#interpHelpers.set(id, () => value);
    }
  }

  #buffer(size: number, placement: GuardedPlacement): GuardedMemory {
    const key = `${size}/${placement}`;
    let buffer = this.#buffers.get(key);
    if (buffer === undefined) {
      buffer = GuardedMemory.create(size, { placement });
      this.#buffers.set(key, buffer);
    }
    return buffer;
  }

  /** Verifier options for a program type. */
  verifyOptions(target: FuzzTarget, size: number): VerifyOptions {
    return { progType: target === 'xdp' ? 'xdp' : { kind: 'memory', size }, maxStates: this.#maxStates };
  }

  /**
   * Verify `program` for `target` and, if accepted, JIT and run it on guarded memory
   * (random contents from `rng`). Never throws for a program defect: every outcome is
   * returned. A stray memory access by the JIT'd code kills the process (SIGSEGV).
   */
  fuzz(insns: readonly Insn[], target: FuzzTarget, size: number, rng: Rng): FuzzOutcome {
    let verified: VerifiedProgram;
    try {
      verified = verify(insns, this.verifyOptions(target, size));
    } catch (error) {
      if (error instanceof EbpfError) return { target, verdict: 'rejected', reason: reasonClass(error), ran: false, compared: false };
      return { target, verdict: 'untyped', reason: reasonClass(error), ran: false, compared: false };
    }
    const foreign = verified.helperIds.filter((id) => !this.#helperAddresses.has(id));
    if (foreign.length > 0) return { target, verdict: 'accepted', reason: `helpers ${foreign.join(',')}`, ran: false, compared: false };
    let prog: ReturnType<typeof jit>;
    try {
      prog = jit(this.#arena, verified, { helpers: this.#helperAddresses });
    } catch (error) {
      return { target, verdict: 'jit-error', reason: reasonClass(error), ran: false, compared: false };
    }
    try {
      const data = new Uint8Array(size);
      for (let n = 0; n < size; n += 4) {
        const word = rng.u32();
        data[n] = word;
        data[n + 1] = word >>> 8;
        data[n + 2] = word >>> 16;
        data[n + 3] = word >>> 24;
      }
      const placement: GuardedPlacement = rng.chance(0.5) ? 'end' : 'start';
      this.#runs++;
      const compare = this.#compareEvery > 0 && this.#runs % this.#compareEvery === 0 && target === 'memory';
      if (target === 'memory') {
        const buffer = this.#buffer(size, placement);
        const result = testRun(prog, { data, guarded: buffer });
        if (!compare) return { target, verdict: 'accepted', ran: true, compared: false };
        const memory = data.slice();
        const reference = interpret(verified.insns, { memory, helpers: this.#interpHelpers, maxSteps: 10_000_000 });
        const same = reference.r0 === result.retval && memory.every((v, n) => v === result.dataOut[n]);
        return same
          ? { target, verdict: 'accepted', ran: true, compared: true }
          : { target, verdict: 'mismatch', reason: `native r0=${result.retval} interpreter r0=${reference.r0}`, ran: true, compared: true };
      }
      // XDP: an xdp_md in its own guarded buffer; its u32 data/data_end fields are the
      // packet's addresses (guarded memory lies below 2 GiB, so 32 bits hold them).
      const packet = this.#buffer(size, placement);
      const end = packet.address + BigInt(size);
      if (end >= 1n << 32n) return { target, verdict: 'accepted', reason: 'packet above 4 GiB', ran: false, compared: false };
      packet.write(data);
      const ctx = this.#buffer(24, 'end');
      const md = new Uint8Array(24);
      const view = new DataView(md.buffer);
      view.setUint32(0, Number(packet.address), true);
      view.setUint32(4, Number(end), true);
      view.setUint32(8, Number(packet.address), true);
      view.setUint32(12, 1, true);
      ctx.write(md);
      this.#arena.call(prog.bpfFunc, ctx.address, 0);
      return { target, verdict: 'accepted', ran: true, compared: false };
    } catch (error) {
      return { target, verdict: 'run-error', reason: reasonClass(error), ran: false, compared: false };
    } finally {
      prog.free();
    }
  }

  /** Fuzz one generated program for its target (and, for random soup, for the other type too). */
  fuzzProgram(program: FuzzProgram, rng: Rng): FuzzOutcome[] {
    const outcomes = [this.fuzz(program.insns, program.target, program.size, rng)];
    if (program.source === 'random') {
      const other: FuzzTarget = program.target === 'xdp' ? 'memory' : 'xdp';
      outcomes.push(this.fuzz(program.insns, other, program.target === 'xdp' ? 64 : program.size, rng));
    }
    return outcomes;
  }

  /** Release the guarded buffers and helper stubs (the arena stays the caller's). */
  dispose(): void {
    for (const buffer of this.#buffers.values()) buffer.free();
    this.#buffers.clear();
    for (const stub of this.#stubs.splice(0)) this.#arena.free(stub);
  }
}
