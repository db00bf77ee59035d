import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../insn.js';
import { testRun } from '../test-run.js';
import { aluX, exit, ldx, mov, st } from '../test-support/jit-builders.js';
import { NATIVE, nativeArena } from '../test-support/jit-native.js';
import { verify } from '../verifier/verify.js';
import { jit } from './jit.js';

// r0 = data[0] + stack: a program the verifier accepts for the memory program type.
const PROG: Insn[] = [st('DW', 10, -16, 5), ldx('DW', 0, 10, -16), ldx('B', 3, 1, 0), aluX('ADD', 0, 3), exit()];

describe.skipIf(!NATIVE)('jit with the verifier', () => {
  it('a VerifiedProgram is compiled with its stack depths (a smaller frame than 512 bytes)', () => {
    const verified = verify(PROG, { progType: { kind: 'memory', size: 4 } });
    const small = jit(nativeArena(), verified);
    const raw = jit(nativeArena(), PROG);
    try {
      expect(testRun(small, { data: Uint8Array.of(37, 0, 0, 0) }).retval).toBe(42n);
      // sub rsp, 16 (imm8) instead of sub rsp, 512 (imm32): the verified image is smaller
      expect(small.size).toBeLessThan(raw.size);
    } finally {
      small.free();
      raw.free();
    }
  });

  it('options.progType runs the verifier on raw instructions; a refused program is VERIFY and nothing is allocated', () => {
    const prog = jit(nativeArena(), PROG, { progType: { kind: 'memory', size: 4 } });
    expect(testRun(prog, { data: Uint8Array.of(1, 0, 0, 0) }).retval).toBe(6n);
    prog.free();
    // loads 8 bytes from a 4-byte buffer
    const bad: Insn[] = [ldx('DW', 0, 1, 0), exit()];
    let error: unknown;
    try {
      jit(nativeArena(), bad, { progType: { kind: 'memory', size: 4 } });
    } catch (e) {
      error = e;
    }
    expect(BpfDispatcherError.hasCode(error, 'VERIFY')).toBe(true);
    // without a program type only the structural checks run (the caller vouches for the program)
    expect(() => jit(nativeArena(), [mov(0, 1), exit()]).free()).not.toThrow();
  });
});
