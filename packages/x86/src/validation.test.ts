/**
 * Regression tests for issue 10 (encoder input validation), one per class of defect:
 * 1. unknown operation names, 2. stray bytes after a failed emit (with a property test
 * over every instruction function), 3. a failed bind() leaving its label bound,
 * 4. raw TypeError/RangeError instead of typed errors, 5. shift counts the CPU would mask.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodeBuffer, type Label } from './code-buffer.js';
import { describeValue } from './describe.js';
import { disassemble, formatLine, listing } from './disasm/index.js';
import { BpfDispatcherError, DisplacementRangeError, ImmediateRangeError, LabelError, OperandError } from './errors.js';
import * as x86 from './index.js';
import { byte, dword, ptr, qword, word } from './memory.js';

type Fn = (...args: never[]) => unknown;
const f = (fn: unknown) => fn as (...args: unknown[]) => unknown;

/** Expect a typed encoder error with this code, and a buffer still empty. */
function expectTyped(run: () => unknown, code: string, name = ''): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(BpfDispatcherError.isInstance(caught), `${name}: not a typed error: ${String(caught)}`).toBe(true);
  expect((caught as BpfDispatcherError).code, name).toBe(code);
}

describe('class 1: operation names come from own-property tables only', () => {
  it('refuses mul / toString / constructor / rcl / sal as ALU or shift operations, writing nothing', () => {
    const buf = new CodeBuffer();
    for (const op of ['mul', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'ADD', '']) {
      expectTyped(() => f(x86.alu)(buf, op, 'rax', 1), 'INVALID_OPERAND');
      expectTyped(() => f(x86.alu)(buf, op, 'rax', 'rbx'), 'INVALID_OPERAND');
      expectTyped(() => f(x86.aluImm32)(buf, op, 'rax', 1), 'INVALID_OPERAND');
    }
    for (const op of ['rcl', 'rcr', 'sal', 'toString', 'constructor', 'SHL']) {
      expectTyped(() => f(x86.shift)(buf, op, 'rax', 3), 'INVALID_OPERAND');
      expectTyped(() => f(x86.shiftCl)(buf, op, 'rax'), 'INVALID_OPERAND');
    }
    for (const op of ['cmp', 'toString', 'mul']) expectTyped(() => f(x86.lockAlu)(buf, op, qword('rax'), 'rbx'), 'INVALID_OPERAND');
    for (const cond of ['toString', 'constructor', 'x', 1, 1n, Symbol('e'), Object.create(null)]) {
      expectTyped(() => f(x86.jcc)(buf, cond, 0), 'INVALID_OPERAND');
      expectTyped(() => f(x86.setcc)(buf, cond, 'al'), 'INVALID_OPERAND');
      expectTyped(() => f(x86.conditionCode)(cond), 'INVALID_OPERAND');
    }
    expect(buf.length).toBe(0);
  });
});

/** Values that are not a valid operand in any position of any instruction function. */
const BAD_VALUES: readonly unknown[] = [
  'toString',
  'constructor',
  'rcl',
  'mul',
  'xmm0',
  '0x1000',
  '',
  1.5,
  -0.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53,
  -(2 ** 60),
  1n << 64n,
  -(1n << 63n) - 1n,
  null,
  true,
  {},
  [],
  [1, 2],
  { kind: 'mem' },
  { kind: 'mem', base: 'rax', baseId: 0, disp: 0, bits: 12 },
  { kind: 'mem', base: 'rax', baseId: 3, disp: 0, bits: 64 },
  { kind: 'mem', base: 'eax', baseId: 0, disp: 0, bits: 32 },
  { kind: 'mem', base: 'rax', baseId: 0, disp: 1.5, bits: 64 },
  Object.create(null),
  Symbol('operand'),
  () => 0,
  'foreign-label', // replaced by a label of another buffer
];

/**
 * Every instruction function with valid arguments (after `buf`). The property replaces one
 * argument at a time with a bad value. `labels` are labels of the buffer under test.
 */
