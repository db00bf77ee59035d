// SPDX-License-Identifier: MIT OR GPL-2.0-only
/*
 * xdp_helpers: one XDP program that calls every helper of bpf-dispatcher.h and uses every
 * map type (HASH, PERCPU_HASH, ARRAY, PERCPU_ARRAY) and every kind of global data (.data,
 * .bss, .rodata), for differential tests between two runtimes. Given the same packets in
 * the same order, everything it leaves behind is deterministic: the verdict, the output
 * bytes (metadata included), the HASH and ARRAY contents, the .data/.bss variables, and
 * the per-CPU maps summed over CPUs. Helper return codes are recorded in `rc_log`, so a
 * runtime whose helpers fail differently from the kernel's shows it there.
 *
 * Per packet, in order (`len` is the frame length on entry, `proto` the Ethertype at
 * bytes 12..13 in host order, `mac0` the first byte of the source MAC (byte 6), `mac5`
 * its last byte (byte 11)):
 *   1. t1 = bpf_ktime_get_ns(); seq++ (.data); packets++ (.bss);
 *      percpu_stats[STAT_PACKETS] += 1, [STAT_BYTES_IN] += len
 *   2. len < 14: short_frames++, verdicts[XDP_ABORTED]++, return XDP_ABORTED (nothing else)
 *   3. mac_counts[mac0] (HASH): { packets += 1, bytes += len }; a missing key is inserted
 *      with BPF_NOEXIST                                                  (OP_MAC_INSERT)
 *   4. proto_counts[class(proto)] (PERCPU_HASH) += 1; a missing key is inserted with
 *      BPF_NOEXIST (value 1 on this CPU)                                 (OP_PROTO_INSERT)
 *   5. scratch (HASH, key len & 3): update(len, BPF_EXIST)              (OP_HASH_UPDATE_EXIST)
 *      then update(seq, BPF_NOEXIST)                                    (OP_HASH_UPDATE_NOEXIST)
 *      then update(flags BPF_NOEXIST | BPF_EXIST) = -EINVAL             (OP_HASH_UPDATE_BADFLAGS)
 *      lookup must give len if the key existed, seq if not (probe_ok / probe_bad);
 *      if mac5 is odd: delete = 0 (OP_HASH_DELETE), delete again = -ENOENT
 *      (OP_HASH_DELETE_AGAIN), lookup must miss (probe_ok / probe_bad)
 *   6. ARRAY semantics on rc_log: delete = -EINVAL (OP_ARRAY_DELETE), update(BPF_NOEXIST)
 *      = -EEXIST (OP_ARRAY_UPDATE_NOEXIST), update of key OP_COUNT = -E2BIG
 *      (OP_ARRAY_UPDATE_RANGE), lookup of key OP_COUNT must miss (probe_ok / probe_bad)
 *   7. r = bpf_get_prandom_u32(): (r | 1) != 0 -> percpu_stats[STAT_PRANDOM_OK]++;
 *      cpu = bpf_get_smp_processor_id(): cpu < 4096 -> percpu_stats[STAT_CPU_OK]++
 *   8. bpf_xdp_adjust_meta(-8)                                           (OP_META_RESERVE)
 *      on success write { meta_magic, len } (two little-endian __u32) and read them back
 *      (meta_ok / meta_bad); bpf_xdp_adjust_meta(-6) = -EACCES           (OP_META_INVALID)
 *   9. bpf_xdp_adjust_head(-1024) = -EINVAL                              (OP_HEAD_INVALID)
 *      bpf_xdp_adjust_tail(+4096) = -EINVAL                              (OP_TAIL_INVALID)
 *  10. by Ethertype:
 *      0x0800 IPv4: push an 802.1Q tag: bpf_xdp_adjust_head(-4)          (OP_HEAD_PUSH)
 *                   then MACs moved to the front, bytes 12..15 = 81 00 TCI (big-endian,
 *                   TCI = vlan_tci_base | (seq & 0x0fff)), the old Ethertype at 16..17.
 *                   Verdict: XDP_TX if the IPv4 protocol byte (offset 23 on entry,
 *                   frames >= 34 bytes) is 17 (UDP), else XDP_PASS; XDP_ABORTED if the
 *                   push failed.
 *      0x8100 VLAN: pop the tag: bpf_xdp_adjust_head(+4) (-EINVAL for frames < 18 bytes)
 *                   (OP_HEAD_POP); on success the saved MACs are written to the new front
 *                   (the inner Ethertype becomes the Ethertype) and the verdict is
 *                   XDP_PASS; on failure XDP_DROP.
 *      0x86DD IPv6: grow by tail_grow bytes: bpf_xdp_adjust_tail(+tail_grow) (OP_TAIL_GROW);
 *                   the first min(tail_grow, 8) new bytes must read as zero (tail_zero_ok /
 *                   tail_zero_bad), then the last 8 bytes of the frame are overwritten with
 *                   seq (little-endian __u64). Verdict XDP_PASS (XDP_ABORTED if the grow failed).
 *      < 0x0600 (802.3 length): bpf_xdp_adjust_tail(-len) = -EINVAL (OP_TAIL_TOO_SMALL);
 *                   delete mac_counts[mac0 ^ 1] (OP_MAC_DELETE: 0 or -ENOENT).
 *                   Verdict XDP_DROP.
 *      other:       shrink by tail_shrink bytes: bpf_xdp_adjust_tail(-tail_shrink)
 *                   (-EINVAL when fewer than 14 bytes would remain) (OP_TAIL_SHRINK).
 *                   Verdict XDP_DROP if mac0 is odd, else XDP_PASS.
 *  11. metadata: if it was reserved and mac0 is even, release it:
 *      bpf_xdp_adjust_meta(+8) (OP_META_RELEASE). If mac0 is odd the 8 metadata bytes stay
 *      in front of the packet (the kernel's BPF_PROG_TEST_RUN returns data_meta..data_end
 *      as data_out, so they appear there; bpf_xdp_adjust_head moves them with the data).
 *  12. last_packet[0] (ARRAY) = { seq, len, len_out, verdict, proto } written with
 *      bpf_map_update_elem(BPF_EXIST) = 0 (OP_ARRAY_UPDATE_EXIST);
 *      percpu_stats[STAT_BYTES_OUT] += len_out (data_end - data, metadata excluded);
 *      t2 = bpf_ktime_get_ns(): t1 != 0 && t2 >= t1 -> percpu_stats[STAT_KTIME_OK]++;
 *      verdicts[verdict]++ (.bss); return verdict.
 *
 * Ethertype classes (proto_counts keys): 0 IPv4, 1 IPv6, 2 ARP (0x0806), 3 802.1Q
 * (0x8100), 4 802.3 length (< 0x0600), 5 any other.
 *
 * Every rc_log entry counts the calls of one operation and how their return codes fell:
 * 0, -ENOENT (-2), -E2BIG (-7), -EACCES (-13), -EEXIST (-17), -EINVAL (-22), or other; and
 * keeps the last return code.
 */
