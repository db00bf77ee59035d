import { EbpfError } from '../errors.js';
import { BPF_CMD, PROG_TEST_RUN } from './bpf-attr.js';
import { KernelProg } from './kernel-prog.js';
import { bpfCall } from './native.js';
import { checkU32 } from './validate.js';

/** Options of {@link kernelTestRun} (the `test` member of `BPF_PROG_TEST_RUN`). */
export interface KernelTestRunOptions {
  /** The packet (XDP needs at least 14 bytes, an Ethernet header, and at most a page minus head/tailroom). */
  readonly data: Uint8Array;
  /** The context passed in (`ctx_in`, e.g. an `xdp_md`), if any; read back into `ctxOut`. */
  readonly ctx?: Uint8Array;
  /** Runs (`repeat`, default 1): the kernel runs the program that many times and averages the duration. */
  readonly repeat?: number;
  /** Size of the output packet buffer (default `data.length + 256`, room for a tail grown by the program). */
  readonly dataOutSize?: number;
}

/** What a test run returns. */
export interface KernelTestRunResult {
  /** The program's return value as the kernel reports it: 32 bits (unsigned) for XDP and most types. */
  readonly retval: number;
  /** The packet after the run (as long as the kernel says it is). */
  readonly dataOut: Uint8Array;
  /** The context after the run, when `ctx` was given. */
  readonly ctxOut?: Uint8Array;
  /** Mean nanoseconds per run, measured by the kernel. */
  readonly durationNs: number;
}

/**
 * Run a loaded program on bytes in the kernel (`BPF_PROG_TEST_RUN`). For XDP this goes
 * through `bpf_prog_run_xdp`, i.e. the kernel's own dispatcher when `repeat > 1`.
 * @throws EbpfError EINVAL for bad options or a closed program, UNSUPPORTED without `bpf()`;
 * KernelError if the kernel refuses (e.g. EINVAL for a packet shorter than 14 bytes,
 * ENOTSUPP for a type without test-run, ENOSPC if the output did not fit).
 */
export function kernelTestRun(prog: KernelProg, options: KernelTestRunOptions): KernelTestRunResult {
  if (!(prog instanceof KernelProg)) throw new EbpfError('EINVAL', 'kernelTestRun: prog must be a KernelProg');
  if (typeof options !== 'object' || options === null || !(options.data instanceof Uint8Array)) {
    throw new EbpfError('EINVAL', 'kernelTestRun: options.data must be a Uint8Array');
  }
  const { data, ctx } = options;
  if (ctx !== undefined && !(ctx instanceof Uint8Array)) throw new EbpfError('EINVAL', 'kernelTestRun: options.ctx must be a Uint8Array');
  const repeat = options.repeat ?? 1;
  checkU32('kernelTestRun', 'repeat', repeat);
  const dataOutSize = options.dataOutSize ?? data.length + 256;
  checkU32('kernelTestRun', 'dataOutSize', dataOutSize);
  const fd = prog.fd;
  let result: KernelTestRunResult | undefined;
  let pending: ((view: DataView) => void) | undefined;
  bpfCall(
    'BPF_PROG_TEST_RUN',
    BPF_CMD.PROG_TEST_RUN,
    (attr, scratch) => {
      const dataIn = scratch.copy(data);
      const dataOut = scratch.alloc(dataOutSize);
      attr.setUint32(PROG_TEST_RUN.prog_fd, fd, true);
      attr.setUint32(PROG_TEST_RUN.data_size_in, data.length, true);
      attr.setUint32(PROG_TEST_RUN.data_size_out, dataOutSize, true);
      attr.setBigUint64(PROG_TEST_RUN.data_in, dataIn.address, true);
      attr.setBigUint64(PROG_TEST_RUN.data_out, dataOut.address, true);
      attr.setUint32(PROG_TEST_RUN.repeat, repeat, true);
      let ctxOut: Uint8Array | undefined;
      if (ctx !== undefined) {
        const ctxIn = scratch.copy(ctx);
        const out = scratch.alloc(ctx.length);
        ctxOut = out.bytes;
        attr.setUint32(PROG_TEST_RUN.ctx_size_in, ctx.length, true);
        attr.setUint32(PROG_TEST_RUN.ctx_size_out, ctx.length, true);
        attr.setBigUint64(PROG_TEST_RUN.ctx_in, ctxIn.address, true);
        attr.setBigUint64(PROG_TEST_RUN.ctx_out, out.address, true);
      }
      const out = dataOut.bytes;
      const outCtx = ctxOut;
      // Read back by `after`, before the scratch memory is released.
      pending = (view) => {
        const outLen = Math.min(view.getUint32(PROG_TEST_RUN.data_size_out, true), out.length);
        const ctxLen = outCtx === undefined ? 0 : Math.min(view.getUint32(PROG_TEST_RUN.ctx_size_out, true), outCtx.length);
        result = {
          retval: view.getUint32(PROG_TEST_RUN.retval, true),
          dataOut: out.slice(0, outLen),
          ...(outCtx !== undefined ? { ctxOut: outCtx.slice(0, ctxLen) } : {}),
          durationNs: view.getUint32(PROG_TEST_RUN.duration, true),
        };
      };
    },
    {
      after: (view, ret) => {
        if (ret >= 0) pending?.(view);
      },
    },
  );
  if (result === undefined) throw new EbpfError('KERNEL', 'kernelTestRun: the kernel returned no result');
  return result;
}
