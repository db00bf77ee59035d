// SPDX-License-Identifier: MIT OR GPL-2.0-only
/*
 * xdp_rxq_info: counts packets globally and per receive queue and returns the configured
 * verdict; the program the reference benchmark ran (`xdp_rxq_info --action XDP_DROP`),
 * written from its documented behaviour.
 *
 * Maps:
 *   config_map          ARRAY, 1 entry, key __u32 0, value struct config (12 bytes):
 *                       { __u32 action; int ifindex; __u32 options; }
 *   stats_global_map    PERCPU_ARRAY, 1 entry, key __u32 0, value struct datarec
 *                       { __u64 processed; __u64 issue; } (16 bytes per CPU)
 *   rx_queue_index_map  PERCPU_ARRAY, MAX_RXQS + 1 = 65 entries of struct datarec;
 *                       entry 64 counts every queue index >= 64 (and its issue too)
 *
 * Per packet:
 *   global.processed++
 *   ingress_ifindex != config.ifindex      -> global.issue++, XDP_ABORTED
 *   key = min(rx_queue_index, 64); queue[key].processed++; key == 64 -> queue[key].issue++
 *   options & (READ_MEM | SWAP_MAC):
 *     frame shorter than 14 bytes          -> XDP_ABORTED
 *     Ethertype < 0x0600 (802.3 length)    -> XDP_ABORTED
 *     action == XDP_TX or options & SWAP_MAC -> swap destination and source MAC
 *   return config.action
 * A failed map lookup returns XDP_ABORTED.
 */
#include "bpf-dispatcher.h"

#define MAX_RXQS 64
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_802_3_MIN 0x0600

enum {
  READ_MEM = 0x1,
  SWAP_MAC = 0x2,
};

struct config {
  __u32 action;
  int ifindex;
  __u32 options;
};

struct datarec {
  __u64 processed;
  __u64 issue;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct config);
  __uint(max_entries, 1);
} config_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, struct datarec);
  __uint(max_entries, 1);
} stats_global_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, struct datarec);
  __uint(max_entries, MAX_RXQS + 1);
} rx_queue_index_map SEC(".maps");

static __always_inline void swap_mac(__u8 *eth)
{
  __u8 tmp[ETH_ALEN];

  __builtin_memcpy(tmp, eth, ETH_ALEN);
  __builtin_memcpy(eth, eth + ETH_ALEN, ETH_ALEN);
  __builtin_memcpy(eth + ETH_ALEN, tmp, ETH_ALEN);
}

SEC("xdp")
int xdp_rxq_info(struct xdp_md *ctx)
{
  __u8 *data = (__u8 *)(long)ctx->data;
  __u8 *data_end = (__u8 *)(long)ctx->data_end;
  struct datarec *global, *queue;
  struct config *config;
  __u32 key = 0;
  int ifindex;

  global = bpf_map_lookup_elem(&stats_global_map, &key);
  if (!global)
    return XDP_ABORTED;
  global->processed++;

  ifindex = ctx->ingress_ifindex;
  config = bpf_map_lookup_elem(&config_map, &key);
  if (!config)
    return XDP_ABORTED;
  if (ifindex != config->ifindex) {
    global->issue++;
    return XDP_ABORTED;
  }

  key = ctx->rx_queue_index;
  if (key > MAX_RXQS)
    key = MAX_RXQS;
  queue = bpf_map_lookup_elem(&rx_queue_index_map, &key);
  if (!queue)
    return XDP_ABORTED;
  queue->processed++;
  if (key == MAX_RXQS)
    queue->issue++;

  if (config->options & (READ_MEM | SWAP_MAC)) {
    if (data + ETH_HLEN > data_end)
      return XDP_ABORTED;
    /* bytes 12..13: the Ethertype, or the length of an 802.3 frame */
    if (((data[12] << 8) | data[13]) < ETH_P_802_3_MIN)
      return XDP_ABORTED;
    if (config->action == XDP_TX || (config->options & SWAP_MAC))
      swap_mac(data);
  }
  return config->action;
}

char _license[] SEC("license") = "Dual MIT/GPL";