#include "bpf-dispatcher.h"

#define ETH_ALEN 6
#define ETH_HLEN 14
#define VLAN_HLEN 4
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_IPV6 0x86DD
#define ETH_P_802_3_MIN 0x0600
#define IPPROTO_UDP 17

#define ENOENT 2
#define E2BIG 7
#define EACCES 13
#define EEXIST 17
#define EINVAL 22

/* Operations whose return codes rc_log records (its keys). */
enum op {
  OP_MAC_INSERT = 0,
  OP_PROTO_INSERT = 1,
  OP_HASH_UPDATE_EXIST = 2,
  OP_HASH_UPDATE_NOEXIST = 3,
  OP_HASH_UPDATE_BADFLAGS = 4,
  OP_HASH_DELETE = 5,
  OP_HASH_DELETE_AGAIN = 6,
  OP_ARRAY_DELETE = 7,
  OP_ARRAY_UPDATE_NOEXIST = 8,
  OP_ARRAY_UPDATE_RANGE = 9,
  OP_META_RESERVE = 10,
  OP_META_INVALID = 11,
  OP_HEAD_INVALID = 12,
  OP_TAIL_INVALID = 13,
  OP_HEAD_PUSH = 14,
  OP_HEAD_POP = 15,
  OP_TAIL_GROW = 16,
  OP_TAIL_TOO_SMALL = 17,
  OP_MAC_DELETE = 18,
  OP_TAIL_SHRINK = 19,
  OP_META_RELEASE = 20,
  OP_ARRAY_UPDATE_EXIST = 21,
  OP_COUNT = 22,
};

