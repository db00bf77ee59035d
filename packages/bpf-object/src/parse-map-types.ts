/**
 * Map types by number (`enum bpf_map_type` of `<linux/bpf.h>`) and their short names.
 */
import type { ParsedMapType } from './parsed.js';

/** `BPF_MAP_TYPE_*` names in lower case without the prefix, indexed by value. */
const MAP_TYPE_NAMES: readonly string[] = Object.freeze([
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'sockmap',
  'cpumap',
  'xskmap',
  'sockhash',
  'cgroup_storage',
  'reuseport_sockarray',
  'percpu_cgroup_storage',
  'queue',
  'stack',
  'sk_storage',
  'devmap_hash',
  'struct_ops',
  'ringbuf',
  'inode_storage',
  'task_storage',
  'bloom_filter',
  'user_ringbuf',
  'cgrp_storage',
  'arena',
]);

/** `BPF_MAP_TYPE_ARRAY`, the type of global data maps. */
export const BPF_MAP_TYPE_ARRAY = 2;

/** The {@link ParsedMapType} of a `BPF_MAP_TYPE_*` value (`unknown(N)` for values this table does not name). */
export function mapType(id: number): ParsedMapType {
  return { id, name: MAP_TYPE_NAMES[id] ?? `unknown(${id})` };
}
