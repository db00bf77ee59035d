import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../insn.js';
import { testRun } from '../test-run.js';
import { aluX, callLocal, exit, ldx, mov, st } from '../test-support/jit-builders.js';
import { NATIVE, nativeArena } from '../test-support/jit-native.js';
import { verify } from '../verifier/verify.js';
import { jit } from './jit.js';

// r0 = data[0] + stack: a program the verifier accepts for the memory program type.
const PROG: Insn[] = [st('DW', 10, -16, 5), ldx('DW', 0, 10, -16), ldx('B', 3, 1, 0), aluX('ADD', 0, 3), exit()];

describe.skipIf(!NATIVE)('jit with the verifier', () => {
  it('a VerifiedProgram is compiled with its stack depths (a smaller frame than 512 bytes)', () => {
    const verified = verify(PROG, { progType: { kind: 'memory', size: 4 } });
    const small = jit(nativeArena(), verified);
    const raw = jit(nativeArena(), verified, { stackDepth: 512 });
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
    // without a program type nothing is compiled
    expect(() => jit(nativeArena(), [mov(0, 1), exit()]).free()).toThrow(/progType/);
  });

  it('a program that may read stack it never wrote gets zeroed frames (readsUninitStack)', () => {
    // f leaves 0x1234 in its frame; g, called next with an identical frame at the same native
    // address, reads that slot without writing it: 0, not f's leftover
    const src = [
      callLocal(2), // f
      callLocal(4), // g
      exit(),
      st('DW', 10, -8, 0x1234), // f
      mov(0, 0),
      exit(),
      ldx('DW', 0, 10, -8), // g
      exit(),
    ];
    const verified = verify(src, { progType: { kind: 'memory', size: 0 } });
    expect(verified.readsUninitStack).toBe(true);
    const prog = jit(nativeArena(), verified);
    try {
      expect(testRun(prog).retval).toBe(0n);
    } finally {
      prog.free();
    }
    // a program that writes before it reads gets no zeroing loop: the same code as before
    const clean = verify(PROG, { progType: { kind: 'memory', size: 4 } });
    expect(clean.readsUninitStack).toBe(false);
  });
});

describe('jit with the verifier, on the simulated CPU', () => {
  it('the frame-zeroing prologue runs there too', () => {
    const src: Insn[] = [callLocal(2), callLocal(4), exit(), st('DW', 10, -8, 0x1234), mov(0, 0), exit(), ldx('DW', 0, 10, -8), exit()];
    const arena = new SimulatedArena();
    const prog = jit(arena, src, { progType: { kind: 'memory', size: 0 } });
    expect(testRun(prog).retval).toBe(0n);
    arena.dispose();
  });
});
