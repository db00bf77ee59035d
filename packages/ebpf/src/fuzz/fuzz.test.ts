import { NativeArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { EbpfError } from '../errors.js';
import { jit } from '../jit/jit.js';
import { verify } from '../verifier/verify.js';
import { testRun } from '../test-run.js';
import { corpus, fuzzProgram, mutate, randomProgram, structuredProgram, VALID_OPCODES, wildInsn } from './generate.js';
import { Fuzzer, reasonClass } from './run.js';
import { Rng } from './rng.js';

describe('fuzz generators', () => {
  it('are deterministic: program i of seed s is always the same', () => {
    for (const i of [0, 1, 77, 4096]) {
      expect(fuzzProgram(new Rng(9, i))).toEqual(fuzzProgram(new Rng(9, i)));
    }
    expect(fuzzProgram(new Rng(9, 1))).not.toEqual(fuzzProgram(new Rng(10, 1)));
  });

  it('cover every opcode byte and every field range (wild), and every valid opcode (biased)', () => {
    const rng = new Rng(1);
    const codes = new Set<number>();
    let dst15 = false;
    let offNeg = false;
    let immNeg = false;
    for (let n = 0; n < 20_000; n++) {
      const i = wildInsn(rng);
      codes.add(i.code);
      dst15 ||= i.dst === 15;
      offNeg ||= i.off < -0x4000;
      immNeg ||= i.imm < -0x4000_0000;
    }
    expect(codes.size).toBe(256);
    expect(dst15 && offNeg && immNeg).toBe(true);
    const seen = new Set<number>();
    for (let n = 0; n < 3000; n++) for (const i of randomProgram(rng)) seen.add(i.code);
    for (const code of VALID_OPCODES) expect(seen.has(code), `opcode 0x${code.toString(16)}`).toBe(true);
  });

  it('the hand-written corpus verifies (so mutations start from valid programs)', () => {
    for (const seed of corpus()) {
      const options = seed.target === 'xdp' ? { progType: 'xdp' as const } : { progType: { kind: 'memory' as const, size: seed.size } };
      let result: unknown;
      try {
        result = verify(seed.insns, options);
      } catch (error) {
        // The loop seed needs bounded-loop support; everything else must pass.
        expect(
          seed.insns.some((i) => (i.code & 7) === 5 && i.off < 0),
          String(error),
        ).toBe(true);
        continue;
      }
      expect(result).toBeDefined();
    }
  });

  it('structured programs are accepted often; mutations change them', () => {
    const rng = new Rng(3);
    let accepted = 0;
    let changed = 0;
    for (let n = 0; n < 200; n++) {
      const target = n % 3 === 0 ? 'xdp' : 'memory';
      const insns = structuredProgram(rng, target, 64);
      try {
        verify(insns, target === 'xdp' ? { progType: 'xdp' } : { progType: { kind: 'memory', size: 64 } });
        accepted++;
      } catch (error) {
        expect(error).toBeInstanceOf(EbpfError);
      }
      if (JSON.stringify(mutate(rng, insns)) !== JSON.stringify(insns)) changed++;
    }
    expect(accepted).toBeGreaterThan(40);
    expect(changed).toBeGreaterThan(180); // a swap of an instruction with itself changes nothing
  });

  it('classifies refusals by reason with the numbers blanked, and names untyped errors', () => {
    let error: unknown;
    try {
      verify([{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }], { progType: { kind: 'memory', size: 8 } });
    } catch (e) {
      error = e;
    }
    expect(reasonClass(error)).toMatch(/^VERIFY: /);
    expect(reasonClass(new TypeError('x is undefined'))).toBe('TypeError: x is undefined');
  });
});

/**
 * The short version of `scripts/fuzz.mjs`, in-process (a stray access would kill the test
 * worker, which fails the run): every refusal typed, every accepted program JIT'd and
 * run on guarded memory without error, native results equal to the interpreter's.
 */
describe.skipIf(!nativeSupported())('fuzz: verifier + JIT on guarded memory (3,000 programs)', () => {
  const arena = new NativeArena({ textSize: 8 << 20, dataSize: 1 << 20 });
  afterAll(() => arena.dispose());

  it('no untyped error, no JIT or run error on a verified program, no mismatch', () => {
    const fuzzer = new Fuzzer(arena, { compareEvery: 5 });
    const counts = { programs: 0, verifications: 0, accepted: 0, ran: 0, compared: 0 };
    const bad: string[] = [];
    try {
      for (let i = 0; i < 3000; i++) {
        const rng = new Rng(20_261_125, i);
        const program = fuzzProgram(rng);
        counts.programs++;
        for (const o of fuzzer.fuzzProgram(program, rng)) {
          counts.verifications++;
          if (o.verdict === 'rejected') continue;
          if (o.verdict !== 'accepted') bad.push(`program ${i} (${o.target}): ${o.verdict} ${o.reason ?? ''}`);
          else counts.accepted++;
          if (o.ran) counts.ran++;
          if (o.compared) counts.compared++;
        }
      }
    } finally {
      fuzzer.dispose();
    }
    expect(bad).toEqual([]);
    expect(counts.accepted).toBeGreaterThan(300);
    expect(counts.ran).toBeGreaterThan(300);
    expect(counts.compared).toBeGreaterThan(40);
  }, 300_000);
});

/**
 * Found by the fuzzer (seed 1, programs 57344 and 76163): the verifier accepts a program
 * whose only bad instruction is on a path it proved dead (a branch on a known constant),
 * as the kernel's verifier does, but the JIT checked every instruction and refused it with
 * a JitError. Like the kernel (`sanitize_dead_code()`), the verifier now hands dead code
 * over as `ja -1`, so the JIT only sees verified instructions.
 */
describe.skipIf(!nativeSupported())('regression: verified programs with dead instructions JIT and run', () => {
  const arena = new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 });
  afterAll(() => arena.dispose());
  const options = { progType: { kind: 'memory' as const, size: 8 } };

  it('dead `add r10, 8` (r0 = 1; if r0 != 0 goto out; r10 += 8; out: exit)', () => {
    const verified = verify(assemble('mov %r0, 1\njne %r0, 0, out\nadd %r10, 8\nout:\nexit'), options);
    expect(verified.insns[2]).toEqual({ code: 0x05, dst: 0, src: 0, off: -1, imm: 0 });
    const prog = jit(arena, verified);
    expect(testRun(prog, { data: new Uint8Array(8) }).retval).toBe(1n);
    prog.free();
  });

  it('dead `call 999` (an unknown helper on a dead path)', () => {
    const verified = verify(assemble('mov %r0, 1\njne %r0, 0, out\ncall 999\nout:\nexit'), options);
    const prog = jit(arena, verified);
    expect(testRun(prog, { data: new Uint8Array(8) }).retval).toBe(1n);
    prog.free();
  });
});
