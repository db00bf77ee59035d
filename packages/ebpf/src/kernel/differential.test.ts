/**
 * Differential test against the running kernel: random verifier-friendly programs run in
 * the kernel (through the 64-bit-r0 wrapper, `KernelRunner`), in the project's interpreter,
 * natively through the project's JIT and through the same JIT on the simulated CPU
 * (`SimulatedArena`; the first KERNEL_DIFF_SIM_RUNS programs, default all); all four must
 * agree on the full 64-bit r0 and on the memory. The JIT'd programs are verified first
 * (memory program type). Count-bounded and deterministic: the seed is fixed (override with
 * KERNEL_DIFF_SEED, the count with KERNEL_DIFF_RUNS) and printed on failure.
 *
 * Known kernel deviation (Linux 6.18, see `cmpxchg32 zero-extension` below): after a
 * 32-bit `cmpxchg` whose compare succeeds, a branch on a value the verifier does not know
 * whose fall-through overwrites r0, and a 64-bit use of r0 at the join, the kernel's
 * verifier prunes the path that needed r0's zero-extension and returns r0 with the upper
 * half of its old value. RFC 9669 (and our interpreter and JIT) zero-extend. The generator
 * therefore inserts `mov32 r0, r0` (a no-op under the ISA) after every 32-bit cmpxchg; the
 * deviation is kept as a documented exception, not copied.
 */
import { NativeArena, nativeSupported, SimulatedArena } from '@bpf-dispatcher/text-poke';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { disassemble } from '../asm/disassemble.js';
import type { Insn } from '../insn.js';
import { interpret } from '../interpreter.js';
import { jit } from '../jit/jit.js';
import { arbKernelProgram } from '../test-support/kernel-random-program.js';
import { testRun } from '../test-run.js';
import { KernelRunner, kernelBpfAvailable, kernelJitSize } from './index.js';

const SEED = Number(process.env.KERNEL_DIFF_SEED ?? 20261125);
const RUNS = Number(process.env.KERNEL_DIFF_RUNS ?? 300);
/**
 * How many of the programs also run JIT'd on the simulated CPU (an x86 interpreter in JS:
 * about 20 ms a program here, so all of them by default; lower it on a slow machine).
 */
const SIM_RUNS = Math.min(RUNS, Number(process.env.KERNEL_DIFF_SIM_RUNS ?? RUNS));
const available = kernelBpfAvailable();
const native = nativeSupported();

function skipUnlessKernel(ctx: { skip: (note?: string) => void }): void {
  if (!available.ok) {
    console.warn(`kernel differential skipped: bpf() is not usable here (${available.reason})`);
    ctx.skip(available.reason);
  }
}

function listing(insns: readonly Insn[]): string {
  try {
    return disassemble(insns);
  } catch {
    return insns.map((x) => JSON.stringify(x)).join('\n');
  }
}

const hex = (v: bigint | undefined): string => (v === undefined ? 'n/a' : `0x${v.toString(16)}`);

/** A minimal reproducer of the Linux 6.18 cmpxchg32 zero-extension bug (r0 = memory[0], r6 = memory[8], r7 = memory[16]). */
function cmpxchg32Reproducer(workaround: boolean): Insn[] {
  const i = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
  return [
    i(0x79, 0, 1, 0, 0), // r0 = *(u64 *)(r1 + 0)     0xaaaaaaaa11111111
    i(0x79, 6, 1, 8, 0), // r6 = *(u64 *)(r1 + 8)     1 (unknown to the verifier)
    i(0x79, 7, 1, 16, 0), // r7 = *(u64 *)(r1 + 16)
    i(0xb7, 2, 0, 0, 0), // r2 = 0
    i(0x7b, 10, 0, -8, 0), // *(u64 *)(r10 - 8) = r0
    i(0xc3, 10, 2, -8, 0xf1), // r0 = cmpxchg32(r10 - 8, r0, r2): succeeds, r0 = 0x11111111
    ...(workaround ? [i(0xbc, 0, 0, 0, 0)] : []), // mov32 r0, r0
    i(0x55, 6, 0, 1, 0), // if r6 != 0 goto +1   (taken at run time)
    i(0xbf, 0, 7, 0, 0), // r0 = r7                (the path the verifier walks first)
    i(0x95, 0, 0, 0, 0), // exit: the wrapper stores r0 as 64 bits
  ];
}

