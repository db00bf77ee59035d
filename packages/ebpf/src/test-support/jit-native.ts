/** A shared NativeArena for the JIT's tests, and a one-call runner. */
import { NativeArena, nativeSupported, SimulatedArena } from '@bpf-dispatcher/text-poke';
import type { Insn } from '../insn.js';
import { type JitOptions, jit } from '../jit/jit.js';
import { testRun } from '../test-run.js';

/** True where native code runs (x86-64 Linux). */
export const NATIVE = nativeSupported();

let arena: NativeArena | undefined;
/** The shared native arena of this test file (created on first use). */
export function nativeArena(): NativeArena {
  arena ??= new NativeArena({ textSize: 8 << 20, dataSize: 8 << 20 });
  return arena;
}

/**
 * The JIT options of a test run: the program is verified for the memory program type with
 * a buffer of the data's length, unless the test gives a program type.
 */
function verified(options: JitOptions & { data?: Uint8Array }): JitOptions {
  return options.progType !== undefined ? options : { ...options, progType: { kind: 'memory', size: options.data?.length ?? 0 } };
}

/** JIT `insns` natively (verified first, see `verified`), run once on `data`, free; returns r0 and the data after. */
export function runNative(
  insns: readonly Insn[],
  options: JitOptions & { data?: Uint8Array; repeat?: number } = {},
): { r0: bigint; data: Uint8Array } {
  const prog = jit(nativeArena(), insns, verified(options));
  try {
    const result = testRun(prog, { data: options.data ?? new Uint8Array(0), repeat: options.repeat ?? 1 });
    return { r0: result.retval, data: result.dataOut };
  } finally {
    prog.free();
  }
}

let simulated: SimulatedArena | undefined;
/** JIT `insns` into a shared SimulatedArena, run once on `data` through the simulated CPU, free. */
export function runSimulated(insns: readonly Insn[], options: JitOptions & { data?: Uint8Array } = {}): { r0: bigint; data: Uint8Array } {
  simulated ??= new SimulatedArena({ textSize: 4 << 20, dataSize: 1 << 20 });
  const prog = jit(simulated, insns, verified(options));
  try {
    const result = testRun(prog, { data: options.data ?? new Uint8Array(0) });
    return { r0: result.retval, data: result.dataOut };
  } finally {
    prog.free();
  }
}
