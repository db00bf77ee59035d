import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble } from './asm/assemble.js';
import { EbpfError } from './errors.js';
import { type InterpretOptions, type InterpreterHelper, interpret } from './interpreter.js';
import { INTERPRETER_CONTEXT_ADDRESS, INTERPRETER_STACK_TOP, InterpreterError } from './interpreter/memory.js';
import { toInsns } from './program-codec.js';
import { arbOp } from './test-support/arb-op.js';
import { ISA_CASES } from './test-support/isa-cases.js';

const U64 = (v: bigint) => BigInt.asUintN(64, v);
const run = (text: string, options?: InterpretOptions) => interpret(assemble(text), options).r0;

function runtimeError(text: string, options?: InterpretOptions): InterpreterError {
  try {
    interpret(assemble(text), options);
  } catch (err) {
    expect(err).toBeInstanceOf(InterpreterError);
    expect((err as InterpreterError).code).toBe('RUNTIME');
    return err as InterpreterError;
  }
  throw new Error('the program ran to completion');
}

describe('interpret: the ISA cases', () => {
  it.each(ISA_CASES.map((c) => [c.group, c.name, c] as const))('%s: %s', (_group, _name, c) => {
    const memory = c.memory === undefined ? undefined : Uint8Array.from(c.memory);
    expect(interpret(assemble(c.asm), memory === undefined ? {} : { memory }).r0).toBe(c.r0);
    if (c.memoryAfter !== undefined) expect(Array.from(memory ?? [])).toEqual(c.memoryAfter);
  });

  it('covers every instruction group', () => {
    expect(new Set(ISA_CASES.map((c) => c.group))).toEqual(new Set(['alu64', 'alu32', 'endian', 'jmp', 'ldx', 'st', 'atomic', 'call']));
  });

  it('counts steps (a two-slot lddw once)', () => {
    const result = interpret(assemble('mov %r0, 0\nL: add %r0, 1\njlt %r0, 10, L\nexit'));
    expect(result).toEqual({ r0: 10n, steps: 1 + 10 * 2 + 1 });
    expect(interpret(assemble('lddw %r0, 1\nexit')).steps).toBe(2);
  });
});

describe('interpret: memory', () => {
  const mem = () => Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x80, 0, 0, 0, 0, 0, 0, 0]);

  it('passes the context as r1 (address) and r2 (length), r10 as the frame pointer', () => {
    expect(run('mov %r0, %r1\nexit', { memory: mem() })).toBe(INTERPRETER_CONTEXT_ADDRESS);
    expect(run('mov %r0, %r2\nexit', { memory: mem() })).toBe(16n);
    expect(run('mov %r0, %r1\nadd %r0, %r2\nexit')).toBe(0n);
    expect(run('mov %r0, %r10\nexit')).toBe(INTERPRETER_STACK_TOP);
  });

  it('has a stack below r10', () => {
    expect(run('stxdw [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit', { memory: mem() })).toBe(INTERPRETER_CONTEXT_ADDRESS);
  });

  it('stops an access outside the regions with the instruction index', () => {
    expect(runtimeError('mov %r0, 0\nldxw %r0, [%r1+14]\nexit', { memory: mem() }).index).toBe(1);
    expect(runtimeError('ldxb %r0, [%r1-1]\nexit', { memory: mem() }).message).toMatch(/load of 1 byte at 0xffffffff/);
    expect(runtimeError('ldxb %r0, [%r1]\nexit').index).toBe(0); // no memory: r1 = 0
    expect(runtimeError('ldxdw %r0, [%r10]\nexit').index).toBe(0);
    expect(runtimeError('stb [%r10-513], 1\nexit').message).toMatch(/store of 1 byte/);
    expect(runtimeError('lddw %r1, 0xffffffffffffffff\nldxdw %r0, [%r1+8]\nexit').index).toBe(2);
  });
});

