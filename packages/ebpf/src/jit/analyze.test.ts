import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EbpfError } from '../errors.js';
import { type Insn, insn } from '../insn.js';
import { aluK, aluX, atomic, callLocal, endian, exit, ja, jmpK, lddw, ldx, mov, st } from '../test-support/jit-builders.js';
import { verify } from '../verifier/verify.js';
import { analyze } from './analyze.js';
import { JitError } from './errors.js';
import { jit } from './jit.js';

// The JIT's own structural checks (`analyze`, run before any code is emitted, after the
// verifier): tested directly, as `jit` verifies raw instructions before they get here.
const arena = new SimulatedArena();
const refused = (program: unknown): unknown => {
  try {
    analyze(program as Insn[]);
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('jit compiles verified programs only', () => {
  const prog = [mov(0, 7), exit()];

  it('raw instructions without options.progType: EINVAL, nothing compiled', () => {
    let error: unknown;
    try {
      jit(arena, prog).free();
    } catch (e) {
      error = e;
    }
    expect(EbpfError.hasCode(error, 'EINVAL')).toBe(true);
    expect((error as Error).message).toMatch(/progType/);
  });

  it('a look-alike of a VerifiedProgram (same shape, not from verify) is refused: EINVAL', () => {
    const genuine = verify(prog, { progType: { kind: 'memory', size: 0 } });
    const forged = { ...genuine, insns: [ldx('DW', 0, 1, 4096), exit()] };
    let error: unknown;
    try {
      jit(arena, forged).free();
    } catch (e) {
      error = e;
    }
    expect(EbpfError.hasCode(error, 'EINVAL')).toBe(true);
    // the genuine one is frozen: its instructions cannot be swapped after verification
    expect(Object.isFrozen(genuine) && Object.isFrozen(genuine.insns) && Object.isFrozen(genuine.insns[0])).toBe(true);
    expect(() => jit(arena, genuine).free()).not.toThrow();
  });

  it('raw instructions with options.progType are verified first: a refusal is VERIFY', () => {
    let error: unknown;
    try {
      jit(arena, [ldx('DW', 0, 1, 0), exit()], { progType: { kind: 'memory', size: 4 } }).free();
    } catch (e) {
      error = e;
    }
    expect(BpfDispatcherError.hasCode(error, 'VERIFY')).toBe(true);
  });
});

describe('jit refuses what it cannot translate safely, with typed errors', () => {
  it('non-programs: EINVAL', () => {
    for (const bad of [
      undefined,
      null,
      42,
      'exit',
      {},
      [],
      [null],
      [{ code: 0x95 }],
      [{ code: 0x95, dst: 0, src: 0, off: 0, imm: 1.5 }],
      [{ code: 256, dst: 0, src: 0, off: 0, imm: 0 }],
    ]) {
      const error = refused(bad);
      expect(EbpfError.hasCode(error, 'EINVAL')).toBe(true);
    }
    expect(() => jit({} as never, [exit()])).toThrow(EbpfError);
    for (const bad of [undefined, null, 42, 'exit', {}, [], [null], [{ code: 0x95 }]]) {
      let error: unknown;
      try {
        jit(arena, bad as never, { progType: { kind: 'memory', size: 0 } }).free();
      } catch (e) {
        error = e;
      }
      expect(BpfDispatcherError.isInstance(error)).toBe(true);
    }
    expect(() => jit(arena, [exit()], { stackDepth: 513 })).toThrow(EbpfError);
    expect(() => jit(arena, [exit()], { helpers: { 1: 'x' as never } })).toThrow(EbpfError);
  });

  it('unknown opcodes, reserved fields, R10 as a destination, missing lddw halves: JitError with the slot', () => {
    const cases: Insn[][] = [
      [insn(0xe7, 0, 0, 0, 0), exit()], // ALU64 op 0xe0: none
      [insn(0x8c, 0, 1, 0, 0), exit()], // neg with the X bit
      [insn(0xd7, 1, 0, 0, 17), exit()], // bswap17
      [insn(0xdf, 1, 0, 0, 16), exit()], // ALU64 END with X
      [aluK('ADD', 10, 1), exit()], // write to r10
      [ldx('DW', 10, 1, 0), exit()],
      [aluX('ADD', 1, 11), exit()], // r11 does not exist
      [aluK('ADD', 1, 1, false, 1), exit()], // add with off 1
      [aluX('MOV', 1, 2, true, 32), exit()], // movsx32 at 32 bits
      [insn(0x20, 0, 0, 0, 0), exit()], // LD_ABS
      [insn(0x18, 1, 1, 0, 3), insn(0, 0, 0, 0, 0), exit()], // lddw map fd
      [lddw(1, 5n)[0] as Insn], // lddw without its second slot
      [insn(0x18, 1, 0, 0, 3), aluK('ADD', 1, 1), exit()], // second slot with an opcode
      [atomic('W', 'ADD', 1, 2, 0), insn(0xdb, 1, 2, 0, 0x02), exit()], // unknown atomic imm
      [insn((0xc3 & ~0x18) | 0x10, 1, 2, 0, 0), exit()], // atomic byte
      [atomic('DW', 'ADD', 1, 10, 0, true), exit()], // fetch into r10
      [insn(0x85, 0, 2, 0, 1), exit()], // kfunc
      [insn(0x85, 0, 3, 0, 1), exit()], // unknown call kind
      [insn(0x96, 0, 0, 0, 0)], // JMP32 exit
      [insn(0xe5, 0, 0, 0, 0), exit()], // jmp op 0xe0
      [insn(0x95, 0, 0, 0, 1)], // exit with imm
      [st('W', 1, 0, 0), insn(0x62 | 0x80, 1, 0, 0, 0), exit()], // ST with mode MEMSX
    ];
    for (const program of cases) {
      const error = refused(program);
      expect(error, JSON.stringify(program)).toBeInstanceOf(JitError);
      expect(BpfDispatcherError.hasCode(error, 'JIT')).toBe(true);
      expect((error as JitError).index).toBeGreaterThanOrEqual(0);
    }
  });

  it('control flow that would leave the image: JitError', () => {
    const cases: Insn[][] = [
      [mov(0, 0)], // falls off the end
      [jmpK('JEQ', 1, 0, 5), exit()], // beyond the end
      [ja(-2), exit()], // before the start
      [jmpK('JEQ', 1, 0, 1), ...lddw(1, 1n), exit()], // into the second slot of lddw
      [callLocal(1), exit(), jmpK('JEQ', 1, 0, -3), exit()], // out of its subprogram
      [callLocal(5), exit()], // call outside the program
      [callLocal(0), mov(0, 0), exit()], // main falls into the callee
    ];
    for (const program of cases) expect(refused(program), JSON.stringify(program)).toBeInstanceOf(JitError);
  });

  it('every random slot sequence is translated or refused with a typed error, never a crash', () => {
    const slot = fc.record({
      code: fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0x07, 0x0f, 0xb7, 0xbf, 0x95, 0x05, 0x15, 0x18, 0x61, 0x79, 0x7b, 0xdb, 0xc3, 0xd4, 0xdc, 0x85),
      ),
      dst: fc.integer({ min: 0, max: 15 }),
      src: fc.integer({ min: 0, max: 15 }),
      off: fc.integer({ min: -4, max: 4 }),
      imm: fc.oneof(fc.integer({ min: -4, max: 64 }), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff })),
    });
    fc.assert(
      fc.property(fc.array(slot, { minLength: 1, maxLength: 12 }), (program) => {
        const error = refused([...program, exit()]);
        if (error !== undefined) expect(BpfDispatcherError.isInstance(error)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('endian opcodes and the lddw halves are accepted as the RFC defines them', () => {
    for (const p of [
      [endian('le', 1, 16), exit()],
      [endian('be', 1, 64), exit()],
      [endian('bswap', 1, 32), exit()],
      [...lddw(1, 1n << 40n), exit()],
    ]) {
      expect(refused(p)).toBeUndefined();
    }
  });
});
