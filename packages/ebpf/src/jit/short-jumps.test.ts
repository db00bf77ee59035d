/**
 * Forward jumps take the rel8 form when the byte bounds of the slots in between prove it
 * reaches (the kernel gets there by emitting again until sizes converge), else rel32; either
 * way the program computes what the interpreter does.
 */
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { disassemble } from '@bpf-dispatcher/x86/disasm';
import { afterAll, describe, expect, it } from 'vitest';
import { bpf } from '../builder.js';
import { interpret } from '../interpreter.js';
import { testRun } from '../test-run.js';
import { jit } from './jit.js';

const arena = new SimulatedArena();
afterAll(() => arena.dispose());

/** `r0 = memory[0]; if r0 == 0 skip n additions; r0 += 1 (n times)`: the jump's form and the result. */
function skipOver(n: number, value: number): { form: 'short' | 'near'; r0: bigint; expected: bigint } {
  const insns = bpf`
    ldxb %r0, [%r1+0]
    jeq %r0, 0, +${n}
    ${'add %r0, 1\n'.repeat(n)}
    exit`;
  const memory = Uint8Array.of(value);
  const prog = jit(arena, insns, { progType: { kind: 'memory', size: 1 } });
  try {
    const jcc = disassemble(prog.bytes, 0n).find((d) => d.mnemonic.toLowerCase() === 'je');
    if (jcc === undefined) throw new Error('no je in the code');
    const r0 = testRun(prog, { data: memory }).retval;
    return { form: jcc.length === 2 ? 'short' : 'near', r0, expected: interpret(insns, { memory: memory.slice() }).r0 };
  } finally {
    prog.free();
  }
}

describe('forward jumps: rel8 when the slot bounds prove it reaches', () => {
  it('a jump over 10 ALU slots (at most 120 bytes) is short; over 11 (up to 132 bytes) it is near', () => {
    expect(skipOver(10, 0).form).toBe('short');
    expect(skipOver(11, 0).form).toBe('near');
  });

  it.each([1, 5, 10, 11, 40])('skipping %i slots or running them gives the interpreter result', (n) => {
    for (const value of [0, 3]) {
      const { r0, expected } = skipOver(n, value);
      expect(r0).toBe(expected);
    }
  });

  it('an exit in the middle jumps to the epilogue with rel8 when it is near', () => {
    const insns = bpf`
      mov %r0, 1
      ldxb %r3, [%r1+0]
      jeq %r3, 0, out
      exit
    out:
      mov %r0, 2
      exit`;
    const prog = jit(arena, insns, { progType: { kind: 'memory', size: 8 } });
    try {
      const jumps = disassemble(prog.bytes, 0n).filter((d) => /^j/.test(d.mnemonic.toLowerCase()));
      expect(jumps.map((d) => d.length)).toEqual([2, 2]);
    } finally {
      prog.free();
    }
  });
});