/* percpu_stats keys. */
enum stat {
  STAT_PACKETS = 0,
  STAT_BYTES_IN = 1,
  STAT_BYTES_OUT = 2,
  STAT_KTIME_OK = 3,
  STAT_PRANDOM_OK = 4,
  STAT_CPU_OK = 5,
  STAT_COUNT = 6,
};

/* rc_log value: 40 bytes. */
struct rc_stat {
  __u32 calls;
  __u32 ok;
  __u32 enoent;
  __u32 e2big;
  __u32 eacces;
  __u32 eexist;
  __u32 einval;
  __u32 other;
  __s64 last;
};

/* mac_counts value: 16 bytes. */
struct mac_count {
  __u64 packets;
  __u64 bytes;
};

/* last_packet value: 24 bytes. */
struct last_packet {
  __u64 seq;
  __u32 len_in;
  __u32 len_out;
  __u32 verdict;
  __u16 proto;
  __u16 pad;
};

/* Packets per first byte of the source MAC: key __u32 mac0 (0..255). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, struct mac_count);
  __uint(max_entries, 256);
} mac_counts SEC(".maps");

/* Flag-semantics probe: key __u32 len & 3, value __u64. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} scratch SEC(".maps");

/* Packets per Ethertype class (0..5), per CPU: key __u32, value __u64. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 8);
} proto_counts SEC(".maps");

/* Return codes per operation (enum op). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct rc_stat);
  __uint(max_entries, OP_COUNT);
} rc_log SEC(".maps");

/* The last packet seen. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct last_packet);
  __uint(max_entries, 1);
} last_packet SEC(".maps");

/* Counters per CPU (enum stat): value __u64. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, STAT_COUNT);
} percpu_stats SEC(".maps");

/* .rodata: the loader may change these before loading. */
const volatile __u32 meta_magic = 0x4154454d; /* "META" in memory */
const volatile __u32 tail_grow = 8;
const volatile __u32 tail_shrink = 4;

/* .data */
__u64 seq = 1000;
__u16 vlan_tci_base = 0xa000; /* PCP 5 */

/* .bss */
__u64 packets;
__u64 short_frames;
__u64 meta_ok;
__u64 meta_bad;
__u64 probe_ok;
__u64 probe_bad;
__u64 tail_zero_ok;
__u64 tail_zero_bad;
__u64 verdicts[5];

static __always_inline void record(__u32 op, long rc)
{
  struct rc_stat *s = bpf_map_lookup_elem(&rc_log, &op);

  if (!s)
    return;
  s->calls++;
  s->last = rc;
  if (rc == 0)
    s->ok++;
  else if (rc == -ENOENT)
    s->enoent++;
  else if (rc == -E2BIG)
    s->e2big++;
  else if (rc == -EACCES)
    s->eacces++;
  else if (rc == -EEXIST)
    s->eexist++;
  else if (rc == -EINVAL)
    s->einval++;
  else
    s->other++;
}

static __always_inline void stat_add(__u32 key, __u64 n)
{
  __u64 *v = bpf_map_lookup_elem(&percpu_stats, &key);

  if (v)
    *v += n;
}

static __always_inline void check(int ok)
{
  if (ok)
    probe_ok++;
  else
    probe_bad++;
}

static __always_inline __u32 proto_class(__u16 proto)
{
  if (proto == ETH_P_IP)
    return 0;
  if (proto == ETH_P_IPV6)
    return 1;
  if (proto == ETH_P_ARP)
    return 2;
  if (proto == ETH_P_8021Q)
    return 3;
  if (proto < ETH_P_802_3_MIN)
    return 4;
  return 5;
}

/* Keep the compiler from folding a test on a helper's result. */
#define opaque(x) asm volatile("" : "+r"(x))

static __always_inline int finish(struct xdp_md *ctx, __u64 t1, __u32 len, __u16 proto, int verdict)
{
  struct last_packet last = {};
  __u32 key = 0;
  __u64 t2;

  last.seq = seq;
  last.len_in = len;
  last.len_out = ctx->data_end - ctx->data;
  last.verdict = verdict;
  last.proto = proto;
  record(OP_ARRAY_UPDATE_EXIST, bpf_map_update_elem(&last_packet, &key, &last, BPF_EXIST));
  stat_add(STAT_BYTES_OUT, last.len_out);
  t2 = bpf_ktime_get_ns();
  if (t1 != 0 && t2 >= t1)
    stat_add(STAT_KTIME_OK, 1);
  if (verdict >= 0 && verdict < 5)
    verdicts[verdict]++;
  return verdict;
}

