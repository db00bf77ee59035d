import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { interpret } from '../interpreter.js';
import { NATIVE, runNative, runSimulated } from '../test-support/jit-native.js';
import { accepts, memOpts, rejects } from '../test-support/verifier.js';

// Trial division of 67 (a prime) by 2..66: the loop of the bpf_conformance suite's prime test,
// written here from its C source (`for (i = 2; i < arg; i++) if (arg % i == 0) return 0;`).
const primeOf = (n: number) => `
  mov %r1, ${n}
  mov %r0, 1
  mov %r2, 2
  jgt %r1, 2, body
  exit
next:
  add %r2, 1
  mov %r0, 1
  jge %r2, %r1, done
body:
  mov %r3, %r1
  div %r3, %r2
  mul %r3, %r2
  mov %r4, %r1
  sub %r4, %r3
  mov %r0, 0
  jne %r4, 0, next
done:
  exit`;

describe('verifier: bounded loops (the kernel since Linux 5.3)', () => {
  it('accepts a loop with a constant bound (trial division of 67: 65 iterations) in bounded work', () => {
    const r = accepts(primeOf(67));
    // each iteration is explored once with its exact state: about 10 insns per iteration
    expect(r.processedInsns).toBeGreaterThan(65 * 9);
    expect(r.processedInsns).toBeLessThan(65 * 12 + 20);
  });

  it('the accepted prime loop gives the right result in the interpreter and the JIT', () => {
    for (const [n, prime] of [
      [67, 1n],
      [91, 0n],
      [97, 1n],
    ] as const) {
      const insns = assemble(primeOf(n));
      accepts(insns);
      expect(interpret(insns).r0).toBe(prime);
      if (NATIVE) expect(runNative(insns, { progType: { kind: 'memory', size: 0 } }).r0).toBe(prime);
      expect(runSimulated(insns, { progType: { kind: 'memory', size: 0 } }).r0).toBe(prime);
    }
  });

  it('refuses `ja -1` and a loop that never changes its state: "infinite loop detected at insn N"', () => {
    rejects('mov %r0, 0\nl:\nja l', memOpts(), 'infinite loop detected at insn 1', 1);
    rejects([{ code: 0x05, dst: 0, src: 0, off: -1, imm: 0 }], memOpts(), 'infinite loop detected at insn 0', 0);
    // r0 alternates between two values: the third visit repeats the first state
    rejects('mov %r0, 0\nl:\nxor %r0, 1\nja l', memOpts(), /^infinite loop detected at insn 1$/);
    // an even counter never equals 7: every state differs, until the budget runs out
    rejects('mov %r0, 0\nl:\nadd %r0, 2\njne %r0, 7, l\nexit', memOpts(64, { maxStates: 20_000 }), 'BPF program is too complex');
  });

  it('refuses a loop whose bound is an input (too complex or infinite), in bounded time', () => {
    // r2 counts up to a 64-bit word of the buffer: never proven to end
    const upTo = 'ldxdw %r1, [%r1]\nmov %r2, 0\nl:\nadd %r2, 1\njlt %r2, %r1, l\nmov %r0, %r2\nexit';
    rejects(upTo, memOpts(8), 'BPF program is too complex'); // the default budget: 1,000,000 insns
    rejects(upTo, memOpts(8, { maxStates: 10_000 }), 'BPF program is too complex');
    // counting an unknown value down to 0: each iteration narrows its range, so no state repeats
    // (the kernel, which tracks precision, would find the states equal: "infinite loop detected")
    const down = 'ldxdw %r1, [%r1]\nl:\nsub %r1, 1\njne %r1, 0, l\nmov %r0, 0\nexit';
    rejects(down, memOpts(8, { maxStates: 50_000 }), /^(BPF program is too complex|infinite loop detected at insn 1)$/);
    // an unknown value the loop does not touch: the state repeats at once
    rejects('ldxdw %r1, [%r1]\nmov %r0, 0\nl:\njne %r1, 0, l\nexit', memOpts(8), 'infinite loop detected at insn 2', 2);
  }, 120_000);

  it('accepts a loop bounded by a byte of input (at most 255 iterations)', () => {
    const r = accepts('ldxb %r1, [%r1]\nmov %r0, 0\nl:\njge %r0, %r1, out\nadd %r0, 1\nja l\nout:\nexit', memOpts(1));
    expect(r.processedInsns).toBeLessThan(256 * 10);
  });

  it('accepts nested bounded loops, and they compute the right result', () => {
    // sum over i < 6, j < 5 of (i * j), with a stack-spilled outer counter
    const src = `
      mov %r0, 0
      stdw [%r10-8], 0
    outer:
      ldxdw %r6, [%r10-8]
      mov %r7, 0
    inner:
      mov %r3, %r6
      mul %r3, %r7
      add %r0, %r3
      add %r7, 1
      jlt %r7, 5, inner
      add %r6, 1
      stxdw [%r10-8], %r6
      jlt %r6, 6, outer
      exit`;
    const insns = assemble(src);
    const r = accepts(insns);
    expect(r.processedInsns).toBeLessThan(6 * (5 * 6 + 8) + 20);
    expect(interpret(insns).r0).toBe(150n);
    expect(runSimulated(insns, { progType: { kind: 'memory', size: 0 } }).r0).toBe(150n);
    if (NATIVE) expect(runNative(insns, { progType: { kind: 'memory', size: 0 } }).r0).toBe(150n);
  });

  it('accepts a loop calling a subprogram each iteration (never joined: the callee sees each iteration)', () => {
    const insns = assemble('mov %r6, 0\nmov %r7, 0\nl:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\nadd %r6, 1\njlt %r6, 10, l\nmov %r0, %r7\nexit\nf:\nmov %r0, %r1\nmul %r0, %r1\nexit');
    accepts(insns);
    expect(interpret(insns).r0).toBe(285n);
  });

  it('a loop with a data-dependent branch in its body: accepted, pruned by fully explored states', () => {
    const r = accepts(
      'ldxb %r6, [%r1]\nmov %r0, 0\nmov %r2, 0\nl:\njset %r6, 1, odd\nadd %r0, 1\nja next\nodd:\nadd %r0, 2\nnext:\nadd %r2, 1\njlt %r2, 12, l\nexit',
      memOpts(1),
    );
    expect(r.processedInsns).toBeLessThan(200_000);
  });

  it('refuses a loop that reads past the buffer on a late iteration (each iteration is checked)', () => {
    rejects('mov %r2, 0\nmov %r0, 0\nl:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3]\nadd %r0, %r4\nadd %r2, 1\njlt %r2, 9, l\nexit', memOpts(8), /invalid access to memory/);
  });

  it('still refuses recursion and unreachable code', () => {
    rejects('call local f\nexit\nf:\ncall local f\nmov %r0, 0\nexit', memOpts(), 'recursive call from insn 2 to 2', 2);
    rejects('mov %r0, 0\nl:\nja l\nexit', memOpts(), 'unreachable insn 2', 2);
  });
});
