import { EbpfError } from '../errors.js';
import { type Insn, encodeProgram } from '../insn.js';
import { BPF_CMD, BPF_OBJ_NAME_LEN, BPF_PROG_TYPE, type KernelProgType, PROG_LOAD } from './bpf-attr.js';
import { KernelError } from './kernel-error.js';
import { KernelFd } from './kernel-fd.js';
import { bpfCall } from './native.js';
import { checkName, checkU32, writeName } from './validate.js';

/** Options of {@link kernelProgLoad} (the fields of `BPF_PROG_LOAD`). */
export interface KernelProgLoadOptions {
  /** The program type (`BPF_PROG_TYPE_*` in lower case). */
  readonly progType: KernelProgType;
  /** The license string (default `'GPL'`; GPL-only helpers need a GPL-compatible one). */
  readonly license?: string;
  /**
   * Verifier log level: 0 (default) asks for no log on success; a refused program is then
   * loaded once more with level 1 to obtain the kernel's reason. 1 = the log of the
   * failing path, 2 = every instruction the verifier walked; with ≥ 1 the log of a
   * successful load is kept in `KernelProg.log`.
   */
  readonly logLevel?: 0 | 1 | 2;
  /** Size of the log buffer in bytes (default 1 MiB; the kernel truncates a longer log). */
  readonly logSize?: number;
  /** Object name (≤ 15 of `[A-Za-z0-9_.]`). */
  readonly name?: string;
  /** `expected_attach_type` (default 0). */
  readonly expectedAttachType?: number;
  /** `prog_flags` (default 0). */
  readonly flags?: number;
}

/** A program loaded into the running kernel (verified and JIT-compiled), owning its fd. */
export class KernelProg extends KernelFd {
  /** @internal */
  constructor(
    fd: number,
    readonly progType: KernelProgType,
    readonly insnCount: number,
    readonly log: string,
  ) {
    super(fd);
  }
}

const DEFAULT_LOG_SIZE = 1 << 20;
const MAX_LOG_SIZE = (1 << 30) - 1;

/**
 * Load `insns` into the running kernel (`BPF_PROG_LOAD`): the kernel verifies the program
 * and JIT-compiles it.
 * @throws EbpfError EINVAL for bad options or instructions (see `encodeProgram`),
 * UNSUPPORTED without `bpf()`; KernelError when the kernel refuses, carrying its errno and
 * the verifier log (`error.log`).
 */
export function kernelProgLoad(insns: readonly Insn[], options: KernelProgLoadOptions): KernelProg {
  if (typeof options !== 'object' || options === null) throw new EbpfError('EINVAL', 'kernelProgLoad: options must be an object');
  const typeNumber = Object.hasOwn(BPF_PROG_TYPE, options.progType) ? BPF_PROG_TYPE[options.progType] : undefined;
  if (typeNumber === undefined) throw new EbpfError('EINVAL', `kernelProgLoad: unknown program type ${String(options.progType)}`);
  const code = encodeProgram(insns);
  if (insns.length === 0) throw new EbpfError('EINVAL', 'kernelProgLoad: the program is empty');
  const license = options.license ?? 'GPL';
  if (typeof license !== 'string' || license.includes('\0') || license.length > 127) {
    throw new EbpfError('EINVAL', 'kernelProgLoad: license must be a string of at most 127 characters without NUL');
  }
  const logLevel = options.logLevel ?? 0;
  if (logLevel !== 0 && logLevel !== 1 && logLevel !== 2) throw new EbpfError('EINVAL', `kernelProgLoad: logLevel must be 0, 1 or 2`);
  const logSize = options.logSize ?? DEFAULT_LOG_SIZE;
  checkU32('kernelProgLoad', 'logSize', logSize);
  if (logSize < 128 || logSize > MAX_LOG_SIZE) throw new EbpfError('EINVAL', `kernelProgLoad: logSize must be in 128..${MAX_LOG_SIZE}`);
  if (options.name !== undefined) checkName('kernelProgLoad', options.name);
  const attachType = options.expectedAttachType ?? 0;
  checkU32('kernelProgLoad', 'expectedAttachType', attachType);
  const flags = options.flags ?? 0;
  checkU32('kernelProgLoad', 'flags', flags);

  const attempt = (level: number): { fd: number; log: string } => {
    let log = '';
    let logBytes: Uint8Array | undefined;
    const readLog = (): string => {
      if (logBytes === undefined) return '';
      const end = logBytes.indexOf(0);
      return Buffer.from(logBytes.subarray(0, end < 0 ? logBytes.length : end)).toString('utf8');
    };
    const fd = bpfCall(
      'BPF_PROG_LOAD',
      BPF_CMD.PROG_LOAD,
      (attr, scratch) => {
        const text = scratch.copy(code);
        const lic = scratch.alloc(Buffer.byteLength(license) + 1);
        lic.bytes.set(Buffer.from(license, 'utf8'));
        attr.setUint32(PROG_LOAD.prog_type, typeNumber, true);
        attr.setUint32(PROG_LOAD.insn_cnt, insns.length, true);
        attr.setBigUint64(PROG_LOAD.insns, text.address, true);
        attr.setBigUint64(PROG_LOAD.license, lic.address, true);
        if (level > 0) {
          const buf = scratch.alloc(logSize);
          logBytes = buf.bytes;
          attr.setUint32(PROG_LOAD.log_level, level, true);
          attr.setUint32(PROG_LOAD.log_size, logSize, true);
          attr.setBigUint64(PROG_LOAD.log_buf, buf.address, true);
        }
        attr.setUint32(PROG_LOAD.prog_flags, flags, true);
        if (options.name !== undefined) writeName(attr, PROG_LOAD.prog_name, options.name, BPF_OBJ_NAME_LEN);
        attr.setUint32(PROG_LOAD.expected_attach_type, attachType, true);
      },
      {
        after: () => {
          log = readLog();
        },
        log: readLog,
        detail: (name) => (name === 'ENOSPC' && level > 0 ? 'the verifier log did not fit logSize' : 'the kernel refused the program'),
      },
    );
    return { fd, log };
  };

  try {
    const { fd, log } = attempt(logLevel);
    return new KernelProg(fd, options.progType, insns.length, log);
  } catch (error) {
    // Refused without a log: load once more with level 1 to get the verifier's reason.
    if (logLevel === 0 && error instanceof KernelError && error.errnoName !== 'EPERM') {
      try {
        const { fd } = attempt(1);
        // Accepted the second time (should not happen): keep the program anyway.
        return new KernelProg(fd, options.progType, insns.length, '');
      } catch (second) {
        if (second instanceof KernelError) throw second;
      }
    }
    throw error;
  }
}
