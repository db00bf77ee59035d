/**
 * Joins of states at a busy jump target (more than PRUNE_STATES uncovered states) must
 * keep what a program relies on, or the verifier refuses programs the kernel accepts (the
 * kernel never joins). Found by the kernel differential test of xdp_helpers.bpf.o: its
 * verdict (0..3) indexes `verdicts[5]` in .bss, and two counters in .bss are reached
 * through one register set to one or the other.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import type { Insn } from '../insn.js';
import { accepts, memOpts, rejects } from '../test-support/verifier.js';
import { PRUNE_STATES } from './interpret.js';

/** fd 5: an array map with direct value access, 32-byte value; fd 6: the same with 16 bytes. */
const MAPS = new Map([
  [5, { keySize: 4, valueSize: 32, directValue: true }],
  [6, { keySize: 4, valueSize: 16, directValue: true }],
]);

/** `lddw dst, &map_value(fd) + off` (pseudo source 2). */
const mapValue = (dst: number, fd: number, off = 0): Insn[] => [
  { code: 0x18, dst, src: 2, off: 0, imm: fd },
  { code: 0, dst: 0, src: 0, off: 0, imm: off },
];

/**
 * `count` diamonds on a byte of the buffer; diamond i sets r8 = i % 4 (when taken) and adds
 * i to r6, so that far more than PRUNE_STATES distinct states meet after them.
 */
function diamonds(count: number, arm: (i: number) => string): string {
  const lines = ['ldxb %r3, [%r1+0]', 'mov %r8, 0', 'mov %r6, 0'];
  for (let i = 1; i <= count; i++) {
    const body = arm(i).split('\n');
    lines.push(`jgt %r3, ${i * 7}, +${body.length + 1}`, ...body, `add %r6, ${i}`);
  }
  return lines.join('\n');
}

describe('verifier: joins at busy jump targets', () => {
  it('keeps a small range exact: a verdict 0..3 set on many paths indexes a 32-byte value', () => {
    expect(PRUNE_STATES).toBeLessThan(12);
    const head = assemble(diamonds(12, (i) => `mov %r8, ${i % 4}`));
    const tail = [...assemble('lsh %r8, 3'), ...mapValue(2, 5), ...assemble('add %r2, %r8\nldxdw %r0, [%r2+0]\nadd %r0, %r6\nexit')];
    const verified = accepts([...head, ...tail], memOpts(8, { maps: MAPS }));
    expect(verified.processedInsns).toBeLessThan(20_000);
  });

  it('still refuses an index that may be too large after the joins', () => {
    const head = assemble(diamonds(12, (i) => `mov %r8, ${i % 6}`)); // 0..5: up to byte 40 + 8 of a 32-byte value
    const tail = [...assemble('lsh %r8, 3'), ...mapValue(2, 5), ...assemble('add %r2, %r8\nldxdw %r0, [%r2+0]\nadd %r0, %r6\nexit')];
    rejects([...head, ...tail], memOpts(8, { maps: MAPS }), /R2 unbounded memory access|invalid access to map value/);
  });

  it('joins two pointers into one map value at different offsets into one with a variable offset', () => {
    // r5 = &value + 0 or &value + 8, chosen on many paths; then one 8-byte load and store through it
    const arms = (i: number) => (i % 2 === 0 ? 'mov %r5, %r7' : 'mov %r5, %r9');
    const setup = [...mapValue(7, 5, 0), ...mapValue(9, 5, 8), ...assemble('mov %r5, %r7')];
    const body = assemble(diamonds(12, arms));
    const use = assemble('ldxdw %r0, [%r5+0]\nstxdw [%r5+8], %r0\nadd %r0, %r6\nexit');
    accepts([...setup, ...body, ...use], memOpts(8, { maps: MAPS }));
    // the same through a 16-byte value: offset 8 + 8 + 8 bytes do not fit
    const small = [...mapValue(7, 6, 0), ...mapValue(9, 6, 8), ...assemble('mov %r5, %r7')];
    rejects([...small, ...body, ...use], memOpts(8, { maps: MAPS }), /R5 unbounded memory access|invalid access to map value/);
  });
});