describe('interpret: calls', () => {
  it('calls helpers with r1..r5 and memory access, r0 taking the result', () => {
    const helpers = new Map<number, InterpreterHelper>([
      [1, (args) => (args[0] as bigint) + 2n * (args[1] as bigint) + 3n * (args[4] as bigint)],
      [2, (args, m) => m.load(args[0] as bigint, 4) - 1n],
      [
        3,
        (args, m) => {
          m.write(args[0] as bigint, Uint8Array.from([9, 8]));
          return BigInt(m.read(args[0] as bigint, 2)[1] as number);
        },
      ],
    ]);
    expect(run('mov %r1, 3\nmov %r2, 4\nmov %r5, 1\ncall 1\nexit', { helpers })).toBe(14n);
    expect(run('call 2\nexit', { helpers, memory: Uint8Array.from([1, 0, 0, 0]) })).toBe(0n);
    expect(run('call 2\nexit', { helpers, memory: new Uint8Array(4) })).toBe(U64(-1n));
    const m = new Uint8Array(2);
    expect(run('call 3\nexit', { helpers, memory: m })).toBe(8n);
    expect(Array.from(m)).toEqual([9, 8]);
  });

  it('refuses unknown helpers, kfuncs, and helpers that throw or return non-bigints', () => {
    expect(runtimeError('mov %r0, 0\ncall 7\nexit').message).toMatch(/instruction 1: unknown helper 7/);
    const helpers = new Map<number, InterpreterHelper>([
      [
        1,
        () => {
          throw new TypeError('boom');
        },
      ],
      [2, () => 5 as unknown as bigint],
      [3, (args, m) => m.load(args[0] as bigint, 8)],
    ]);
    const e = runtimeError('call 1\nexit', { helpers });
    expect(e.message).toMatch(/helper 1 threw: boom/);
    expect(e.cause).toBeInstanceOf(TypeError);
    expect(runtimeError('call 2\nexit', { helpers }).message).toMatch(/returned number/);
    expect(runtimeError('mov %r1, 0\ncall 3\nexit', { helpers }).message).toMatch(/outside/);
    expect(runtimeError('call runtime 3\nexit').message).toMatch(/kfunc/);
  });

  it("lets a callee use the caller's stack through a pointer, and passes r1..r5", () => {
    const text = `
      stdw [%r10-8], 40
      mov %r1, %r10
      add %r1, -8
      mov %r2, 2
      call local f
      exit
    f:
      ldxdw %r0, [%r1]
      add %r0, %r2
      mov %r3, %r10
      sub %r3, %r1
      add %r0, %r3
      exit`;
    expect(run(text)).toBe(40n + 2n + U64(-504n)); // callee r10 = caller r10 - 512
  });

  const recurse = (depth: number) =>
    `mov %r1, ${depth}\ncall local f\nexit\nf: jeq %r1, 0, +3\nsub %r1, 1\ncall local f\nexit\nmov %r0, 42\nexit`;

  it('allows 8 frames and refuses a 9th with the index of the call', () => {
    expect(run(recurse(6))).toBe(42n); // main + 7 frames of f = 8
    const e = runtimeError(recurse(7));
    expect(e.message).toMatch(/call depth exceeds 8 frames/);
    expect(e.index).toBe(5);
  });
});

describe('interpret: refusals', () => {
  it('stops at the step limit', () => {
    const e = runtimeError('L: ja L', { maxSteps: 100 });
    expect(e.message).toMatch(/step limit of 100/);
    expect(interpret(assemble('mov %r0, 1\nexit'), { maxSteps: 2 }).r0).toBe(1n);
    expect(() => interpret(assemble('mov %r0, 1\nexit'), { maxSteps: 1 })).toThrow(/step limit/);
  });

  it('stops when execution leaves the program or lands inside lddw', () => {
    expect(runtimeError('mov %r0, 1').message).toMatch(/instruction 0: execution left the program: slot 1 is outside/);
    expect(runtimeError('mov %r0, 1\nja -3\nexit').message).toMatch(/instruction 1: .* slot -1 is outside/);
    expect(runtimeError('mov %r0, 1\njeq %r0, 1, +5\nexit').index).toBe(1);
    expect(runtimeError('ja +1\nlddw %r0, 1\nexit').message).toMatch(/instruction 0: jump to slot 2, the second slot of lddw/);
  });

  it('refuses writes to r10, lddw of maps and legacy packet loads', () => {
    expect(runtimeError('mov %r10, 0\nexit').message).toMatch(/r10/);
    expect(runtimeError('mov %r1, 0\nlock fetch add [%r10-8], %r10\nexit').message).toMatch(/r10/);
    expect(runtimeError('lddw %r1, 3, map_fd\nexit').message).toMatch(/pseudo source 1/);
    expect(runtimeError('ldabsb 0\nexit').message).toMatch(/legacy packet access/);
  });

  it('refuses a program that is not RFC 9669 before running it, and bad options', () => {
    expect(() => interpret([{ code: 0x8d, dst: 2, src: 0, off: 0, imm: 0 }])).toThrow(/callx/);
    expect(() => interpret(assemble('exit'), { maxSteps: -1 })).toThrow(EbpfError);
    expect(() => interpret(assemble('exit'), { memory: [1, 2] as unknown as Uint8Array })).toThrow(EbpfError);
    expect(() => interpret(assemble('exit'), { helpers: {} as unknown as Map<number, InterpreterHelper> })).toThrow(EbpfError);
  });

  it('never fails with anything but an EbpfError on any valid instruction sequence', () => {
    const helpers = new Map<number, InterpreterHelper>([[1, () => 1n]]);
    let completed = 0;
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 12 }), fc.uint8Array({ maxLength: 32 }), (ops, memory) => {
        try {
          interpret(toInsns([...ops, { op: 'exit' }]), { memory, helpers, maxSteps: 200 });
          completed++;
        } catch (err) {
          expect(EbpfError.isInstance(err)).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
    expect(completed).toBeGreaterThan(0);
  });
});
