import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { PRUNE_STATES } from './interpret.js';
import { accepts, memOpts, rejects, xdpOpts } from '../test-support/verifier.js';

describe('verifier: programs with many branches', () => {
  it('verifies 4,000 instructions of 1,000 data-dependent branches in bounded work', () => {
    const lines = ['mov %r0, 0', 'ldxb %r3, [%r1]', 'ldxb %r4, [%r1+1]', 'mov %r6, %r1'];
    for (let k = 0; k < 1020; k++) lines.push(`jgt %r3, ${k % 200}, +2`, `add %r0, ${k % 5}`, `ldxb %r4, [%r6+${k % 60}]`, `xor %r4, %r0`);
    lines.push('exit');
    const p = assemble(lines.join('\n'));
    expect(p.length).toBeGreaterThan(4000);
    const r = accepts(p, memOpts(64));
    // without pruning this would be 2^1020 paths; with it, a few visits per jump target
    expect(r.processedInsns).toBeLessThan(p.length * (PRUNE_STATES + 4) * 2);
  });

  it('verifies a long XDP parser (a data_end check per header) in bounded work', () => {
    const lines = ['ldxw %r2, [%r1+0]', 'ldxw %r3, [%r1+4]', 'mov %r0, 2'];
    for (let k = 1; k <= 500; k++) {
      lines.push(
        'mov %r4, %r2',
        `add %r4, ${k * 8}`,
        'jgt %r4, %r3, out',
        `ldxdw %r5, [%r2+${k * 8 - 8}]`,
        `jne %r5, ${k}, +1`,
        'add %r0, 1',
      );
    }
    lines.push('exit', 'out:', 'mov %r0, 1', 'exit');
    const r = accepts(lines.join('\n'), xdpOpts());
    expect(r.processedInsns).toBeLessThan(100_000);
  });

  it('refuses, in bounded work, what needs more than its budget', () => {
    const lines = ['mov %r0, 0', 'ldxb %r3, [%r1]'];
    for (let k = 0; k < 1000; k++) lines.push(`jgt %r3, ${k % 200}, +1`, `add %r0, ${k}`);
    lines.push('exit');
    rejects(lines.join('\n'), memOpts(64, { maxStates: 2000 }), 'BPF program is too complex');
  });
});
