/* SPDX-License-Identifier: MIT */
/*
 * bpf-dispatcher.h: everything a C program for the bpf-dispatcher runtime needs, with no
 * other header: the section and map-definition macros the loader understands, the helper
 * functions it provides (by their kernel ids), struct xdp_md and the XDP verdicts.
 * Compile with: clang -O2 -g -target bpf -c prog.bpf.c -I <this directory>
 * The same object loads into the Linux kernel unchanged.
 */
#ifndef BPF_DISPATCHER_H
#define BPF_DISPATCHER_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;

/* Place a function or variable in an ELF section: SEC("xdp") marks an XDP program. */
#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))

/* BTF-defined maps (section ".maps"): each attribute is encoded in the member's type. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

/* Map types (enum bpf_map_type) this runtime provides. */
enum {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_PERCPU_HASH = 5,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
};

/* Flags of bpf_map_update_elem. */
enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
  BPF_EXIST = 2,
};

/* The XDP context (struct xdp_md of the kernel's UAPI): the runtime rewrites these loads onto its own buffer. */
struct xdp_md {
  __u32 data;
  __u32 data_end;
  __u32 data_meta;
  __u32 ingress_ifindex;
  __u32 rx_queue_index;
  __u32 egress_ifindex;
};

/* XDP verdicts (enum xdp_action). */
enum xdp_action {
  XDP_ABORTED = 0,
  XDP_DROP = 1,
  XDP_PASS = 2,
  XDP_TX = 3,
  XDP_REDIRECT = 4,
};

/* Helper functions, called by their kernel ids. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static __u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static __u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static long (*bpf_xdp_adjust_head)(struct xdp_md *ctx, int delta) = (void *)44;
static long (*bpf_xdp_adjust_meta)(struct xdp_md *ctx, int delta) = (void *)54;
static long (*bpf_xdp_adjust_tail)(struct xdp_md *ctx, int delta) = (void *)65;

/* Byte order: the BPF target here is little-endian. */
#define bpf_htons(x) ((__be16)__builtin_bswap16((__u16)(x)))
#define bpf_ntohs(x) ((__u16)__builtin_bswap16((__be16)(x)))
#define bpf_htonl(x) ((__be32)__builtin_bswap32((__u32)(x)))
#define bpf_ntohl(x) ((__u32)__builtin_bswap32((__be32)(x)))

/*
 * Only the Linux kernel provides these (objects using them load with loadObjectIntoKernel,
 * not into the runtime): the XSKMAP map type and bpf_redirect_map, to hand packets to
 * AF_XDP sockets.
 */
enum {
  BPF_MAP_TYPE_XSKMAP = 17,
};
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)51;

#endif /* BPF_DISPATCHER_H */