const FORMS: Record<string, (labels: readonly Label[]) => readonly unknown[]> = {
  alu: () => ['sub', 'rax', 'rbx'],
  aluImm32: () => ['cmp', 'rdx', -1],
  add: () => ['rax', 5],
  sub: () => ['eax', dword('rsp', 8)],
  and: () => [word('r12', -4), 'cx'],
  or: () => ['al', 1],
  xor: () => ['r9', 'r10'],
  cmp: () => [qword('rbp'), 0x1234, 'imm32'],
  test: () => ['esi', 7],
  inc: () => [byte('rdi', 1)],
  dec: () => ['r15'],
  shift: () => ['sar', 'eax', 31],
  mov: () => ['rax', 0x1234_5678_9abc_def0n, 'imm64'],
  movzx: () => ['eax', byte('rsi')],
  lea: () => ['rax', ptr('rsi', -8)],
  xchg: () => [qword('rdi'), 'rax'],
  lockXadd: () => [dword('rdi', 4), 'ecx'],
  cmovcc: () => ['ge', 'rax', 'rbx'],
  setcc: () => ['ne', 'al'],
  jcc: (labels) => ['e', labels[0], 'short'],
  jmp: (labels) => [labels[1], 'near'],
  call: () => [0x1000],
  ret: () => [],
  push: () => ['rbx'],
  pop: () => ['r12'],
  int3: () => [],
  pause: () => [],
  lfence: () => [],
  mfence: () => [],
  rdtsc: () => [],
  rdtscp: () => [],
  nop5: () => [],
  leave: () => [],
  retpolineThunk: () => ['rdx'],
  indirectJump: () => ['rdx', { kind: 'thunk', thunk: 0x2000n }],
  indirectCall: () => ['rax', { kind: 'indirect' }],
  emitFallbackJump: () => [{ kind: 'thunk', thunk: 0x2000n }],
  imul: () => ['rax', 'rbx', 1000],
  neg: () => ['ecx'],
  not: () => [qword('rax', 8)],
  mul: () => ['rsi'],
  div: () => ['ebx'],
  idiv: () => ['r8'],
  cqo: () => [],
  cdq: () => [],
  movsx: () => ['rax', dword('rdi')],
  bswap: () => ['r9d'],
  shiftCl: () => ['shl', 'rdx'],
  lockAlu: () => ['add', qword('rdi', 16), 'rax'],
  lockCmpxchg: () => [qword('rdi'), 'rcx'],
};

/** Exports that are not instruction functions (helpers, constructors, tables). */
const NOT_INSTRUCTIONS = new Set(['fitsInt8', 'fitsInt32', 'isMem', 'byte', 'word', 'dword', 'qword', 'ptr', 'isGp', 'toAddress', 'conditionCode', 'isAddress', 'fallbackThunk', 'isFallback', 'assertFallback', 'describeValue']);

/** Observable state of a buffer: its storage (all of it, as hex), length and label offsets. */
function snapshot(storage: Uint8Array, buf: CodeBuffer, labels: readonly Label[]) {
  return { bytes: Buffer.from(storage).toString('hex'), length: buf.length, labels: labels.map((l) => buf.labelOffset(l)) };
}

