import { emitText, SimulatedArena } from '@bpf-dispatcher/text-poke';
import { alu, imul, mov, ret } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../insn.js';
import { testRun } from '../test-run.js';
import { aluK, aluX, mov as bmov, callHelper, callLocal, exit, jmpK, lddw, ldx, movX, st, stx } from '../test-support/jit-builders.js';
import { NATIVE, nativeArena, runNative } from '../test-support/jit-native.js';
import type { HelperSpec } from '../verifier/helpers.js';
import { JitError } from './errors.js';
import { jit } from './jit.js';

/** Native helpers (System V): a weighted sum of the five arguments that clobbers every caller-saved register, and one that reports rsp mod 16. */
/** The verifier's view of the test helpers: 1 takes nothing, 3 and 7 five numbers, 99 nothing. */
const SPECS: HelperSpec[] = [
  { id: 1, name: 'test_align', args: [], ret: 'integer' },
  { id: 3, name: 'test_sum5', args: ['anything', 'anything', 'anything', 'anything', 'anything'], ret: 'integer' },
  { id: 7, name: 'test_sum5b', args: ['anything', 'anything', 'anything', 'anything', 'anything'], ret: 'integer' },
  { id: 99, name: 'test_none', args: [], ret: 'integer' },
];
const MEM0 = { progType: { kind: 'memory', size: 0 }, verifyOptions: { helpers: SPECS } } as const;

