import { EbpfError } from '../errors.js';

/**
 * The running kernel's `bpf()` refused a request: `code` is `'KERNEL'`, `errno` the
 * kernel's error number and `errnoName` its symbolic name (`'EACCES'`, `'EINVAL'`, ...).
 * `log` holds the verifier log of a refused `BPF_PROG_LOAD` (empty for other commands):
 * the kernel's own account of why it refused the program.
 */
export class KernelError extends EbpfError {
  /** The errno the kernel returned (positive, e.g. 13 for EACCES). */
  readonly errno: number;
  /** Symbolic name of `errno` (`'E…'`), or `'errno N'` when unknown. */
  readonly errnoName: string;
  /** The `bpf()` command that failed, e.g. `'BPF_PROG_LOAD'`. */
  readonly command: string;
  /** The verifier log (for `BPF_PROG_LOAD`), else `''`. */
  readonly log: string;

  constructor(command: string, errno: number, errnoName: string, detail: string, log = '') {
    const tail = log.length > 0 ? `\n--- verifier log ---\n${lastLines(log, 40)}` : '';
    super('KERNEL', `${command} failed: ${errnoName} (${errno})${detail.length > 0 ? `: ${detail}` : ''}${tail}`);
    this.errno = errno;
    this.errnoName = errnoName;
    this.command = command;
    this.log = log;
  }
}

function lastLines(text: string, count: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.length <= count ? lines.join('\n') : ['…', ...lines.slice(-count)].join('\n');
}