describe('class 2: a failed emit leaves the buffer exactly as it was', () => {
  it('the property below covers every instruction function the package exports', () => {
    const exported = Object.entries(x86)
      .filter(([name, value]) => typeof value === 'function' && !/^class\b/.test(Function.prototype.toString.call(value)) && !NOT_INSTRUCTIONS.has(name))
      .map(([name]) => name)
      .sort();
    expect(exported).toEqual(Object.keys(FORMS).sort());
  });

  it('the valid arguments of every form do encode (so the property varies one bad argument at a time)', () => {
    for (const [name, args] of Object.entries(FORMS)) {
      const buf = new CodeBuffer(0x1000n);
      const labels = [buf.newLabel(), buf.newLabel()];
      f((x86 as Record<string, unknown>)[name])(buf, ...args(labels));
      expect(buf.length, name).toBeGreaterThan(0);
    }
  });

  it('property: any instruction function given one bad operand throws a typed error and changes nothing', () => {
    const names = Object.keys(FORMS);
    // A random valid prefix: nops, forward/backward branches to 2 labels, binds.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('nops' as const), n: fc.integer({ min: 0, max: 60 }) }),
      fc.record({ kind: fc.constant('jump' as const), label: fc.integer({ min: 0, max: 1 }), short: fc.boolean() }),
      fc.record({ kind: fc.constant('bind' as const), label: fc.integer({ min: 0, max: 1 }) }),
    );
    const run = (buf: CodeBuffer, labels: readonly Label[], steps: readonly { kind: string; n?: number; label?: number; short?: boolean }[]) => {
      for (const s of steps) {
        if (s.kind === 'nops') buf.nops(s.n as number);
        else {
          const label = labels[s.label as number] as Label;
          if (s.kind === 'bind') {
            if (buf.labelOffset(label) === undefined) buf.bind(label);
          } else {
            x86.jmp(buf, label, 'near');
          }
        }
      }
    };
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 12 }),
        fc.constantFrom(...names),
        fc.nat(),
        fc.nat(BAD_VALUES.length - 1),
        fc.constantFrom(0n, 0xffffffffc0020000n, 0x7fff_fff0n),
        (steps, name, which, badIndex, base) => {
          const storage = new Uint8Array(1024).fill(0xa5);
          const control = new CodeBuffer(base, new Uint8Array(1024).fill(0xa5));
          const buf = new CodeBuffer(base, storage);
          const labels = [buf.newLabel(), buf.newLabel()];
          const controlLabels = [control.newLabel(), control.newLabel()];
          run(buf, labels, steps);
          run(control, controlLabels, steps);
          const args = [...(FORMS[name] as (l: readonly Label[]) => readonly unknown[])(labels)];
          const fn = f((x86 as unknown as Record<string, Fn>)[name]);
          const before = snapshot(storage, buf, labels);
          let bad = BAD_VALUES[badIndex];
          if (bad === 'foreign-label') bad = new CodeBuffer().newLabel();
          // position 0 is the buffer itself
          const position = which % (args.length + 1);
          const call = position === 0 ? [bad, ...args] : [buf, ...args.map((a, i) => (i === position - 1 ? bad : a))];
          let error: unknown;
          try {
            fn(...call);
          } catch (e) {
            error = e;
          }
          expect(BpfDispatcherError.isInstance(error), `${name} arg ${position} = ${describeValue(bad)}: ${String(error)}`).toBe(true);
          expect(['INVALID_OPERAND', 'IMMEDIATE_RANGE', 'DISPLACEMENT_RANGE', 'UNKNOWN_LABEL']).toContain((error as BpfDispatcherError).code);
          expect(snapshot(storage, buf, labels)).toEqual(before);
          // ... and the buffer goes on exactly like one that never saw the failed call.
          for (const b of [buf, control]) {
            const ls = b === buf ? labels : controlLabels;
            x86.int3(b);
            for (const l of ls) if (b.labelOffset(l) === undefined) b.bind(l);
          }
          expect(Buffer.from(buf.finish()).toString('hex')).toBe(Buffer.from(control.finish()).toString('hex'));
        },
      ),
      { numRuns: 2000 },
    );
  }, 120_000);

  it('out-of-range branches, foreign labels and bad immediates write nothing', () => {
    const base = 0xffffffffc0020000n;
    const cases: [string, (b: CodeBuffer) => unknown, string][] = [
      ['jmp short out of range', (b) => x86.jmp(b, base + 200n, 'short'), 'DISPLACEMENT_RANGE'],
      ['jcc short out of range', (b) => x86.jcc(b, 'e', base - 200n, 'short'), 'DISPLACEMENT_RANGE'],
      ['call out of rel32 range', (b) => x86.call(b, 0x4000_0000_0000n), 'DISPLACEMENT_RANGE'],
      ['jmp near out of rel32 range', (b) => x86.jmp(b, base - 0x8000_0000n), 'DISPLACEMENT_RANGE'],
      ['foreign label', (b) => x86.jmp(b, new CodeBuffer().newLabel()), 'UNKNOWN_LABEL'],
      ['unknown label object', (b) => x86.jcc(b, 'e', {} as Label), 'UNKNOWN_LABEL'],
      ['mov rax, 1.5', (b) => x86.mov(b, 'rax', 1.5), 'IMMEDIATE_RANGE'],
      ['mov rax, NaN', (b) => x86.mov(b, 'rax', Number.NaN), 'IMMEDIATE_RANGE'],
      ['mov rax, Infinity', (b) => x86.mov(b, 'rax', Number.POSITIVE_INFINITY), 'IMMEDIATE_RANGE'],
      ['mov rax, 2^53', (b) => x86.mov(b, 'rax', 2 ** 53), 'IMMEDIATE_RANGE'],
      ['mov rax, 2n^64', (b) => x86.mov(b, 'rax', 1n << 64n), 'IMMEDIATE_RANGE'],
      ['mov word mem to mem', (b) => x86.mov(b, word('rax'), word('rbx')), 'INVALID_OPERAND'],
      ['sub word mem to mem', (b) => x86.alu(b, 'sub', word('rax'), word('rbx')), 'INVALID_OPERAND'],
      ['indirectJump to a string thunk', (b) => x86.indirectJump(b, 'rdx', { kind: 'thunk', thunk: '0x1000' as unknown as bigint }), 'INVALID_OPERAND'],
      ['indirectCall to a string thunk', (b) => x86.indirectCall(b, 'rdx', { kind: 'thunk', thunk: '0x1000' as unknown as bigint }), 'INVALID_OPERAND'],
      ['jmp to a string', (b) => x86.jmp(b, '0x1000' as unknown as bigint), 'INVALID_OPERAND'],
    ];
    for (const [name, emit, code] of cases) {
      const storage = new Uint8Array(64).fill(0x5a);
      const buf = new CodeBuffer(base, storage);
      expectTyped(() => emit(buf), code, name);
      expect({ name, length: buf.length, bytes: [...storage] }).toEqual({ name, length: 0, bytes: Array(64).fill(0x5a) });
    }
    // a short branch to a bound label out of reach
    const buf = new CodeBuffer();
    const top = buf.newLabel();
    buf.bind(top).nops(200);
    expect(() => x86.jmp(buf, top, 'short')).toThrow(DisplacementRangeError);
    expect(buf.length).toBe(200);
  });
});

