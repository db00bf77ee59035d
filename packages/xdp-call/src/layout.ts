/**
 * Native memory layouts shared by JS and the JIT'd code. Every offset used by emitted
 * code comes from here.
 */

/**
 * `struct xdp_buff` as the programs see it (their `ctx`, in rdi), with the `xdp_md`
 * fields a program may read: `ingressIfindex` and `rxQueueIndex` are filled in from the
 * rxq info, as the kernel does when it rewrites `ctx->ingress_ifindex` into
 * `ctx->rxq->dev->ifindex`. The built-in programs read them through `rxq`, the rewritten
 * form.
 */
export const XDP_BUFF = Object.freeze({
  data: 0,
  dataEnd: 8,
  dataMeta: 16,
  dataHardStart: 24,
  rxq: 32,
  /** u32 */
  frameSize: 40,
  /** u32: `xdp_md.ingress_ifindex` */
  ingressIfindex: 44,
  /** u32: `xdp_md.rx_queue_index` */
  rxQueueIndex: 48,
  size: 64,
});

/** `struct xdp_rxq_info`: the receive queue a buffer came from. */
export const XDP_RXQ = Object.freeze({
  ifindex: 0,
  queueIndex: 4,
  size: 16,
});

/**
 * `struct bpf_prog` reduced to what xdp_call_run needs: the JIT'd function, its
 * instructions pointer and the stats (`cnt`, elapsed time-stamp-counter ticks).
 */
export const BPF_PROG = Object.freeze({
  bpfFunc: 0,
  insnsi: 8,
  statsCnt: 16,
  statsTicks: 24,
  id: 32,
  size: 64,
});
