import { EbpfError } from '../errors.js';
import type { Insn } from '../insn.js';
import type { KernelProgType } from './bpf-attr.js';
import { kernelProgInfo } from './kernel-prog-info.js';
import { kernelProgLoad } from './kernel-prog.js';
import { kernelMapCreate } from './kernel-map.js';
import { wrapProgram } from './kernel-run.js';

/** The kernel's x86-64 JIT output for one program, decoded. */
export interface KernelJitSize {
  /** Machine-code bytes of the measured function. */
  readonly bytes: Uint8Array;
  /** Decoded x86-64 instructions in `bytes` (iced-x86). */
  readonly instructions: number;
  /** Bytes that did not decode (0 for a sound image). */
  readonly invalid: number;
  /** Kernel address of the measured function (0 if the kernel does not show it). */
  readonly address: bigint;
  /** objdump-style listing of `bytes` at `address`. */
  readonly listing: string;
}

/**
 * Load `insns` into the kernel and measure what its JIT made of them: the machine-code
 * bytes and the x86-64 instruction count (decoded with iced-x86 through
 * `@bpf-dispatcher/x86/disasm`, imported on first use). `as: 'program'` (default) loads the
 * instructions as they are (type `progType`, default `'xdp'`) and measures its main function;
 * `as: 'subprogram'` loads them as the subprogram of the 64-bit-r0 wrapper (for programs
 * the kernel would refuse as a main program, e.g. ones returning a 64-bit value) and
 * measures only their function. The basis of "our JIT is no longer than the kernel's".
 * @throws EbpfError UNSUPPORTED without `bpf()`; KernelError if the kernel refuses.
 */
export async function kernelJitSize(
  insns: readonly Insn[],
  options: { readonly as?: 'program' | 'subprogram'; readonly progType?: KernelProgType } = {},
): Promise<KernelJitSize> {
  const as = options.as ?? 'program';
  if (as !== 'program' && as !== 'subprogram') throw new EbpfError('EINVAL', `kernelJitSize: unknown as ${String(as)}`);
  let bytes: Uint8Array;
  let address = 0n;
  if (as === 'program') {
    const prog = kernelProgLoad(insns, { progType: options.progType ?? 'xdp', name: 'oracle_jitsize' });
    try {
      const info = kernelProgInfo(prog);
      bytes = info.jitedBytes.slice(0, info.jitedFuncLens[0] ?? info.jitedBytes.length);
      address = info.jitedAddresses[0] ?? 0n;
    } finally {
      prog.close();
    }
  } else {
    const map = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    try {
      const zero = [1, 2, 3, 4, 5].map((dst) => ({ code: 0xb7, dst, src: 0, off: 0, imm: 0 }));
      const prog = kernelProgLoad(wrapProgram(insns, zero, map.fd), { progType: 'xdp', name: 'oracle_jitsize' });
      try {
        const info = kernelProgInfo(prog);
        const start = info.jitedFuncLens[0] ?? 0;
        bytes = info.jitedBytes.slice(start, start + (info.jitedFuncLens[1] ?? 0));
        address = info.jitedAddresses[1] ?? 0n;
      } finally {
        prog.close();
      }
    } finally {
      map.close();
    }
  }
  const { disassemble, listing } = await import('@bpf-dispatcher/x86/disasm');
  const decoded = disassemble(bytes, address);
  return {
    bytes,
    address,
    instructions: decoded.filter((d) => d.valid).length,
    invalid: decoded.filter((d) => !d.valid).length,
    listing: listing(bytes, address),
  };
}
