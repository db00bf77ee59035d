/**
 * The XDP context programs run on: the runtime's `struct xdp_buff` (what `ctx` points to
 * at run time) and `struct xdp_rxq_info`, and how the `struct xdp_md` fields a program
 * reads map onto it — the rewrite the kernel's `xdp_convert_ctx_access` does at load time,
 * applied here by the JIT.
 */
import { defineStruct } from '@bpf-dispatcher/text-poke';

/**
 * `struct xdp_buff` as JIT'd programs see it (their `ctx`, in rdi), 64 bytes: the data
 * pointers, the receive queue, `frame_sz`, and the `xdp_md` scalars stored directly
 * (`ingressIfindex` = `rxq->dev->ifindex`, `rxQueueIndex` = `rxq->queue_index`,
 * `egressIfindex` for devmap programs, 0 here) so that each `xdp_md` load is one native
 * load. `cpu` is the index of the poller thread running the program (the kernel's
 * `smp_processor_id()`), which the program's prologue loads into r12 for per-CPU maps.
 */
export const XdpBuffStruct = defineStruct(
  'xdp_buff',
  {
    data: 'ptr',
    dataEnd: 'ptr',
    dataMeta: 'ptr',
    dataHardStart: 'ptr',
    rxq: 'ptr',
    /** `frame_sz`: bytes from `data_hard_start` to the end of the buffer, tailroom included. */
    frameSize: 'u32',
    /** `xdp_md.ingress_ifindex` */
    ingressIfindex: 'u32',
    /** `xdp_md.rx_queue_index` */
    rxQueueIndex: 'u32',
    /** The poller (CPU) index, 0..cpus-1. */
    cpu: 'u32',
    /** `xdp_md.egress_ifindex` */
    egressIfindex: 'u32',
  },
  { size: 64 },
);

/** `struct xdp_rxq_info`: the receive queue a buffer came from (`dev->ifindex`, `queue_index`). 16 bytes. */
export const XdpRxqInfoStruct = defineStruct('xdp_rxq_info', { ifindex: 'u32', queueIndex: 'u32' }, { size: 16 });

/** {@link XdpBuffStruct}'s offsets and size, for emitters (`qword('rdi', XDP_BUFF.data)`). */
export const XDP_BUFF = Object.freeze({ ...XdpBuffStruct.offsets, size: XdpBuffStruct.size });

/** {@link XdpRxqInfoStruct}'s offsets and size. */
export const XDP_RXQ = Object.freeze({ ...XdpRxqInfoStruct.offsets, size: XdpRxqInfoStruct.size });

/** Headroom in front of the packet (the kernel's `XDP_PACKET_HEADROOM`). */
export const XDP_PACKET_HEADROOM = 256;

/**
 * Bytes at the start of the headroom that `xdp_adjust_head`/`xdp_adjust_meta` never give
 * to the program: the kernel keeps them for `struct xdp_frame` (40 bytes on x86-64).
 */
export const XDP_FRAME_SIZE = 40;

/**
 * Bytes at the end of a buffer that `xdp_adjust_tail` never grows into: the kernel keeps
 * them for `struct skb_shared_info` (`SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`,
 * 320 bytes on x86-64).
 */
export const XDP_TAILROOM = 320;

/** The most metadata `xdp_adjust_meta` allows in front of the packet (bytes, a multiple of 4). */
export const XDP_METADATA_MAX = 32;

/**
 * How the JIT turns `struct xdp_md` loads into loads from {@link XdpBuffStruct}
 * (`jit(..., { context: XDP_CONTEXT })`): each field's offset and width in the buffer,
 * and where the CPU index is.
 */
export const XDP_CONTEXT = Object.freeze({
  fields: Object.freeze({
    data: Object.freeze({ offset: XDP_BUFF.data, size: 8 as const }),
    data_end: Object.freeze({ offset: XDP_BUFF.dataEnd, size: 8 as const }),
    data_meta: Object.freeze({ offset: XDP_BUFF.dataMeta, size: 8 as const }),
    ingress_ifindex: Object.freeze({ offset: XDP_BUFF.ingressIfindex, size: 4 as const }),
    rx_queue_index: Object.freeze({ offset: XDP_BUFF.rxQueueIndex, size: 4 as const }),
    egress_ifindex: Object.freeze({ offset: XDP_BUFF.egressIfindex, size: 4 as const }),
  }),
  cpuOffset: XDP_BUFF.cpu,
});
