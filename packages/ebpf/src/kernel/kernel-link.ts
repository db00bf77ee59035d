import { EbpfError } from '../errors.js';
import { BPF_CMD, LINK_CREATE, LINK_INFO, OBJ_INFO } from './bpf-attr.js';
import { KernelFd } from './kernel-fd.js';
import { KernelProg } from './kernel-prog.js';
import { bpfCall } from './native.js';
import { checkU32 } from './validate.js';

/** `enum bpf_attach_type` values used with links: `BPF_XDP` attaches an XDP program to a netdev. */
export const BPF_ATTACH_TYPE = Object.freeze({ xdp: 37 } as const);

/**
 * `XDP_FLAGS_*` of `<linux/if_link.h>` (the `flags` of an XDP link): 0 lets the kernel
 * pick the driver's native mode, or generic (skb) mode for a netdev without XDP support;
 * `SKB_MODE` forces generic, `DRV_MODE` native (refused with EOPNOTSUPP where the driver has none).
 */
export const XDP_FLAGS = Object.freeze({
  UPDATE_IF_NOEXIST: 1 << 0,
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const);

/** Options of {@link kernelLinkCreate} (the fields of `BPF_LINK_CREATE`). */
export interface KernelLinkOptions {
  /** The netdev's ifindex (in the calling thread's network namespace), for XDP. */
  readonly targetIfindex: number;
  /** `attach_type` (default `BPF_XDP` = 37). */
  readonly attachType?: number;
  /** `flags` (default 0; for XDP see {@link XDP_FLAGS}). */
  readonly flags?: number;
}

/** What the kernel says about a link (`struct bpf_link_info`). */
export interface KernelLinkInfo {
  /** `enum bpf_link_type` (6 = `BPF_LINK_TYPE_XDP`). */
  readonly type: number;
  /** The link's id (system-wide). */
  readonly id: number;
  /** The id of the program it holds. */
  readonly progId: number;
  /** For an XDP link: the netdev's ifindex (0 once the netdev went away). */
  readonly ifindex: number;
}

/**
 * A BPF link (`BPF_LINK_CREATE`), owning its fd: the attachment lives as long as the
 * fd, so `close()` detaches the program (unless the link was pinned elsewhere).
 */
export class KernelLink extends KernelFd {
  /** @internal */
  constructor(
    fd: number,
    readonly targetIfindex: number,
    readonly attachType: number,
    readonly flags: number,
  ) {
    super(fd);
  }

  /**
   * The link's kernel view (`BPF_OBJ_GET_INFO_BY_FD`).
   * @throws EbpfError EINVAL after close(); KernelError if the kernel refuses.
   */
  info(): KernelLinkInfo {
    const fd = this.fd;
    let info: KernelLinkInfo | undefined;
    let read: (() => void) | undefined;
    bpfCall(
      'BPF_OBJ_GET_INFO_BY_FD',
      BPF_CMD.OBJ_GET_INFO_BY_FD,
      (attr, scratch) => {
        const buffer = scratch.alloc(LINK_INFO.size);
        attr.setUint32(OBJ_INFO.bpf_fd, fd, true);
        attr.setUint32(OBJ_INFO.info_len, LINK_INFO.size, true);
        attr.setBigUint64(OBJ_INFO.info, buffer.address, true);
        read = () => {
          const v = buffer.view;
          info = {
            type: v.getUint32(LINK_INFO.type, true),
            id: v.getUint32(LINK_INFO.id, true),
            progId: v.getUint32(LINK_INFO.prog_id, true),
            ifindex: v.getUint32(LINK_INFO.xdp_ifindex, true),
          };
        };
      },
      { after: (_attr, ret) => (ret >= 0 ? read?.() : undefined) },
    );
    if (info === undefined) throw new EbpfError('EINVAL', 'KernelLink.info: the kernel returned no information');
    return info;
  }
}

/**
 * Attach a loaded program through a BPF link (`BPF_LINK_CREATE`): for XDP, `prog` runs on
 * every packet `targetIfindex` receives until the link's fd is closed (the kernel's
 * `bpf_xdp_link_attach`, what libbpf's `bpf_program__attach_xdp` does). The ifindex is
 * looked up in the calling thread's network namespace.
 * @throws EbpfError EINVAL for bad options or a closed program, UNSUPPORTED without `bpf()`;
 *   KernelError if the kernel refuses (EBUSY: the netdev has a program attached in that
 *   mode already; EOPNOTSUPP: `DRV_MODE` on a driver without XDP; EINVAL: no such netdev,
 *   unknown flags, or a program whose `expected_attach_type` does not match).
 */
export function kernelLinkCreate(prog: KernelProg, options: KernelLinkOptions): KernelLink {
  if (!(prog instanceof KernelProg)) throw new EbpfError('EINVAL', 'kernelLinkCreate: prog must be a KernelProg');
  if (typeof options !== 'object' || options === null) throw new EbpfError('EINVAL', 'kernelLinkCreate: options must be an object');
  const attachType = options.attachType ?? BPF_ATTACH_TYPE.xdp;
  const flags = options.flags ?? 0;
  checkU32('kernelLinkCreate', 'targetIfindex', options.targetIfindex);
  if (options.targetIfindex === 0) throw new EbpfError('EINVAL', 'kernelLinkCreate: targetIfindex must be a netdev index (≥ 1)');
  checkU32('kernelLinkCreate', 'attachType', attachType);
  checkU32('kernelLinkCreate', 'flags', flags);
  const progFd = prog.fd;
  const fd = bpfCall('BPF_LINK_CREATE', BPF_CMD.LINK_CREATE, (attr) => {
    attr.setUint32(LINK_CREATE.prog_fd, progFd, true);
    attr.setUint32(LINK_CREATE.target_ifindex, options.targetIfindex, true);
    attr.setUint32(LINK_CREATE.attach_type, attachType, true);
    attr.setUint32(LINK_CREATE.flags, flags, true);
  });
  return new KernelLink(fd, options.targetIfindex, attachType, flags);
}
