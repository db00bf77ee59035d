import { describe, expect, it } from 'vitest';
import { assemble } from './asm/assemble.js';
import { AssembleError } from './asm/assemble.js';
import { ProgramBuilder, bpf } from './builder.js';
import { EbpfError } from './errors.js';
import { interpret } from './interpreter.js';

describe('bpf tagged template', () => {
  it('assembles with interpolated numbers, bigints and strings', () => {
    const reg = '%r3';
    const prog = bpf`
      mov ${reg}, ${-1}
      lddw %r0, ${2n ** 40n}
      add %r0, ${reg}
      exit`;
    expect(prog).toEqual(assemble('mov %r3, -1\nlddw %r0, 1099511627776\nadd %r0, %r3\nexit'));
    expect(interpret(prog).r0).toBe(2n ** 40n - 1n);
  });

  it('reports assembly errors with the line and column in the joined text', () => {
    try {
      bpf`mov %r0, 1\n  bogus ${1}`;
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AssembleError);
      expect([(err as AssembleError).line, (err as AssembleError).column]).toEqual([2, 3]);
    }
    expect(() => bpf`mov %r0, ${1.5}`).toThrow(EbpfError);
    expect(() => bpf`mov %r0, ${{} as unknown as number}`).toThrow(EbpfError);
  });
});

describe('ProgramBuilder', () => {
  it('builds typed instructions with labels resolved at finish', () => {
    const b = new ProgramBuilder();
    const done = b.newLabel();
    const loop = b.newLabel();
    b.emit({ op: 'alu', width: 64, operation: 'mov', dst: 0, source: { imm: 0 } });
    b.bind(loop).emit({ op: 'alu', width: 64, operation: 'add', dst: 0, source: { imm: 3 } });
    b.jmp('jge', 0, { imm: 30 }, done).ja(loop);
    b.bind(done).emit({ op: 'exit' });
    const prog = b.finish();
    expect(prog).toEqual(assemble('mov %r0, 0\nL: add %r0, 3\njge %r0, 30, D\nja L\nD: exit'));
    expect(interpret(prog).r0).toBe(30n);
  });

  it('counts lddw as two slots and supports local calls', () => {
    const b = new ProgramBuilder();
    const f = b.newLabel('f');
    b.callLocal(f).emit({ op: 'exit' });
    b.bind(f).emit({ op: 'lddw', dst: 0, imm: 7n, pseudo: 0 }, { op: 'exit' });
    expect(interpret(b.finish()).r0).toBe(7n);
    expect(b.finish()).toEqual(assemble('call local f\nexit\nf: lddw %r0, 7\nexit'));
  });

  it('refuses unbound and rebound labels', () => {
    const b = new ProgramBuilder();
    const l = b.newLabel();
    b.ja(l);
    expect(() => b.finish()).toThrow(/never bound/);
    b.bind(l);
    expect(() => b.bind(l)).toThrow(/already bound/);
  });
});