function helpers(): { sum: bigint; align: bigint } {
  const arena = nativeArena();
  const sum = emitText(arena, (b) => {
    mov(b, 'rax', 'rdi');
    for (const [reg, k] of [
      ['rsi', 2],
      ['rdx', 3],
      ['rcx', 4],
      ['r8', 5],
    ] as const) {
      imul(b, 'r9', reg, k);
      alu(b, 'add', 'rax', 'r9');
    }
    for (const reg of ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9', 'r10', 'r11'] as const) mov(b, reg, -1);
    ret(b);
  }).address;
  const align = emitText(arena, (b) => {
    mov(b, 'rax', 'rsp');
    alu(b, 'and', 'eax', 15);
    ret(b);
  }).address;
  return { sum, align };
}

describe.skipIf(!NATIVE)('calls natively', () => {
  it('a helper call passes R1..R5, returns R0 and keeps R6..R9 whatever the helper clobbers', () => {
    const { sum } = helpers();
    const prog: Insn[] = [
      ...lddw(6, 0x6000_0000_0000n),
      ...lddw(7, 0x7000_0000_0000n),
      ...lddw(8, 0x8000_0000_0000n),
      ...lddw(9, 0x9000_0000_0000n),
      st('DW', 10, -8, 1000),
      bmov(1, 1),
      bmov(2, 10),
      bmov(3, 100),
      bmov(4, 1000),
      bmov(5, 10000),
      callHelper(7),
      ldx('DW', 2, 10, -8),
      aluX('ADD', 0, 2),
      aluX('ADD', 0, 6),
      aluX('ADD', 0, 7),
      aluX('ADD', 0, 8),
      aluX('ADD', 0, 9),
      exit(),
    ];
    const want =
      1n +
      2n * 10n +
      3n * 100n +
      4n * 1000n +
      5n * 10000n +
      1000n +
      0x6000_0000_0000n +
      0x7000_0000_0000n +
      0x8000_0000_0000n +
      0x9000_0000_0000n;
    expect(runNative(prog, { helpers: new Map([[7, sum]]) }).r0).toBe(want);
    expect(runNative(prog, { helpers: { 7: sum } }).r0).toBe(want);
  });

  it('helpers see a 16-byte aligned stack (rsp = 8 mod 16 at entry), whatever registers a frame saves', () => {
    const { align } = helpers();
    for (const used of [[], [6], [6, 7], [6, 7, 8], [6, 7, 8, 9]]) {
      const prog: Insn[] = [...used.map((r) => bmov(r, 1)), callHelper(1), exit()];
      for (const stackDepth of [0, 8, 24, 512]) expect(runNative(prog, { ...MEM0, helpers: { 1: align }, stackDepth }).r0).toBe(8n);
    }
  });

  it('a helper id without an address is refused with a JitError', () => {
    expect(() => jit(nativeArena(), [callHelper(99), exit()], MEM0)).toThrow(JitError);
  });

  it('BPF-to-BPF calls: own frames, arguments in R1..R5, R6..R9 and the caller stack preserved', () => {
    // main: r6 = 7; [r10-8] = 1000; r1 = 20; r2 = 3; call sub; r0 += r6 + [r10-8]; exit
    // sub:  r6 = 100; [r10-8] = 55; r0 = r1 * r2 + r6 + [r10-8]; exit
    const sub: Insn[] = [
      bmov(6, 100),
      st('DW', 10, -8, 55),
      movX(0, 1),
      aluX('MUL', 0, 2),
      aluX('ADD', 0, 6),
      ldx('DW', 3, 10, -8),
      aluX('ADD', 0, 3),
      exit(),
    ];
    const main: Insn[] = [
      bmov(6, 7),
      st('DW', 10, -8, 1000),
      bmov(1, 20),
      bmov(2, 3),
      callLocal(5),
      aluX('ADD', 0, 6),
      ldx('DW', 3, 10, -8),
      aluX('ADD', 0, 3),
      exit(),
    ];
    // callLocal at slot 4 targets slot 4 + 1 + 4 = 9 = main.length
    main[4] = callLocal(main.length - 5);
    expect(runNative([...main, ...sub]).r0).toBe(20n * 3n + 100n + 55n + 7n + 1000n);
  });

  it('eight frames deep runs; nine frames and recursion are refused', () => {
    const chain = (frames: number): Insn[] => {
      const out: Insn[] = [];
      for (let f = 0; f < frames - 1; f++) out.push(callLocal(2), aluK('ADD', 0, 1), exit());
      out.push(bmov(0, 0), exit());
      return out;
    };
    expect(runNative(chain(8)).r0).toBe(7n);
    // the verifier refuses them first, in its words
    expect(() => jit(nativeArena(), chain(9), MEM0)).toThrow(/frames/);
    expect(() => jit(nativeArena(), [callLocal(-1), exit()], MEM0)).toThrow(/recursive/);
    expect(() => jit(nativeArena(), [callLocal(1), exit(), callLocal(-1), exit()], MEM0)).toThrow(/recursive/);
  });

  it('exits in the middle of a subprogram return through its epilogue', () => {
    // the jne/jeq (never taken) keep the code after the middle exit reachable, as the verifier requires
    const prog: Insn[] = [
      bmov(6, 1),
      callLocal(2),
      aluX('ADD', 0, 6),
      exit(),
      bmov(6, 50),
      bmov(0, 9),
      jmpK('JNE', 6, 50, 1),
      exit(),
      bmov(0, 1),
      exit(),
    ];
    expect(runNative(prog).r0).toBe(10n);
    expect(runNative([bmov(0, 3), stx('DW', 10, 0, -8), jmpK('JEQ', 0, 4, 1), exit(), bmov(0, 4), exit()]).r0).toBe(3n);
  });
});

describe('helper calls on the simulated arena', () => {
  it('call rel32 reaches an external function; R1..R5 arrive in rdi..r8', () => {
    const arena = new SimulatedArena();
    const helper = arena.textRange[0] - 0x1000n; // outside the arena, within rel32 reach
    arena.defineExternal(helper, (regs) => regs.rdi + 2n * regs.rsi + 3n * regs.rdx + 4n * regs.rcx + 5n * regs.r8);
    const prog = jit(arena, [bmov(1, 1), bmov(2, 10), bmov(3, 100), bmov(4, 1000), bmov(5, 10000), callHelper(3), exit()], {
      ...MEM0,
      helpers: { 3: helper },
    });
    expect(testRun(prog).retval).toBe(1n + 20n + 300n + 4000n + 50000n);
    arena.dispose();
  });

  it('a helper beyond rel32 reach of the image is a JitError and its region is returned', () => {
    const arena = new SimulatedArena({ textSize: 4096 });
    // 200 failed compilations of ~30 bytes each would exhaust 4 KiB of text if regions leaked
    for (let i = 0; i < 200; i++) {
      expect(() => jit(arena, [callHelper(1), exit()], { ...MEM0, helpers: { 1: 0x7000_0000_0000n } })).toThrow(/out of rel32 reach/);
    }
    jit(arena, [bmov(0, 1), exit()], MEM0).free();
    arena.dispose();
  });
});