describe('class 3: bind() validates before it marks the label bound', () => {
  it('a bind that fails (short branch out of reach) leaves the label unbound and the bytes unchanged', () => {
    const storage = new Uint8Array(512);
    const buf = new CodeBuffer(0n, storage);
    const far = buf.newLabel();
    x86.jmp(buf, far, 'near');
    x86.jmp(buf, far, 'short');
    buf.nops(200);
    const before = storage.slice();
    expect(() => buf.bind(far)).toThrow(DisplacementRangeError);
    expect(buf.labelOffset(far)).toBeUndefined();
    expect(storage).toEqual(before);
    // still unbound: rebinding does not say LABEL_REBOUND, and finish() reports it unbound
    expect(() => buf.bind(far)).toThrow(DisplacementRangeError);
    expect(() => buf.finish()).toThrow(expect.objectContaining({ code: 'UNBOUND_LABEL' }));
  });

  it('bind() of a foreign or fake label throws LabelError and binds nothing', () => {
    const buf = new CodeBuffer();
    for (const bad of [new CodeBuffer().newLabel(), {}, null, undefined, 'label', 3]) {
      expect(() => buf.bind(bad as Label)).toThrow(LabelError);
    }
  });
});

describe('class 4: typed errors, never a raw TypeError/RangeError', () => {
  it('CodeBuffer constructor, nops, align, address, fields and patches validate their input', () => {
    expectTyped(() => new CodeBuffer(1.5), 'INVALID_OPERAND');
    expectTyped(() => new CodeBuffer('0x1000' as unknown as bigint), 'INVALID_OPERAND');
    expectTyped(() => new CodeBuffer(1n << 64n), 'INVALID_OPERAND');
    expectTyped(() => new CodeBuffer(0n, -1), 'INVALID_OPERAND');
    expectTyped(() => new CodeBuffer(0n, 1.5), 'INVALID_OPERAND');
    expectTyped(() => new CodeBuffer(0n, 'big' as unknown as number), 'INVALID_OPERAND');
    const buf = new CodeBuffer();
    for (const bad of [2.5, -1, Number.NaN, '4', 2 ** 40, 1n]) expectTyped(() => buf.nops(bad as number), 'INVALID_OPERAND');
    for (const bad of [3, 1.5, '16', 8192]) expectTyped(() => buf.align(bad as number), 'INVALID_OPERAND');
    expectTyped(() => buf.address(1.5), 'INVALID_OPERAND');
    for (const bad of [256, -129, 1.5, Number.NaN, '1']) expectTyped(() => buf.u8(bad as number), 'INVALID_OPERAND');
    expectTyped(() => buf.u8x2(0x0f, 300), 'INVALID_OPERAND');
    expectTyped(() => buf.u16(0x10000), 'INVALID_OPERAND');
    expectTyped(() => buf.u32(2 ** 32), 'INVALID_OPERAND');
    expectTyped(() => buf.u64(1.5 as unknown as bigint), 'INVALID_OPERAND');
    expectTyped(() => buf.raw('abc' as unknown as number[]), 'INVALID_OPERAND');
    expectTyped(() => buf.raw([1, 256]), 'INVALID_OPERAND');
    expectTyped(() => buf.raw(null as unknown as number[]), 'INVALID_OPERAND');
    expectTyped(() => buf.relTo('1' as unknown as bigint, 0), 'INVALID_OPERAND');
    expectTyped(() => buf.rel32To(Symbol('t') as unknown as bigint, 0, 'x'), 'INVALID_OPERAND');
    expectTyped(() => buf.labelField(buf.newLabel(), 'rel16' as 'rel8'), 'INVALID_OPERAND');
    expect(buf.length).toBe(0);
    buf.u8(-112).u32(0xffff_ffff).u64(-1);
    expect(buf.finish()).toEqual(Uint8Array.of(0x90, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  });

  it('disassemble / listing / formatLine (x86/disasm) validate their input', () => {
    for (const bad of [null, undefined, 'c3', [0xc3], 42]) {
      expectTyped(() => disassemble(bad as unknown as Uint8Array), 'INVALID_OPERAND');
      expectTyped(() => listing(bad as unknown as Uint8Array), 'INVALID_OPERAND');
    }
    expectTyped(() => disassemble(Uint8Array.of(0xc3), 1.5), 'INVALID_OPERAND');
    expectTyped(() => disassemble(Uint8Array.of(0xc3), '0' as unknown as bigint), 'INVALID_OPERAND');
    expectTyped(() => formatLine(null as unknown as { address: bigint; text: string }), 'INVALID_OPERAND');
    expect(listing(Uint8Array.of(0xc3), -1)).toBe('ffffffffffffffff: ret\n');
  });

  it('helpers: toAddress, fitsInt8/32, memory operands, registers, describe odd values', () => {
    for (const bad of ['1', 1.5, 2 ** 53, null, undefined]) expectTyped(() => x86.toAddress(bad), 'INVALID_OPERAND');
    expect(x86.toAddress((1n << 64n) + 5n)).toBe(5n);
    expect(x86.toAddress(-1)).toBe(0xffffffffffffffffn);
    expect(x86.toAddress(-1n)).toBe(0xffffffffffffffffn);
    expect(x86.toAddress(0xffffffffc0020000n)).toBe(0xffffffffc0020000n);
    expect(x86.toAddress(0x1000)).toBe(0x1000n);
    class MyError extends Error {}
    expect(() => x86.toAddress('x', 'prog', (m) => new MyError(m))).toThrow(MyError);
    expect(() => x86.toAddress('x', 'prog', (m) => new MyError(m))).toThrow(/^prog: /);
    expect(x86.fitsInt32('1' as unknown as number)).toBe(false);
    expect(x86.fitsInt8(1n << 64n)).toBe(false);
    expect(x86.fitsInt32(0xffffffffffffffffn)).toBe(true);
    for (const bad of [Number.NaN, 1.5, 2 ** 31, '8', 8n]) expect(() => qword('rax', bad as number)).toThrow(BpfDispatcherError);
    for (const bad of [1n, Object.create(null), Symbol('r'), 'eax']) expectTyped(() => qword(bad as 'rax'), 'INVALID_OPERAND');
    expect(x86.isMem({ kind: 'mem' })).toBe(false);
    expect(x86.isMem(qword('r13', -8))).toBe(true);
  });
});

describe('class 5: shift-immediate counts the CPU would mask are refused', () => {
  it('counts must lie in 0..width-1, count 0 included', () => {
    const widths = [
      ['rax', 64],
      ['eax', 32],
      ['ax', 16],
      ['al', 8],
    ] as const;
    for (const [reg, bits] of widths)
      for (const op of Object.keys(x86.SHIFT_OPS) as x86.ShiftOp[]) {
        const buf = new CodeBuffer();
        for (const count of [bits, bits + 8, 63 + 1, -1, 1.5]) expectTyped(() => x86.shift(buf, op, reg, count), 'INVALID_OPERAND');
        expect(buf.length).toBe(0);
        x86.shift(buf, op, reg, 0);
        x86.shift(buf, op, reg, bits - 1);
        const decoded = disassemble(buf.finish());
        expect(decoded.map((d) => d.text)).toEqual([`${op} ${reg},0x0`, `${op} ${reg},0x${(bits - 1).toString(16)}`]);
      }
    expectTyped(() => x86.shift(new CodeBuffer(), 'shl', 'eax', 40), 'INVALID_OPERAND');
    expectTyped(() => x86.shift(new CodeBuffer(), 'shl', dword('rax'), 32), 'INVALID_OPERAND');
    expect(() => x86.shift(new CodeBuffer(), 'shl', 'rax', 40)).not.toThrow();
    expect(() => x86.alu(new CodeBuffer(), 'add', 'eax', 0x1_0000_0000)).toThrow(ImmediateRangeError);
    expect(() => x86.alu(new CodeBuffer(), 'add', 'xmm0' as 'eax', 1)).toThrow(OperandError);
  });
});
