import { describe, expect, it } from 'vitest';
import { insn } from '../insn.js';
import { accepts, memOpts, rejects } from '../test-support/verifier.js';

const EXIT = insn(0x95, 0, 0, 0, 0);
const MOV0 = insn(0xb7, 0, 0, 0, 0);

/** `n` nested subprograms each calling the next: main + n frames. */
function callChain(n: number, stackPerFrame = 0): string {
  const lines: string[] = [];
  for (let k = 0; k <= n; k++) {
    lines.push(`f${k}:`);
    if (stackPerFrame > 0) lines.push(`stdw [%r10-${stackPerFrame}], 0`);
    if (k < n) lines.push(`call local f${k + 1}`);
    lines.push('mov %r0, 0', 'exit');
  }
  return lines.join('\n');
}

describe('verifier: control flow', () => {
  it('refuses a jump out of the program: "jump out of range"', () => {
    rejects([MOV0, insn(0x05, 0, 0, 38, 0), EXIT], memOpts(), 'jump out of range from insn 1 to 40', 1);
    rejects([MOV0, insn(0x15, 0, 0, -3, 0), EXIT], memOpts(), 'jump out of range from insn 1 to -1', 1);
    rejects([MOV0, insn(0x06, 0, 0, 0, 5), EXIT], memOpts(), 'jump out of range from insn 1 to 7', 1); // gotol
  });

  it('refuses a jump out of its subprogram', () => {
    rejects('call local f\nja +2\nf:\nmov %r0, 0\nexit', memOpts(), 'jump out of range from insn 1 to 4', 1);
  });

  it('refuses a jump into the second slot of lddw', () => {
    rejects(
      [insn(0x05, 0, 0, 1, 0), insn(0x18, 0, 0, 0, 1), insn(0, 0, 0, 0, 0), EXIT],
      memOpts(),
      'jump into the middle of ldimm64 insn 1',
      0,
    );
  });

  it('refuses a program that can fall off its end: the last insn must be exit or ja', () => {
    rejects([MOV0], memOpts(), 'last insn is not an exit or jmp', 0);
    rejects([MOV0, insn(0x15, 0, 0, -2, 0)], memOpts(), 'last insn is not an exit or jmp', 1);
    rejects('call local f\nexit\nf:\nmov %r0, 0', memOpts(), 'last insn is not an exit or jmp', 2);
  });

  it('refuses unreachable code', () => {
    rejects([MOV0, EXIT, MOV0, EXIT], memOpts(), 'unreachable insn 2', 2);
  });

  it('accepts a bounded loop, refuses an infinite one and recursion (more in loops.test.ts)', () => {
    accepts('mov %r0, 0\nl:\nadd %r0, 1\njlt %r0, 10, l\nexit');
    rejects('mov %r0, 0\nl:\nja l', memOpts(), 'infinite loop detected at insn 1', 1);
    rejects('call local f\nexit\nf:\ncall local f\nmov %r0, 0\nexit', memOpts(), 'recursive call from insn 2 to 2', 2);
    rejects('call local f\nexit\nf:\ncall local g\nexit\ng:\ncall local f\nexit', memOpts(), /^recursive call from insn 4 to 2$/);
  });

  it('accepts a backward jump that is not a loop', () => {
    accepts('mov %r1, 0\nja l2\nl1:\nmov %r2, 0\nexit\nl2:\nmov %r0, 0\nja l1');
  });

  it('refuses a call outside the program', () => {
    rejects([insn(0x85, 0, 1, 0, 5), MOV0, EXIT], memOpts(), 'call to invalid destination 6', 0);
  });

  it('accepts 8 frames and refuses 9: "the call stack of 9 frames is too deep !"', () => {
    expect(accepts(callChain(7)).maxCallDepth).toBe(8);
    rejects(callChain(8), memOpts(), 'the call stack of 9 frames is too deep !');
  });

  it('refuses a call chain whose stacks add up to more than 512 bytes (frames counted in 16-byte units)', () => {
    // 8 frames of 64 bytes = 512: accepted. 8 more bytes in each (72 -> 80 bytes) is too much.
    expect(accepts(callChain(7, 64)).maxCombinedStack).toBe(512);
    rejects(callChain(7, 72), memOpts(), /^combined stack size of \d+ calls is \d+\. Too large$/);
    rejects(
      'stdw [%r10-512], 0\ncall local f\nexit\nf:\nstdw [%r10-8], 0\nmov %r0, 0\nexit',
      memOpts(),
      'combined stack size of 2 calls is 528. Too large',
      1,
    );
    // 488 + 8 bytes round to 496 + 16 = 512: accepted, as by Linux
    accepts('stdw [%r10-488], 0\ncall local f\nexit\nf:\nstdw [%r10-8], 0\nmov %r0, 0\nexit');
  });

  it('refuses an empty program and one larger than maxInsns: "program is too large"', () => {
    rejects([], memOpts(), 'program is empty', 0);
    rejects([MOV0, MOV0, EXIT], memOpts(64, { maxInsns: 2 }), 'program is too large (3 insns, at most 2)', 0);
  });
});
