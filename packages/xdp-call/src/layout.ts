/**
 * Native memory layouts shared by JS and the JIT'd code, each defined once with
 * `defineStruct`: the offsets the emitters use (`Struct.offsets`, and the `XDP_BUFF` /
 * `XDP_RXQ` / `BPF_PROG` tables derived from them) and checked little-endian accessors
 * over arena memory (`Struct.view(arena, region, offset)`) for JS.
 */
import { defineStruct } from '@bpf-dispatcher/text-poke';

/**
 * `struct xdp_buff` as the programs see it (their `ctx`, in rdi), with the `xdp_md`
 * fields a program may read: `ingressIfindex` and `rxQueueIndex` are filled in from the
 * rxq info, as the kernel does when it rewrites `ctx->ingress_ifindex` into
 * `ctx->rxq->dev->ifindex`. The built-in programs read them through `rxq`, the rewritten
 * form. 64 bytes.
 */
export const XdpBuffStruct = defineStruct(
  'xdp_buff',
  {
    data: 'ptr',
    dataEnd: 'ptr',
    dataMeta: 'ptr',
    dataHardStart: 'ptr',
    rxq: 'ptr',
    /** `frame_sz` */
    frameSize: 'u32',
    /** `xdp_md.ingress_ifindex` */
    ingressIfindex: 'u32',
    /** `xdp_md.rx_queue_index` */
    rxQueueIndex: 'u32',
  },
  { size: 64 },
);

/** `struct xdp_rxq_info`: the receive queue a buffer came from (`dev->ifindex`, `queue_index`). 16 bytes. */
export const XdpRxqInfoStruct = defineStruct('xdp_rxq_info', { ifindex: 'u32', queueIndex: 'u32' }, { size: 16 });

/**
 * `struct bpf_prog` reduced to what xdp_call_run needs: the JIT'd function, its
 * instructions pointer and the stats (`bpf_prog_stats`: `cnt`, elapsed time-stamp-counter
 * ticks), and a small id. 64 bytes.
 */
export const BpfProgStruct = defineStruct(
  'bpf_prog',
  {
    bpfFunc: 'ptr',
    insnsi: 'ptr',
    statsCnt: 'u64',
    statsTicks: 'u64',
    id: 'u32',
  },
  { size: 64 },
);

/** {@link XdpBuffStruct}'s offsets and size, for emitters (`qword('rdi', XDP_BUFF.data)`). */
export const XDP_BUFF = Object.freeze({ ...XdpBuffStruct.offsets, size: XdpBuffStruct.size });

/** {@link XdpRxqInfoStruct}'s offsets and size. */
export const XDP_RXQ = Object.freeze({ ...XdpRxqInfoStruct.offsets, size: XdpRxqInfoStruct.size });

/** {@link BpfProgStruct}'s offsets and size. */
export const BPF_PROG = Object.freeze({ ...BpfProgStruct.offsets, size: BpfProgStruct.size });
