// SPDX-License-Identifier: MIT OR GPL-2.0-only
/*
 * xdp_udp_filter: drop IPv4/UDP packets to one destination port, pass everything else.
 *
 * Global data:
 *   .rodata  const volatile __u16 filter_port = 9   the port, in host byte order; the
 *                                                    loader sets it before loading
 *   .bss     __u64 dropped                           packets dropped
 *            __u64 passed                            packets passed
 *
 * Per packet (every header read is bounds-checked against data_end first; a frame too
 * short for a header is passed):
 *   Ethertype != 0x0800                     -> passed++, XDP_PASS
 *   IPv4 version != 4 or IHL < 5            -> passed++, XDP_PASS
 *   protocol != 17 (UDP)                    -> passed++, XDP_PASS
 *   UDP header at 14 + IHL * 4, dest port == filter_port -> dropped++, XDP_DROP
 *   otherwise                               -> passed++, XDP_PASS
 * VLAN-tagged frames are not looked into (their Ethertype is 0x8100). IP fragments are
 * not special-cased: the bytes after the IPv4 header are read as a UDP header.
 */
#include "bpf-dispatcher.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IPPROTO_UDP 17

struct ethhdr {
  __u8 h_dest[6];
  __u8 h_source[6];
  __be16 h_proto;
};

struct iphdr {
  __u8 ihl_version; /* low nibble: IHL in 32-bit words; high nibble: version */
  __u8 tos;
  __be16 tot_len;
  __be16 id;
  __be16 frag_off;
  __u8 ttl;
  __u8 protocol;
  __u16 check;
  __be32 saddr;
  __be32 daddr;
};

struct udphdr {
  __be16 source;
  __be16 dest;
  __be16 len;
  __u16 check;
};

const volatile __u16 filter_port = 9;

__u64 dropped = 0;
__u64 passed = 0;

SEC("xdp")
int xdp_udp_filter(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip;
  struct udphdr *udp;
  __u32 ihl;

  if ((void *)(eth + 1) > data_end)
    goto pass;
  if (eth->h_proto != bpf_htons(ETH_P_IP))
    goto pass;
  ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end)
    goto pass;
  ihl = ip->ihl_version & 0x0f;
  if ((ip->ihl_version >> 4) != 4 || ihl < 5)
    goto pass;
  if (ip->protocol != IPPROTO_UDP)
    goto pass;
  udp = (void *)ip + ihl * 4;
  if ((void *)(udp + 1) > data_end)
    goto pass;
  if (udp->dest == bpf_htons(filter_port)) {
    dropped++;
    return XDP_DROP;
  }
pass:
  passed++;
  return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