SEC("xdp")
int xdp_helpers(struct xdp_md *ctx)
{
  __u8 *data = (__u8 *)(long)ctx->data;
  __u8 *data_end = (__u8 *)(long)ctx->data_end;
  __u8 macs[2 * ETH_ALEN];
  struct rc_stat blank = {};
  struct mac_count *mc;
  __u64 t1, value, *vp;
  __u32 len, key, rnd, cpu;
  __u8 mac0, mac5, ip_proto = 0;
  __u16 proto;
  int verdict, meta_reserved;
  long rc, rc_exist;

  t1 = bpf_ktime_get_ns();
  seq++;
  packets++;
  len = data_end - data;
  stat_add(STAT_PACKETS, 1);
  stat_add(STAT_BYTES_IN, len);

  if (data + ETH_HLEN > data_end) {
    short_frames++;
    verdicts[XDP_ABORTED]++;
    return XDP_ABORTED;
  }
  mac0 = data[6];
  mac5 = data[11];
  proto = (data[12] << 8) | data[13];
  if (data + ETH_HLEN + 20 <= data_end)
    ip_proto = data[ETH_HLEN + 9];
  __builtin_memcpy(macs, data, sizeof(macs));

  /* 3. HASH: packets and bytes per first byte of the source MAC */
  key = mac0;
  mc = bpf_map_lookup_elem(&mac_counts, &key);
  if (mc) {
    mc->packets++;
    mc->bytes += len;
  } else {
    struct mac_count init = { .packets = 1, .bytes = len };

    record(OP_MAC_INSERT, bpf_map_update_elem(&mac_counts, &key, &init, BPF_NOEXIST));
  }

  /* 4. PERCPU_HASH: packets per Ethertype class */
  key = proto_class(proto);
  vp = bpf_map_lookup_elem(&proto_counts, &key);
  if (vp) {
    (*vp)++;
  } else {
    value = 1;
    record(OP_PROTO_INSERT, bpf_map_update_elem(&proto_counts, &key, &value, BPF_NOEXIST));
  }

  /* 5. HASH update flags and delete */
  key = len & 3;
  value = len;
  rc_exist = bpf_map_update_elem(&scratch, &key, &value, BPF_EXIST);
  record(OP_HASH_UPDATE_EXIST, rc_exist);
  value = seq;
  record(OP_HASH_UPDATE_NOEXIST, bpf_map_update_elem(&scratch, &key, &value, BPF_NOEXIST));
  value = 0;
  record(OP_HASH_UPDATE_BADFLAGS, bpf_map_update_elem(&scratch, &key, &value, BPF_NOEXIST | BPF_EXIST));
  vp = bpf_map_lookup_elem(&scratch, &key);
  check(vp && *vp == (rc_exist == 0 ? (__u64)len : seq));
  if (mac5 & 1) {
    record(OP_HASH_DELETE, bpf_map_delete_elem(&scratch, &key));
    record(OP_HASH_DELETE_AGAIN, bpf_map_delete_elem(&scratch, &key));
    check(bpf_map_lookup_elem(&scratch, &key) == 0);
  }

  /* 6. ARRAY semantics */
  key = 0;
  record(OP_ARRAY_DELETE, bpf_map_delete_elem(&rc_log, &key));
  record(OP_ARRAY_UPDATE_NOEXIST, bpf_map_update_elem(&rc_log, &key, &blank, BPF_NOEXIST));
  key = OP_COUNT;
  record(OP_ARRAY_UPDATE_RANGE, bpf_map_update_elem(&rc_log, &key, &blank, BPF_ANY));
  check(bpf_map_lookup_elem(&rc_log, &key) == 0);

  /* 7. helpers whose values must not matter */
  rnd = bpf_get_prandom_u32();
  opaque(rnd);
  if ((rnd | 1) != 0)
    stat_add(STAT_PRANDOM_OK, 1);
  cpu = bpf_get_smp_processor_id();
  opaque(cpu);
  if (cpu < 4096)
    stat_add(STAT_CPU_OK, 1);

  /* 8. metadata */
  rc = bpf_xdp_adjust_meta(ctx, -8);
  record(OP_META_RESERVE, rc);
  meta_reserved = rc == 0;
  if (meta_reserved) {
    __u32 *meta = (__u32 *)(long)ctx->data_meta;
    volatile __u32 *readback = meta;

    if ((void *)(meta + 2) > (void *)(long)ctx->data) {
      meta_bad++;
    } else {
      meta[0] = meta_magic;
      meta[1] = len;
      if (readback[0] == meta_magic && readback[1] == len)
        meta_ok++;
      else
        meta_bad++;
    }
  }
  record(OP_META_INVALID, bpf_xdp_adjust_meta(ctx, -6));

  /* 9. out-of-range adjustments are refused */
  record(OP_HEAD_INVALID, bpf_xdp_adjust_head(ctx, -1024));
  record(OP_TAIL_INVALID, bpf_xdp_adjust_tail(ctx, 4096));

  /* 10. by Ethertype */
  if (proto == ETH_P_IP) {
    rc = bpf_xdp_adjust_head(ctx, -VLAN_HLEN);
    record(OP_HEAD_PUSH, rc);
    if (rc != 0) {
      verdict = XDP_ABORTED;
    } else {
      __u16 tci = vlan_tci_base | (seq & 0x0fff);

      data = (__u8 *)(long)ctx->data;
      data_end = (__u8 *)(long)ctx->data_end;
      if (data + ETH_HLEN + VLAN_HLEN > data_end)
        return finish(ctx, t1, len, proto, XDP_ABORTED);
      __builtin_memcpy(data, macs, sizeof(macs));
      data[12] = ETH_P_8021Q >> 8;
      data[13] = ETH_P_8021Q & 0xff;
      data[14] = tci >> 8;
      data[15] = tci & 0xff;
      verdict = ip_proto == IPPROTO_UDP ? XDP_TX : XDP_PASS;
    }
  } else if (proto == ETH_P_8021Q) {
    rc = bpf_xdp_adjust_head(ctx, VLAN_HLEN);
    record(OP_HEAD_POP, rc);
    if (rc != 0) {
      verdict = XDP_DROP;
    } else {
      data = (__u8 *)(long)ctx->data;
      data_end = (__u8 *)(long)ctx->data_end;
      if (data + ETH_HLEN > data_end)
        return finish(ctx, t1, len, proto, XDP_ABORTED);
      __builtin_memcpy(data, macs, sizeof(macs));
      verdict = XDP_PASS;
    }
  } else if (proto == ETH_P_IPV6) {
    __u32 grow = tail_grow;

    rc = bpf_xdp_adjust_tail(ctx, grow);
    record(OP_TAIL_GROW, rc);
    if (rc != 0) {
      verdict = XDP_ABORTED;
    } else {
      __u32 off, zero = 1, i;
      __u8 *tail;
      __u64 s = seq;

      data = (__u8 *)(long)ctx->data;
      data_end = (__u8 *)(long)ctx->data_end;
      off = (__u32)(data_end - data) - grow;
      if (off > 4095)
        return finish(ctx, t1, len, proto, XDP_ABORTED);
      tail = data + off;
#pragma unroll
      for (i = 0; i < 8; i++) {
        if (i >= grow || tail + i + 1 > data_end)
          break;
        if (tail[i] != 0)
          zero = 0;
      }
      if (zero)
        tail_zero_ok++;
      else
        tail_zero_bad++;
      off = (__u32)(data_end - data) - 8;
      if (off > 4095)
        return finish(ctx, t1, len, proto, XDP_ABORTED);
      tail = data + off;
      if (tail + 8 > data_end)
        return finish(ctx, t1, len, proto, XDP_ABORTED);
      __builtin_memcpy(tail, &s, sizeof(s));
      verdict = XDP_PASS;
    }
  } else if (proto < ETH_P_802_3_MIN) {
    record(OP_TAIL_TOO_SMALL, bpf_xdp_adjust_tail(ctx, -(int)len));
    key = mac0 ^ 1;
    record(OP_MAC_DELETE, bpf_map_delete_elem(&mac_counts, &key));
    verdict = XDP_DROP;
  } else {
    record(OP_TAIL_SHRINK, bpf_xdp_adjust_tail(ctx, -(int)tail_shrink));
    verdict = (mac0 & 1) ? XDP_DROP : XDP_PASS;
  }

  /* 11. keep the metadata only when mac0 is odd */
  if (meta_reserved && !(mac0 & 1))
    record(OP_META_RELEASE, bpf_xdp_adjust_meta(ctx, 8));

  return finish(ctx, t1, len, proto, verdict);
}

char _license[] SEC("license") = "Dual MIT/GPL";
