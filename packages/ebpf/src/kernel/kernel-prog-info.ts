import { EbpfError } from '../errors.js';
import { type Insn, decodeProgram } from '../insn.js';
import { BPF_CMD, OBJ_INFO, PROG_INFO } from './bpf-attr.js';
import { KernelProg } from './kernel-prog.js';
import { bpfCall } from './native.js';

/** What the kernel says about a loaded program (`struct bpf_prog_info`). */
export interface KernelProgInfo {
  /** The program's id (system-wide). */
  readonly id: number;
  /** The program's tag (a hash of its instructions), 16 hex digits. */
  readonly tag: string;
  /** The x86-64 machine code the kernel's JIT produced: every function's image, main first. */
  readonly jitedBytes: Uint8Array;
  /** Byte length of each function's image in `jitedBytes` (one entry per BPF-to-BPF subprogram, main first). */
  readonly jitedFuncLens: readonly number[];
  /** Kernel address of each function's image (`jited_ksyms`, main first; zeros without the privilege to see them). */
  readonly jitedAddresses: readonly bigint[];
  /** The instructions after the verifier's rewrites ("xlated"), as they were handed to the JIT. */
  readonly xlatedInsns: readonly Insn[];
  /** Instructions the verifier processed (its `verified_insns` count). */
  readonly verifiedInsns: number;
}

/**
 * Read a loaded program's JIT'd image and translated instructions
 * (`BPF_OBJ_GET_INFO_BY_FD` with `jited_prog_insns`/`xlated_prog_insns`; root only:
 * without the privilege to see kernel addresses the kernel reports zero lengths).
 * @throws EbpfError EINVAL for a closed or foreign program, UNSUPPORTED without `bpf()`;
 * KernelError if the kernel refuses.
 */
export function kernelProgInfo(prog: KernelProg): KernelProgInfo {
  if (!(prog instanceof KernelProg)) throw new EbpfError('EINVAL', 'kernelProgInfo: prog must be a KernelProg');
  const fd = prog.fd;
  // First call: the sizes.
  let jitedLen = 0;
  let xlatedLen = 0;
  let funcs = 0;
  let ksyms = 0;
  getInfo(fd, (info) => {
    jitedLen = info.getUint32(PROG_INFO.jited_prog_len, true);
    xlatedLen = info.getUint32(PROG_INFO.xlated_prog_len, true);
    funcs = info.getUint32(PROG_INFO.nr_jited_func_lens, true);
    ksyms = info.getUint32(PROG_INFO.nr_jited_ksyms, true);
  });
  // Second call: the contents, into buffers of those sizes.
  let result: KernelProgInfo | undefined;
  let buffers: { jited: Uint8Array; xlated: Uint8Array; funcLens: DataView; ksyms: DataView } = {
    jited: new Uint8Array(0),
    xlated: new Uint8Array(0),
    funcLens: new DataView(new ArrayBuffer(0)),
    ksyms: new DataView(new ArrayBuffer(0)),
  };
  getInfo(
    fd,
    (info) => {
      const id = info.getUint32(PROG_INFO.id, true);
      let tag = '';
      for (let i = 0; i < 8; i++)
        tag += info
          .getUint8(PROG_INFO.tag + i)
          .toString(16)
          .padStart(2, '0');
      const gotJited = Math.min(info.getUint32(PROG_INFO.jited_prog_len, true), jitedLen);
      const gotXlated = Math.min(info.getUint32(PROG_INFO.xlated_prog_len, true), xlatedLen);
      const gotFuncs = Math.min(info.getUint32(PROG_INFO.nr_jited_func_lens, true), funcs);
      const jited = buffers.jited.slice(0, gotJited);
      const xlated = buffers.xlated.slice(0, gotXlated - (gotXlated % 8));
      const lens: number[] = [];
      for (let i = 0; i < gotFuncs; i++) lens.push(buffers.funcLens.getUint32(i * 4, true));
      const gotKsyms = Math.min(info.getUint32(PROG_INFO.nr_jited_ksyms, true), ksyms);
      const addresses: bigint[] = [];
      for (let i = 0; i < gotKsyms; i++) addresses.push(buffers.ksyms.getBigUint64(i * 8, true));
      result = {
        id,
        tag,
        jitedBytes: jited,
        jitedFuncLens: lens.length > 0 ? lens : [jited.length],
        jitedAddresses: addresses,
        xlatedInsns: decodeProgram(xlated),
        verifiedInsns: info.getUint32(PROG_INFO.verified_insns, true),
      };
    },
    (info, alloc) => {
      const jited = alloc(jitedLen);
      const xlated = alloc(xlatedLen);
      const lens = alloc(funcs * 4);
      const addrs = alloc(ksyms * 8);
      buffers = { jited: jited.bytes, xlated: xlated.bytes, funcLens: lens.view, ksyms: addrs.view };
      info.setUint32(PROG_INFO.jited_prog_len, jitedLen, true);
      info.setBigUint64(PROG_INFO.jited_prog_insns, jitedLen > 0 ? jited.address : 0n, true);
      info.setUint32(PROG_INFO.xlated_prog_len, xlatedLen, true);
      info.setBigUint64(PROG_INFO.xlated_prog_insns, xlatedLen > 0 ? xlated.address : 0n, true);
      info.setUint32(PROG_INFO.nr_jited_func_lens, funcs, true);
      info.setBigUint64(PROG_INFO.jited_func_lens, funcs > 0 ? lens.address : 0n, true);
      info.setUint32(PROG_INFO.nr_jited_ksyms, ksyms, true);
      info.setBigUint64(PROG_INFO.jited_ksyms, ksyms > 0 ? addrs.address : 0n, true);
    },
  );
  if (result === undefined) throw new EbpfError('KERNEL', 'kernelProgInfo: the kernel returned no information');
  return result;
}

function getInfo(
  fd: number,
  read: (info: DataView) => void,
  fill?: (info: DataView, alloc: (size: number) => { address: bigint; bytes: Uint8Array; view: DataView }) => void,
): void {
  let info: DataView | undefined;
  bpfCall(
    'BPF_OBJ_GET_INFO_BY_FD',
    BPF_CMD.OBJ_GET_INFO_BY_FD,
    (attr, scratch) => {
      const buf = scratch.alloc(PROG_INFO.size);
      info = buf.view;
      fill?.(buf.view, (size) => scratch.alloc(size));
      attr.setUint32(OBJ_INFO.bpf_fd, fd, true);
      attr.setUint32(OBJ_INFO.info_len, PROG_INFO.size, true);
      attr.setBigUint64(OBJ_INFO.info, buf.address, true);
    },
    {
      after: (_attr, ret) => {
        if (ret >= 0 && info !== undefined) read(info);
      },
    },
  );
}
