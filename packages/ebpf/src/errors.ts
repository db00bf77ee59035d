import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the errors thrown by the eBPF layer.
 *
 * - `EINVAL`: a bad argument from the caller (not a program defect).
 * - `DECODE`: bytes that are not a whole number of 8-byte instructions, or a field out of range.
 * - `ASSEMBLE`: assembler text that does not parse (carries line and column).
 * - `VERIFY`: the verifier refused the program (carries the instruction index).
 * - `JIT`: the JIT could not translate a verified program (e.g. code out of reach).
 * - `RUNTIME`: the interpreter stopped (step limit, call depth).
 * - `KERNEL`: the running kernel's `bpf()` refused a request (carries errno and its log).
 * - `UNSUPPORTED`: the kernel oracle is not available here (no `bpf()`, not Linux).
 */
export type EbpfErrorCode = 'EINVAL' | 'DECODE' | 'ASSEMBLE' | 'VERIFY' | 'JIT' | 'RUNTIME' | 'KERNEL' | 'UNSUPPORTED';

/** Base class of the eBPF layer's errors; `code` says which. */
export class EbpfError extends BpfDispatcherError<EbpfErrorCode> {}
