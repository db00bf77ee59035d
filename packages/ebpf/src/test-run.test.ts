import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { EbpfError } from './errors.js';
import type { Insn } from './insn.js';
import { jit } from './jit/jit.js';
import { testRun } from './test-run.js';
import { aluK, aluX, exit, jmpK, ldx, mov, movX, stx } from './test-support/jit-builders.js';
import { NATIVE, nativeArena } from './test-support/jit-native.js';

/** r0 = len; data[0..8) += 1 (a u64 counter); data[8] = data[9] + data[10]. */
const COUNTER: Insn[] = [
  ldx('DW', 3, 1, 0),
  aluK('ADD', 3, 1),
  stx('DW', 1, 3, 0),
  ldx('B', 4, 1, 9),
  ldx('B', 5, 1, 10),
  aluX('ADD', 4, 5),
  stx('B', 1, 4, 8),
  movX(0, 2),
  exit(),
];

/** Sum of the data bytes in a loop (r0), using only mov/add/ldx/jmp. */
const SUM: Insn[] = [
  mov(0, 0),
  jmpK('JEQ', 2, 0, 6),
  ldx('B', 3, 1, 0),
  aluX('ADD', 0, 3),
  aluK('ADD', 1, 1),
  aluK('SUB', 2, 1),
  jmpK('JNE', 2, 0, -5),
  exit(),
  exit(),
];

/** jit's options for a program verified for a buffer of `size` bytes (the memory program type). */
const mem = (size: number) => ({ progType: { kind: 'memory', size } }) as const;

function data(): Uint8Array {
  const d = new Uint8Array(16);
  d[9] = 20;
  d[10] = 22;
  return d;
}

describe.skipIf(!NATIVE)('testRun on the native arena', () => {
  it('runs repeat times in one native call: r1 = data, r2 = length, data copied in and out', () => {
    const prog = jit(nativeArena(), COUNTER, mem(16));
    try {
      for (const repeat of [1, 7, 100_000]) {
        const input = data();
        const result = testRun(prog, { data: input, repeat });
        expect(result.retval).toBe(16n);
        expect(new DataView(result.dataOut.buffer).getBigUint64(0, true)).toBe(BigInt(repeat));
        expect(result.dataOut[8]).toBe(42);
        expect(input[8]).toBe(0); // the caller's buffer is not touched
        expect(result.durationNs).toBeGreaterThan(0);
      }
      expect(testRun(prog, { data: data(), repeat: 0 }).dataOut[0]).toBe(1); // 0 means 1, as in the kernel
    } finally {
      prog.free();
    }
  });

  it('empty data: r2 = 0', () => {
    const prog = jit(nativeArena(), SUM, mem(0));
    expect(testRun(prog).retval).toBe(0n);
    const four = jit(nativeArena(), SUM, mem(4));
    expect(testRun(four, { data: Uint8Array.of(1, 2, 3, 250) }).retval).toBe(256n);
    four.free();
    prog.free();
    expect(() => testRun(prog)).toThrow(EbpfError);
  });

  it('bad options are EINVAL', () => {
    const prog = jit(nativeArena(), SUM, mem(0));
    for (const options of [{ repeat: -1 }, { repeat: 1.5 }, { repeat: 2 ** 32 }, { data: [1, 2] as unknown as Uint8Array }]) {
      expect(() => testRun(prog, options)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => testRun({} as never)).toThrow(EbpfError);
    prog.free();
  });
});

describe('testRun only runs what was verified for that memory', () => {
  const arena = new SimulatedArena();
  // Reads the last of 64 bytes: safe for 64 bytes, out of bounds for fewer.
  const LAST = [ldx('B', 0, 1, 63), exit()];

  it('refuses data of another length than the program was verified for (the verifier proved accesses for exactly that size)', () => {
    const prog = jit(arena, LAST, mem(64));
    expect(testRun(prog, { data: new Uint8Array(64).fill(7) }).retval).toBe(7n);
    for (const length of [0, 4, 63, 65]) {
      expect(() => testRun(prog, { data: new Uint8Array(length) }), String(length)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    prog.free();
  });

  it('refuses look-alike programs and programs verified for another context', () => {
    const prog = jit(arena, LAST, mem(64));
    expect(() => testRun({ ...prog } as never, { data: new Uint8Array(64) })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => testRun({ arena, bpfFunc: prog.bpfFunc, freed: false } as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const xdp = jit(arena, [mov(0, 2), exit()], { progType: 'xdp' });
    expect(() => testRun(xdp, { data: new Uint8Array(64) })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    xdp.free();
    prog.free();
  });
});

describe('testRun on the simulated arena', () => {
  it('gives the same results as the native run (forms the simulated CPU implements)', () => {
    const arena = new SimulatedArena();
    for (const program of [COUNTER, SUM]) {
      const prog = jit(arena, program, mem(16));
      const sim = testRun(prog, { data: data(), repeat: 3 });
      if (NATIVE) {
        const native = jit(nativeArena(), program, mem(16));
        const real = testRun(native, { data: data(), repeat: 3 });
        native.free();
        expect(sim.retval).toBe(real.retval);
        expect(sim.dataOut).toEqual(real.dataOut);
      }
      expect(sim.dataOut[0]).toBe(program === COUNTER ? 3 : 0);
      prog.free();
    }
    arena.dispose();
  });

  it('division, atomics and calls run on the simulated CPU too', () => {
    const arena = new SimulatedArena();
    const prog = jit(arena, [mov(0, 7), mov(1, 2), aluX('DIV', 0, 1), exit()], mem(0));
    expect(testRun(prog).retval).toBe(3n);
    arena.dispose();
  });
});
