import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { BPF_ALU_OP, BPF_CLASS, BPF_JMP_OP, BPF_SRC } from '../insn.js';
import { kernelProgLoad } from './kernel-prog.js';
import { bpfNative } from './native.js';

/** Whether the running kernel's `bpf()` can be used here, and if not, why. */
export type KernelBpfAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

let probed: KernelBpfAvailability | undefined;

/**
 * Probe once whether the kernel oracle works: x86-64 Linux, koffi loads, and the kernel
 * accepts a trivial program (`BPF_PROG_LOAD` of `r0 = 0; exit` as a socket filter; refused
 * with EPERM without CAP_BPF/root). Never throws; the answer is cached.
 */
export function kernelBpfAvailable(): KernelBpfAvailability {
  if (probed !== undefined) return probed;
  try {
    bpfNative();
    const prog = kernelProgLoad(
      [
        { code: BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.K, dst: 0, src: 0, off: 0, imm: 0 },
        { code: BPF_CLASS.JMP | BPF_JMP_OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
      ],
      { progType: 'socket_filter' },
    );
    prog.close();
    probed = { ok: true };
  } catch (error) {
    const reason = BpfDispatcherError.isInstance(error) ? error.message.split('\n')[0] : String(error);
    probed = { ok: false, reason: reason ?? 'unknown' };
  }
  return probed;
}
