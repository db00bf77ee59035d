// SPDX-License-Identifier: MIT OR GPL-2.0-only
/*
 * xdp_basic: the four fixed-verdict programs, as C for the bpf-dispatcher runtime and
 * the Linux kernel alike.
 *
 *   xdp_drop     return XDP_DROP
 *   xdp_pass     return XDP_PASS
 *   xdp_tx       frames shorter than an Ethernet header: XDP_ABORTED; otherwise swap
 *                the destination and source MAC addresses in place and return XDP_TX
 *   xdp_aborted  return XDP_ABORTED
 *   xdp_verdict  return the `verdict` set in .rodata before load (any value)
 *
 * No maps; one global: `const volatile __u32 verdict` in .rodata.
 */
#include "bpf-dispatcher.h"

#define ETH_ALEN 6
#define ETH_HLEN 14

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
  return XDP_DROP;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
  return XDP_PASS;
}

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
  __u8 *data = (__u8 *)(long)ctx->data;
  __u8 *data_end = (__u8 *)(long)ctx->data_end;
  __u8 tmp[ETH_ALEN];

  if (data + ETH_HLEN > data_end)
    return XDP_ABORTED;
  __builtin_memcpy(tmp, data, ETH_ALEN);
  __builtin_memcpy(data, data + ETH_ALEN, ETH_ALEN);
  __builtin_memcpy(data + ETH_ALEN, tmp, ETH_ALEN);
  return XDP_TX;
}

SEC("xdp")
int xdp_aborted(struct xdp_md *ctx)
{
  return XDP_ABORTED;
}

/* Set by the loader before load (the object's .rodata); XDP_PASS unless told otherwise. */
const volatile __u32 verdict = XDP_PASS;

SEC("xdp")
int xdp_verdict(struct xdp_md *ctx)
{
  return verdict;
}

char _license[] SEC("license") = "Dual MIT/GPL";
