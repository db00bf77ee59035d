/**
 * JIT code quality against the running kernel: the same programs JIT'd by the kernel
 * (arch/x86/net/bpf_jit_comp.c, read back with BPF_OBJ_GET_INFO_BY_FD) and by this package,
 * compared in x86-64 instructions (both decoded with iced-x86 through
 * `@bpf-dispatcher/x86/disasm`) and in bytes. The target is "ours is no longer than the
 * kernel's"; where the kernel has an advantage we do not copy, the test names it and allows
 * exactly that much (each allowance is computed from the two listings, so the test fails
 * if anything else grows):
 *
 * - BMI2: on a CPU with BMI2 the kernel shifts by a register with `shlx`/`shrx`/`sarx`
 *   (one instruction, 5 bytes); our JIT (like the kernel without BMI2) goes through `cl`:
 *   `push rcx; mov rcx, src; shl dst, cl; pop rcx` (4 instructions, 8 bytes). The simulated
 *   CPU and the encoder have no BMI2 forms, and we do not probe CPUID.
 *
 * Differences in our favour (not allowances, they only make ours shorter):
 * - entry: the kernel puts a 3-byte nop (the tail-call counter slot, `xor rax, rax` when tail
 *   calls are reachable) after the 5-byte trampoline nop of every function; we keep the
 *   5-byte nop at `bpfFunc` only (no tail calls, subprograms are not trampoline targets);
 * - return: with the SRSO mitigation (this AMD machine) the kernel returns through
 *   `jmp __x86_return_thunk` (5 bytes) where we `ret` (1 byte); its `leave` (1 byte) is
 *   shorter than our `mov rsp, rbp; pop rbp` (4 bytes, the simulated CPU has no `leave`):
 *   per function the kernel has the same instruction count and 4 bytes more;
 * - context: the kernel rewrites `struct xdp_md` loads onto `struct xdp_buff`
 *   (convert_ctx_access): `data`/`data_end` become 8-byte loads (one instruction each, as
 *   ours), `ingress_ifindex` three loads (rxq->dev->ifindex), `rx_queue_index` two; our
 *   JIT reads the `xdp_md` the runtime passes (one load each);
 * - division: the kernel's verifier patches `div`/`mod` by a register with a zero test
 *   (`jne`/`xor`/`ja` around the division) and its JIT saves rax/rdx with push/pop; ours
 *   emits the same shape itself (the JIT must, without that verifier pass).
 *
 * The test skips, with the reason printed, only where `bpf()` is refused.
 */
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { type DecodedInstruction, disassemble } from '@bpf-dispatcher/x86/disasm';
import { afterAll, describe, expect, it } from 'vitest';
import { bpf } from '../builder.js';
import type { Insn } from '../insn.js';
import { jit } from '../jit/jit.js';
import type { ProgramType } from '../verifier/types.js';
import { kernelBpfAvailable, kernelProgInfo, kernelProgLoad } from './index.js';

const available = kernelBpfAvailable();
const arena = new SimulatedArena();
afterAll(() => arena.dispose());

/** One side of a comparison: the decoded instructions of every function, entry first. */
interface Image {
  readonly bytes: number;
  readonly decoded: readonly DecodedInstruction[];
  readonly functions: number;
}

function decode(parts: readonly Uint8Array[]): Image {
  const decoded = parts.flatMap((part) => disassemble(part, 0n));
  expect(decoded.every((d) => d.valid)).toBe(true);
  return { bytes: parts.reduce((n, p) => n + p.length, 0), decoded, functions: parts.length };
}

/** Our JIT's image, split at the subprogram entries. */
function ours(insns: readonly Insn[], progType: ProgramType): Image {
  const prog = jit(arena, insns, { progType });
  try {
    const starts = prog.subprogEntries.map((a) => Number(a - prog.bpfFunc));
    return decode(starts.map((s, k) => prog.bytes.subarray(s, starts[k + 1] ?? prog.size)));
  } finally {
    prog.free();
  }
}

/** The kernel JIT's image of the same program: every function of it (BPF_OBJ_GET_INFO_BY_FD). */
function kernels(insns: readonly Insn[]): Image {
  using prog = kernelProgLoad(insns, { progType: 'xdp', name: 'jit_quality' });
  const info = kernelProgInfo(prog);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const len of info.jitedFuncLens.length > 0 ? info.jitedFuncLens : [info.jitedBytes.length]) {
    parts.push(info.jitedBytes.subarray(at, at + len));
    at += len;
  }
  return decode(parts);
}

/** Two listings side by side (ours left), for the report. */
function sideBySide(a: Image, b: Image): string {
  const rows = Math.max(a.decoded.length, b.decoded.length);
  const out: string[] = [`${'ours'.padEnd(44)} kernel`];
  for (let k = 0; k < rows; k++) out.push(`${(a.decoded[k]?.text ?? '').padEnd(44)} ${b.decoded[k]?.text ?? ''}`);
  return out.join('\n');
}

/** By-register shifts the kernel did with a BMI2 instruction, and what that saved it (instructions, bytes). */
function bmi2Allowance(kernel: Image): { insns: number; bytes: number; count: number } {
  const count = kernel.decoded.filter((d) => /^(shlx|shrx|sarx)$/.test(d.mnemonic.toLowerCase())).length;
  return { insns: 3 * count, bytes: 3 * count, count };
}

interface Case {
  readonly insns: Insn[];
  readonly progType: ProgramType;
  /** Why ours and the kernel's differ for this program (printed with the figures). */
  readonly why: string;
}

