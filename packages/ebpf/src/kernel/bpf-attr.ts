/**
 * Numbers and byte offsets of the kernel's UAPI `include/uapi/linux/bpf.h`: the `bpf()`
 * commands, program and map types, and the fields of the `union bpf_attr` members used by
 * the oracle (all little endian on x86-64; pointers are `__aligned_u64`).
 */

/** `enum bpf_cmd` (the commands the oracle issues). */
export const BPF_CMD = Object.freeze({
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  PROG_TEST_RUN: 10,
  OBJ_GET_INFO_BY_FD: 15,
  MAP_FREEZE: 22,
  LINK_CREATE: 28,
} as const);

/** `enum bpf_prog_type`, by the lower-case name without the `BPF_PROG_TYPE_` prefix. */
export const BPF_PROG_TYPE = Object.freeze({
  socket_filter: 1,
  kprobe: 2,
  sched_cls: 3,
  sched_act: 4,
  tracepoint: 5,
  xdp: 6,
  perf_event: 7,
  cgroup_skb: 8,
  cgroup_sock: 9,
  lwt_in: 10,
  lwt_out: 11,
  lwt_xmit: 12,
  sock_ops: 13,
  sk_skb: 14,
  cgroup_device: 15,
  sk_msg: 16,
  raw_tracepoint: 17,
  cgroup_sock_addr: 18,
  lwt_seg6local: 19,
  lirc_mode2: 20,
  sk_reuseport: 21,
  flow_dissector: 22,
  cgroup_sysctl: 23,
  raw_tracepoint_writable: 24,
  cgroup_sockopt: 25,
  tracing: 26,
  struct_ops: 27,
  ext: 28,
  lsm: 29,
  sk_lookup: 30,
  syscall: 31,
  netfilter: 32,
} as const);

/** A program type name accepted by {@link BPF_PROG_TYPE}. */
export type KernelProgType = keyof typeof BPF_PROG_TYPE;

/**
 * `enum bpf_map_type`, by the lower-case name without the `BPF_MAP_TYPE_` prefix: every
 * type of the UAPI up to Linux 6.18. `KernelMap.lookup`/`update` exchange plain bytes; the
 * types whose keys or values are not plain data (fds of sockets, programs or maps, cgroup
 * ids, …) take them as the kernel's user-space interface defines them (e.g. an `xskmap`
 * value is an AF_XDP socket's fd as a u32).
 */
export const BPF_MAP_TYPE = Object.freeze({
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  cgroup_array: 8,
  lru_hash: 9,
  lru_percpu_hash: 10,
  lpm_trie: 11,
  array_of_maps: 12,
  hash_of_maps: 13,
  devmap: 14,
  sockmap: 15,
  cpumap: 16,
  xskmap: 17,
  sockhash: 18,
  cgroup_storage: 19,
  reuseport_sockarray: 20,
  percpu_cgroup_storage: 21,
  queue: 22,
  stack: 23,
  sk_storage: 24,
  devmap_hash: 25,
  struct_ops: 26,
  ringbuf: 27,
  inode_storage: 28,
  task_storage: 29,
  bloom_filter: 30,
  user_ringbuf: 31,
  cgrp_storage: 32,
  arena: 33,
} as const);

/** A map type name accepted by {@link BPF_MAP_TYPE}. */
export type KernelMapType = keyof typeof BPF_MAP_TYPE;

/** `BPF_MAP_UPDATE_ELEM` flags. */
export const BPF_UPDATE = Object.freeze({ ANY: 0, NOEXIST: 1, EXIST: 2 } as const);

/** Anonymous struct of `BPF_MAP_CREATE`. */
export const MAP_CREATE = Object.freeze({
  map_type: 0,
  key_size: 4,
  value_size: 8,
  max_entries: 12,
  map_flags: 16,
  inner_map_fd: 20,
  numa_node: 24,
  map_name: 28,
} as const);

/** Anonymous struct of `BPF_MAP_*_ELEM`. */
export const MAP_ELEM = Object.freeze({ map_fd: 0, key: 8, value: 16, flags: 24 } as const);

/** The same struct as `BPF_MAP_GET_NEXT_KEY` reads it (`next_key` shares `value`'s slot). */
export const MAP_NEXT_KEY = Object.freeze({ map_fd: 0, key: 8, next_key: 16 } as const);

/** `BPF_MAP_FREEZE` reads only `map_fd`. */
export const MAP_FREEZE = Object.freeze({ map_fd: 0 } as const);

/** Anonymous struct of `BPF_PROG_LOAD`. */
export const PROG_LOAD = Object.freeze({
  prog_type: 0,
  insn_cnt: 4,
  insns: 8,
  license: 16,
  log_level: 24,
  log_size: 28,
  log_buf: 32,
  kern_version: 40,
  prog_flags: 44,
  prog_name: 48,
  prog_ifindex: 64,
  expected_attach_type: 68,
} as const);

/** Anonymous struct `link_create` of `BPF_LINK_CREATE` (the common prefix; `target_ifindex` shares `target_fd`'s slot). */
export const LINK_CREATE = Object.freeze({ prog_fd: 0, target_ifindex: 4, attach_type: 8, flags: 12 } as const);

/** Anonymous struct `test` of `BPF_PROG_TEST_RUN`. */
export const PROG_TEST_RUN = Object.freeze({
  prog_fd: 0,
  retval: 4,
  data_size_in: 8,
  data_size_out: 12,
  data_in: 16,
  data_out: 24,
  repeat: 32,
  duration: 36,
  ctx_size_in: 40,
  ctx_size_out: 44,
  ctx_in: 48,
  ctx_out: 56,
  flags: 64,
  cpu: 68,
  batch_size: 72,
} as const);

/** Anonymous struct `info` of `BPF_OBJ_GET_INFO_BY_FD`. */
export const OBJ_INFO = Object.freeze({ bpf_fd: 0, info_len: 4, info: 8 } as const);

/** `struct bpf_link_info` (the prefix read for XDP links: the union starts at 16). */
export const LINK_INFO = Object.freeze({ type: 0, id: 4, prog_id: 8, xdp_ifindex: 16, size: 64 } as const);

/** `struct bpf_prog_info` (the prefix the oracle reads). */
export const PROG_INFO = Object.freeze({
  type: 0,
  id: 4,
  tag: 8,
  jited_prog_len: 16,
  xlated_prog_len: 20,
  jited_prog_insns: 24,
  xlated_prog_insns: 32,
  name: 64,
  nr_jited_ksyms: 104,
  nr_jited_func_lens: 108,
  jited_ksyms: 112,
  jited_func_lens: 120,
  verified_insns: 216,
  /** Size of the prefix up to `attach_btf_id`, padded to 8. */
  size: 232,
} as const);

/** `BPF_OBJ_NAME_LEN`: object names hold at most 15 characters and a NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** `struct xdp_md` field offsets (the XDP program's context). */
export const XDP_MD = Object.freeze({
  data: 0,
  data_end: 4,
  data_meta: 8,
  ingress_ifindex: 12,
  rx_queue_index: 16,
  egress_ifindex: 20,
} as const);
