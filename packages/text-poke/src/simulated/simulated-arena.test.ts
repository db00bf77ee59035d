import {
  type AluOp,
  CANONICAL_CONDITIONS,
  type CodeBuffer,
  type ShiftOp,
  alu,
  call,
  cmovcc,
  cmp,
  int3,
  jcc,
  jmp,
  lea,
  lockXadd,
  mov,
  movzx,
  pop,
  push,
  ptr,
  qword,
  rdtsc,
  ret,
  retpolineThunk,
  setcc,
  shift,
  xchg,
} from '@bpf-dispatcher/x86';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeSupported } from '../native/libc.js';
import { NativeArena } from '../native/native-arena.js';
import { emitText as assemble } from '../emit-text.js';
import type { TextArena } from '../types.js';
import { SimulatedArena } from './simulated-arena.js';

describe('SimulatedArena', () => {
  let arena: SimulatedArena;
  afterEach(() => arena?.dispose());

  it('lives at kernel-like addresses by default', () => {
    arena = new SimulatedArena();
    expect(arena.textRange[0]).toBe(0xffffffffc0000000n);
    expect(arena.alloc(0x800, { at: 0xffffffffc0020000n }).address).toBe(0xffffffffc0020000n);
  });

  it('runs code, returns rax and traces every executed address, external functions included', () => {
    arena = new SimulatedArena();
    arena.defineExternal(-1, (regs) => regs.rdi + 1n);
    const fn = assemble(arena, 32, (b) => {
      mov(b, 'rdi', 41);
      jmp(b, -1);
    });
    const result = arena.run(fn.address, {}, { trace: true });
    expect(result.rax).toBe(42n);
    expect(result.trace).toEqual([fn.address, fn.address + 7n, 0xffffffffffffffffn]);
  });

  it('runs a jump through a retpoline thunk to the address in rdx', () => {
    arena = new SimulatedArena();
    arena.defineExternal(-5, () => 5);
    const thunk = assemble(arena, 32, (b) => void retpolineThunk(b, 'rdx'));
    const tramp = assemble(arena, 32, (b) => jmp(b, thunk.address));
    const result = arena.run(tramp.address, { rdx: -5 }, { trace: true });
    expect(result.rax).toBe(5n);
    expect(result.trace.at(-1)).toBe(0xfffffffffffffffbn);
  });

  it('stops runaway code with a STEP_LIMIT error', () => {
    arena = new SimulatedArena();
    const spin = assemble(arena, 16, (b) => {
      const top = b.newLabel();
      b.bind(top);
      jmp(b, top, 'short');
    });
    expect(() => arena.run(spin.address, {}, { maxSteps: 1000 })).toThrow(expect.objectContaining({ code: 'STEP_LIMIT' }));
  });

  it('faults on int3, unallocated text, stores to text and unknown addresses', () => {
    arena = new SimulatedArena();
    const trap = assemble(arena, 16, (b) => int3(b));
    expect(() => arena.run(trap.address)).toThrow(expect.objectContaining({ code: 'CPU_FAULT' }));
    const self = assemble(arena, 16, (b) => {
      mov(b, 'rax', trap.address);
      mov(b, qword('rax'), 0);
      ret(b);
    });
    expect(() => arena.run(self.address)).toThrow(/store to text/);
    const wild = assemble(arena, 16, (b) => jmp(b, -100));
    expect(() => arena.run(wild.address)).toThrow(/outside arena text/);
    expect(() => arena.defineExternal(arena.textRange[0], () => 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('validates run/start/call/runUntil/finish arguments before running (EINVAL, no hang)', () => {
    arena = new SimulatedArena();
    const spin = assemble(arena, 16, (b) => {
      const top = b.newLabel();
      b.bind(top);
      jmp(b, top, 'short');
    });
    const einval = expect.objectContaining({ code: 'EINVAL' });
    for (const maxSteps of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53, '10', 10n, null]) {
      expect(() => arena.run(spin.address, {}, { maxSteps: maxSteps as number }), String(maxSteps)).toThrow(einval);
    }
    expect(() => arena.run(spin.address, {}, { trace: 'yes' as unknown as boolean })).toThrow(einval);
    expect(() => arena.run(spin.address, {}, null as unknown as object)).toThrow(einval);
    expect(() => arena.run(spin.address, { rdi: 1.5 })).toThrow(einval);
    expect(() => arena.run(spin.address, { rdi: 1n << 64n })).toThrow(einval);
    expect(() => arena.run(spin.address, { eax: 1 } as unknown as { rax: number })).toThrow(einval);
    expect(() => arena.run(spin.address, 'rdi' as unknown as object)).toThrow(einval);
    expect(() => arena.run('0x10' as unknown as bigint)).toThrow(einval);
    for (const bad of [1.5, Number.NaN, 2 ** 53, 1n << 64n, -(1n << 63n) - 1n, '1', null]) {
      expect(() => arena.call(spin.address, bad as number), String(bad)).toThrow(einval);
    }
    expect(() => arena.start(spin.address, { rsi: Number.NaN })).toThrow(einval);
    const thread = arena.start(spin.address);
    expect(() => thread.runUntil(null as unknown as () => boolean)).toThrow(einval);
    expect(() => thread.runUntil(() => false, Number.NaN)).toThrow(einval);
    expect(() => thread.finish(Number.NaN)).toThrow(einval);
    expect(() => thread.finish(0)).toThrow(einval);
    expect(thread.runUntil(() => false, 10)).toBe(false);
    expect(() => thread.finish(100)).toThrow(expect.objectContaining({ code: 'STEP_LIMIT' }));
  });

  it('a fault raised by executing code is CPU_FAULT; an API call with a bad range is EFAULT', () => {
    arena = new SimulatedArena();
    const data = arena.allocData(64);
    const cpuFault = expect.objectContaining({ code: 'CPU_FAULT' });
    const load = assemble(arena, 32, (b) => {
      mov(b, 'rax', qword('rdi'));
      ret(b);
    });
    const store = assemble(arena, 32, (b) => {
      mov(b, qword('rdi', 8), 'rsi');
      ret(b);
    });
    expect(arena.call(load.address, data.address)).toBe(0n);
    arena.call(store.address, data.address, 7);
    expect(arena.call(load.address, data.address + 8n)).toBe(7n);
    // loads and stores outside the arena's regions, or straddling a region's end
    for (const address of [0n, 0x1000n, data.address + 60n, arena.dataRange[1]]) {
      expect(() => arena.call(load.address, address), `load 0x${address.toString(16)}`).toThrow(cpuFault);
    }
    expect(() => arena.call(store.address, 0x1000n, 1)).toThrow(cpuFault);
    expect(() => arena.call(store.address, load.address, 1)).toThrow(cpuFault);
    // the API: entries outside allocated text, reads outside regions
    const efault = expect.objectContaining({ code: 'EFAULT' });
    expect(() => arena.run(data.address)).toThrow(efault);
    expect(() => arena.run(0x1000n)).toThrow(efault);
    expect(() => arena.start(0x1000n)).toThrow(efault);
    expect(() => arena.call(data.address)).toThrow(efault);
    expect(() => arena.read(data.address + 60n, 8)).toThrow(efault);
    // an external function that returns something that is not a 64-bit word
    arena.defineExternal(-8, () => 1.5);
    const far = assemble(arena, 16, (b) => jmp(b, -8));
    expect(() => arena.call(far.address)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('sees pokes immediately (the decode cache drops on every text change)', () => {
    arena = new SimulatedArena();
    arena.defineExternal(-1, () => 1);
    arena.defineExternal(-2, () => 2);
    const fn = assemble(arena, 16, (b) => jmp(b, -1), { align: 8 });
    expect(arena.call(fn.address)).toBe(1n);
    arena.textPoke(fn.address, 'jump', -1, -2);
    expect(arena.call(fn.address)).toBe(2n);
  });
});

/**
 * Differential test of the interpreter: the same machine code, random inputs, and the
 * answer from a BigInt model, and from the real CPU where the native arena runs.
 */
describe('simulated CPU agrees with a model and with the real CPU', () => {
  const arenas: TextArena[] = [];
  afterEach(() => {
    for (const a of arenas.splice(0)) a.dispose();
  });

  const bothArenas = () => {
    const list: TextArena[] = [new SimulatedArena()];
    if (nativeSupported()) list.push(new NativeArena({ textSize: 1 << 20, dataSize: 1 << 16 }));
    arenas.push(...list);
    return list;
  };

  const word = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.constantFrom(0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 63n, (1n << 64n) - 1n, (1n << 63n) - 1n),
  );

  const M = (1n << 64n) - 1n;
  const s64 = (v: bigint) => BigInt.asIntN(64, v);
  const CONDITION_MODEL: Record<string, (a: bigint, b: bigint) => boolean> = {
    e: (a, b) => a === b,
    ne: (a, b) => a !== b,
    b: (a, b) => a < b,
    ae: (a, b) => a >= b,
    be: (a, b) => a <= b,
    a: (a, b) => a > b,
    l: (a, b) => s64(a) < s64(b),
    ge: (a, b) => s64(a) >= s64(b),
    le: (a, b) => s64(a) <= s64(b),
    g: (a, b) => s64(a) > s64(b),
    s: (a, b) => s64((a - b) & M) < 0n,
    ns: (a, b) => s64((a - b) & M) >= 0n,
    o: (a, b) => {
      const r = s64(a) - s64(b);
      return r < -(1n << 63n) || r >= 1n << 63n;
    },
    no: (a, b) => {
      const r = s64(a) - s64(b);
      return !(r < -(1n << 63n) || r >= 1n << 63n);
    },
  };

  it('cmp + setcc / cmovcc / jcc for every condition', () => {
    const list = bothArenas();
    const fns = list.map((arena) =>
      Object.fromEntries(
        CANONICAL_CONDITIONS.map((cond) => [
          cond,
          assemble(arena, 64, (b) => {
            // rax = (setcc) | (cmovcc 2) | (jcc 4)
            const skip = b.newLabel();
            mov(b, 'eax', 0);
            mov(b, 'ecx', 2);
            alu(b, 'cmp', 'rdi', 'rsi');
            setcc(b, cond, 'al');
            cmovcc(b, cond, 'edx', 'ecx');
            jcc(b, cond, skip, 'short');
            alu(b, 'or', 'eax', 8);
            b.bind(skip);
            alu(b, 'or', 'eax', 'edx');
            ret(b);
          }).address,
        ]),
      ),
    );
    fc.assert(
      fc.property(word, word, (a, b) => {
        for (const cond of CANONICAL_CONDITIONS) {
          const results = list.map((arena, i) => arena.call((fns[i] as Record<string, bigint>)[cond] as bigint, a, b, 0));
          const model = CONDITION_MODEL[cond];
          if (model !== undefined) {
            const t = model(a, b);
            expect(results[0], `${cond} ${a} ${b}`).toBe(t ? 3n : 8n);
          }
          for (const r of results) expect(r, `${cond} sim vs native`).toBe(results[0]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('ALU ops, shifts and widths', () => {
    const list = bothArenas();
    type Op = { name: string; emit: (b: CodeBuffer) => void };
    const ops: Op[] = [];
    for (const op of ['add', 'sub', 'and', 'or', 'xor'] as AluOp[]) {
      ops.push({ name: `${op} r64`, emit: (b) => alu(b, op, 'rax', 'rsi') });
      ops.push({ name: `${op} r32`, emit: (b) => alu(b, op, 'eax', 'esi') });
      ops.push({ name: `${op} r16`, emit: (b) => alu(b, op, 'ax', 'si') });
      ops.push({ name: `${op} r8`, emit: (b) => alu(b, op, 'al', 'sil') });
      ops.push({ name: `${op} imm`, emit: (b) => alu(b, op, 'rax', -77) });
    }
    for (const op of ['shl', 'shr', 'sar', 'rol', 'ror'] as ShiftOp[]) {
      for (const n of [1, 7, 33]) ops.push({ name: `${op} ${n}`, emit: (b) => shift(b, op, 'rax', n) });
      ops.push({ name: `${op} 5 r32`, emit: (b) => shift(b, op, 'eax', 5) });
    }
    ops.push({ name: 'movzx byte', emit: (b) => movzx(b, 'eax', 'sil') });
    ops.push({ name: 'movzx word', emit: (b) => movzx(b, 'rax', 'si') });
    ops.push({ name: 'lea', emit: (b) => lea(b, 'rax', ptr('rsi', -12345)) });
    ops.push({
      name: 'cmp imm32 + sete',
      emit: (b) => {
        cmp(b, 'rdi', -9, 'imm32');
        setcc(b, 'e', 'al');
      },
    });
    const fns = list.map((arena) =>
      ops.map(
        (op) =>
          assemble(arena, 64, (b) => {
            mov(b, 'rax', 'rdi');
            op.emit(b);
            ret(b);
          }).address,
      ),
    );
    fc.assert(
      fc.property(word, word, (a, b) => {
        ops.forEach((op, j) => {
          const results = list.map((arena, i) => arena.call((fns[i] as bigint[])[j] as bigint, a, b));
          for (const r of results) expect(r, `${op.name} ${a} ${b}`).toBe(results[0]);
        });
      }),
      { numRuns: 100 },
    );
    // spot checks against known answers
    const sim = list[0] as TextArena;
    const addIdx = ops.findIndex((o) => o.name === 'add r32');
    expect(sim.call((fns[0] as bigint[])[addIdx] as bigint, 0xffffffff_ffffffffn, 1n)).toBe(0n);
  });

  it('stack, calls, xchg, lock xadd and rdtsc', () => {
    for (const arena of bothArenas()) {
      const cell = arena.allocData(16);
      const helper = assemble(arena, 16, (b) => {
        lea(b, 'rax', ptr('rdi', 1));
        ret(b);
      });
      const fn = assemble(arena, 96, (b) => {
        push(b, 'rbx');
        mov(b, 'rbx', cell.address);
        mov(b, qword('rbx'), 'rdi');
        mov(b, 'rax', 5);
        xchg(b, qword('rbx'), 'rax'); // rax = rdi, [rbx] = 5
        mov(b, 'rdi', 'rax');
        call(b, helper.address); // rax = rdi + 1
        mov(b, 'rcx', 10);
        lockXadd(b, qword('rbx'), 'rcx'); // [rbx] = 15, rcx = 5
        alu(b, 'add', 'rax', 'rcx');
        alu(b, 'add', 'rax', qword('rbx'));
        rdtsc(b);
        pop(b, 'rbx');
        ret(b);
      });
      // rdtsc clobbers eax/edx; check the memory cell instead
      arena.call(fn.address, 100);
      expect(new DataView(arena.read(cell.address, 8).buffer).getBigUint64(0, true)).toBe(15n);
    }
  });
});

describe('SimThread: threads that advance only when stepped', () => {
  it('interleaves two threads on one arena and resumes them to the right results', () => {
    const arena = new SimulatedArena();
    const fn = assemble(arena, 64, (b) => {
      mov(b, 'rax', 'rdi');
      alu(b, 'add', 'rax', 1);
      alu(b, 'add', 'rax', 1);
      alu(b, 'add', 'rax', 1);
      ret(b);
    });
    const a = arena.start(fn.address, { rdi: 10 });
    const b = arena.start(fn.address, { rdi: 20 });
    expect(a.runUntil((rip) => rip > fn.address + 3n)).toBe(true);
    expect(arena.run(fn.address, { rdi: 100 }).rax).toBe(103n);
    expect(b.finish().rax).toBe(23n);
    expect(a.halted).toBe(false);
    expect(a.finish().rax).toBe(13n);
    expect(a.halted).toBe(true);
    arena.dispose();
    expect(() => arena.start(fn.address)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });
});