const CASES: Record<string, Case> = {
  'return constant': {
    insns: bpf`
      mov %r0, 2
      exit`,
    progType: 'xdp',
    why: 'frame only: the kernel adds a 3-byte nop and returns through the SRSO thunk',
  },
  'ALU-heavy (30 instructions)': {
    insns: bpf`
      mov %r0, 1
      mov %r2, 7
      mov32 %r3, 3
      add %r0, %r2
      mul %r0, 13
      xor %r3, %r0
      lsh %r3, 5
      add32 %r3, 1000
      sub %r0, %r3
      or %r0, 0x40
      and %r0, 0xfffff
      rsh %r0, 2
      arsh %r3, 1
      mov %r4, %r0
      add %r4, %r3
      neg %r4
      mul32 %r4, %r2
      xor %r0, %r4
      sub32 %r2, 9
      lsh %r2, %r3
      or %r0, %r2
      mov32 %r5, %r0
      rsh32 %r5, 3
      add %r0, %r5
      and32 %r0, 0x7fff
      be16 %r0
      le32 %r0
      mov %r0, %r0
      and %r0, 3
      exit`,
    progType: 'xdp',
    why: 'the same instruction for instruction, except the shift by a register (BMI2 shlx in the kernel, 3 more instructions here)',
  },
  'div/mod by register': {
    insns: bpf`
      ldxw %r2, [%r1+12]    # ingress_ifindex
      ldxw %r3, [%r1+16]    # rx_queue_index
      mov %r0, 1000
      div %r0, %r2
      mod %r0, %r3
      div32 %r0, %r3
      and %r0, 3
      exit`,
    progType: 'xdp',
    why: 'the same zero tests and push/pop around div; the kernel needs 3 more instructions for its xdp_md to xdp_buff rewrites',
  },
  'stack + atomics': {
    insns: bpf`
      stdw [%r10-8], 5
      stdw [%r10-16], 0
      mov %r1, 3
      lock add [%r10-8], %r1
      mov %r2, 7
      lock fetch add [%r10-16], %r2
      mov %r0, 1
      lock xchg [%r10-8], %r0
      mov %r0, 8
      mov %r3, 2
      lock cmpxchg [%r10-8], %r3
      ldxdw %r0, [%r10-8]
      add %r0, %r2
      and %r0, 3
      exit`,
    progType: 'xdp',
    why: 'the same instructions; the kernel writes a lock prefix on xchg (implied by the CPU) and uses a disp32 sub rsp',
  },
  'XDP packet parser (data_end checks)': {
    insns: bpf`
      ldxw %r2, [%r1+0]     # data
      ldxw %r3, [%r1+4]     # data_end
      mov %r4, %r2
      add %r4, 34
      jgt %r4, %r3, pass    # Ethernet + IPv4 header in the packet?
      ldxh %r5, [%r2+12]
      jne %r5, 8, pass      # EtherType IPv4 (big endian 0x0800)
      ldxb %r5, [%r2+23]
      jne %r5, 17, pass     # UDP
      mov %r4, %r2
      add %r4, 42
      jgt %r4, %r3, pass
      ldxh %r5, [%r2+36]
      jne %r5, 0x3500, pass # destination port 53
      mov %r0, 1            # XDP_DROP
      exit
    pass:
      mov %r0, 2            # XDP_PASS
      exit`,
    progType: 'xdp',
    why: 'the same instructions; the kernel loads data/data_end as 8-byte xdp_buff fields',
  },
  'BPF-to-BPF call': {
    insns: bpf`
      mov %r1, 20
      mov %r2, 22
      call local add
      and %r0, 3
      exit
    add:
      mov %r0, %r1
      add %r0, %r2
      exit`,
    progType: 'xdp',
    why: 'two functions each side; the kernel gives the subprogram the same 8-byte entry nops as the main program',
  },
};

describe('JIT code quality against the kernel JIT', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: our x86-64 code is no longer than the kernel's (instructions and bytes)`, (ctx) => {
      if (!available.ok) {
        console.warn(`jit quality skipped: bpf() is not usable here (${available.reason})`);
        ctx.skip(available.reason);
      }
      const a = ours(c.insns, c.progType);
      const k = kernels(c.insns);
      expect(a.functions).toBe(k.functions);
      const bmi2 = bmi2Allowance(k);
      console.info(
        `jit quality, ${name}: ours ${a.decoded.length} instructions / ${a.bytes} bytes, kernel ${k.decoded.length} / ${k.bytes}` +
          `${bmi2.count > 0 ? ` (kernel used BMI2 for ${bmi2.count} shift(s): allowance ${bmi2.insns} instructions, ${bmi2.bytes} bytes)` : ''}` +
          `; ${c.why}\n${sideBySide(a, k)}`,
      );
      expect(a.decoded.length - bmi2.insns).toBeLessThanOrEqual(k.decoded.length);
      expect(a.bytes - bmi2.bytes).toBeLessThanOrEqual(k.bytes);
    });
  }

  it('the figures can fail: a program padded with a redundant instruction is longer than the kernel would make it', (ctx) => {
    if (!available.ok) ctx.skip(available.reason);
    const plain = ours(
      bpf`mov %r0, 2
      exit`,
      'xdp',
    );
    const padded = ours(
      bpf`mov %r0, 2
      mov32 %r0, %r0
      mov32 %r0, %r0
      mov32 %r0, %r0
      mov32 %r0, %r0
      exit`,
      'xdp',
    );
    const k = kernels(bpf`mov %r0, 2
      exit`);
    expect(plain.decoded.length).toBeLessThanOrEqual(k.decoded.length);
    expect(padded.decoded.length).toBeGreaterThan(k.decoded.length);
  });
});
