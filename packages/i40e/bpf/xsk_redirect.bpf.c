// SPDX-License-Identifier: MIT OR GPL-2.0-only
/*
 * xsk_redirect: hand every packet to the AF_XDP socket bound to the queue it arrived on
 * (libxdp's default program, reduced to its core). The XSKMAP is indexed by rx queue;
 * user space stores each socket's fd at its queue's index. A queue with no socket in the
 * map passes the packet on to the stack (the flags argument of bpf_redirect_map is the
 * verdict when the lookup fails).
 *
 * Kernel only: the bpf-dispatcher runtime has no XSKMAP and no bpf_redirect_map; load
 * with loadObjectIntoKernel (i40e's attachXskRedirect does).
 */
#include "bpf-dispatcher.h"

/* Queues a socket can be registered for (rx_queue_index 0..63). */
#define XSK_MAX_QUEUES 64

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, XSK_MAX_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
  return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