describe('kernel differential', () => {
  it(`${RUNS} random programs: kernel, interpreter, native JIT and (${SIM_RUNS} of them) the JIT on the simulated CPU agree on the 64-bit r0 and the memory`, (ctx) => {
    skipUnlessKernel(ctx);
    const runner = new KernelRunner();
    const arena = native ? new NativeArena({ textSize: 4 << 20, dataSize: 1 << 20 }) : undefined;
    const simulated = new SimulatedArena({ textSize: 4 << 20, dataSize: 1 << 20 });
    let ran = 0;
    let simulatedRan = 0;
    let insnTotal = 0;
    try {
      fc.assert(
        fc.property(arbKernelProgram({ cmpxchg32Workaround: true }), ({ insns, memory }) => {
          const kernel = runner.run(insns, { memory });
          const mem = memory.slice();
          const interp = interpret(insns, { memory: mem });
          // Verified for the memory program type (r1 = the memory, r2 = its length), then JIT'd.
          const progType = { kind: 'memory', size: memory.length } as const;
          const runJit = (on: NativeArena | SimulatedArena): { r0: bigint; mem: Uint8Array } => {
            const prog = jit(on, insns, { progType });
            try {
              const run = testRun(prog, { data: memory });
              return { r0: run.retval, mem: run.dataOut };
            } finally {
              prog.free();
            }
          };
          const nat = arena !== undefined ? runJit(arena) : undefined;
          const sim = ran < SIM_RUNS ? runJit(simulated) : undefined;
          const agree =
            kernel.r0 === interp.r0 &&
            (nat === undefined || nat.r0 === kernel.r0) &&
            (sim === undefined || sim.r0 === kernel.r0) &&
            Buffer.from(kernel.memory ?? []).equals(mem) &&
            (nat === undefined || Buffer.from(nat.mem).equals(mem)) &&
            (sim === undefined || Buffer.from(sim.mem).equals(mem));
          if (!agree) {
            throw new Error(
              `kernel r0 ${hex(kernel.r0)}, interpreter r0 ${hex(interp.r0)}, native JIT r0 ${hex(nat?.r0)}, simulated JIT r0 ${hex(sim?.r0)} (seed ${SEED}; memory ${Buffer.from(memory).toString('hex')})\n${listing(insns)}`,
            );
          }
          if (sim !== undefined) simulatedRan++;
          ran++;
          insnTotal += insns.length;
        }),
        { seed: SEED, numRuns: RUNS },
      );
    } catch (error) {
      throw new Error(`kernel differential failed (seed ${SEED}, rerun with KERNEL_DIFF_SEED=${SEED}): ${String(error)}`, { cause: error });
    } finally {
      runner.close();
      arena?.dispose();
      simulated.dispose();
    }
    console.info(
      `kernel differential: ${ran} random programs (${insnTotal} instructions, seed ${SEED}) agree in kernel, interpreter${arena ? ', native JIT' : ''} and, for ${simulatedRan} of them, the JIT on the simulated CPU`,
    );
    expect(ran).toBe(RUNS);
    expect(simulatedRan).toBe(SIM_RUNS);
  }, 600_000);

  it('cmpxchg32 zero-extension: the documented kernel deviation, and the mov32 workaround', (ctx) => {
    skipUnlessKernel(ctx);
    const memory = new Uint8Array(24);
    const view = new DataView(memory.buffer);
    view.setBigUint64(0, 0xaaaa_aaaa_1111_1111n, true);
    view.setBigUint64(8, 1n, true);
    view.setBigUint64(16, 5n, true);
    using runner = new KernelRunner();
    // RFC 9669: r0 receives the zero-extended old value.
    expect(interpret(cmpxchg32Reproducer(false), { memory: memory.slice() }).r0).toBe(0x1111_1111n);
    expect(runner.run(cmpxchg32Reproducer(true), { memory }).r0).toBe(0x1111_1111n);
    const raw = runner.run(cmpxchg32Reproducer(false), { memory }).r0;
    // The low half always agrees; the upper half is 0 on a fixed kernel, the old upper half on an affected one.
    expect(raw & 0xffff_ffffn).toBe(0x1111_1111n);
    expect([0n, 0xaaaa_aaaan]).toContain(raw >> 32n);
    console.info(
      `cmpxchg32 without the workaround: kernel r0 = ${hex(raw)} (${raw === 0x1111_1111n ? 'kernel agrees with RFC 9669' : 'the known kernel bug'})`,
    );
  });

  it('the kernel JIT of small programs decodes; instruction counts for the later size comparison', async (ctx) => {
    skipUnlessKernel(ctx);
    const i = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
    const programs: Record<string, { insns: Insn[]; as: 'program' | 'subprogram' }> = {
      'xdp pass (mov r0, 2; exit)': { insns: [i(0xb7, 0, 0, 0, 2), i(0x95, 0, 0, 0, 0)], as: 'program' },
      'lddw r0; exit (subprogram)': { insns: [i(0x18, 0, 0, 0, 1), i(0, 0, 0, 0, 2), i(0x95, 0, 0, 0, 0)], as: 'subprogram' },
      'div/mod by register (subprogram)': {
        insns: [i(0xb7, 0, 0, 0, 100), i(0xb7, 1, 0, 0, 7), i(0x3f, 0, 1, 0, 0), i(0x9c, 0, 1, 0, 0), i(0x95, 0, 0, 0, 0)],
        as: 'subprogram',
      },
      'stack + atomic (subprogram)': {
        insns: [i(0x7a, 10, 0, -8, 5), i(0xb7, 1, 0, 0, 3), i(0xdb, 10, 1, -8, 1), i(0x79, 0, 10, -8, 0), i(0x95, 0, 0, 0, 0)],
        as: 'subprogram',
      },
    };
    const counts: string[] = [];
    for (const [name, { insns, as }] of Object.entries(programs)) {
      const size = await kernelJitSize(insns, { as });
      expect(size.invalid).toBe(0);
      expect(size.instructions).toBeGreaterThan(0);
      counts.push(`${name}: ${size.instructions} x86 instructions, ${size.bytes.length} bytes`);
    }
    console.info(`kernel JIT sizes:\n  ${counts.join('\n  ')}`);
  });
});
