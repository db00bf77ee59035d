/**
 * The helper table: what the verifier knows of each helper function a program may call
 * with `call imm` (the kernel's `bpf_func_proto`).
 */

/**
 * Kinds of helper arguments (the kernel's `bpf_arg_type`, reduced):
 * - `anything`: any initialised register (ARG_ANYTHING).
 * - `map_ptr`: a map from `lddw rX, map_fd` (ARG_CONST_MAP_PTR).
 * - `map_key` / `map_value`: a pointer to initialisable memory (stack, map value, memory
 *   buffer, checked packet) of the key / value size of the map in r1 (ARG_PTR_TO_MAP_KEY,
 *   ARG_PTR_TO_MAP_VALUE).
 * - `ctx`: the context pointer, unmodified (ARG_PTR_TO_CTX).
 */
export type HelperArgKind = 'anything' | 'map_ptr' | 'map_key' | 'map_value' | 'ctx';

/**
 * What a helper returns (the kernel's `bpf_return_type`, reduced): a 64-bit integer, a
 * 32-bit one (zero-extended), nothing meaningful (r0 unknown all the same), or a pointer to
 * a value of the map in r1, or NULL (RET_PTR_TO_MAP_VALUE_OR_NULL).
 */
export type HelperRetKind = 'integer' | 'u32' | 'void' | 'map_value_or_null';

/** One helper: kernel id, name, argument kinds (r1.. in order), return kind. */
export interface HelperSpec {
  readonly id: number;
  /** Name without the `bpf_` prefix, e.g. `map_lookup_elem`. */
  readonly name: string;
  readonly args: readonly HelperArgKind[];
  readonly ret: HelperRetKind;
  /** True if the helper may move packet data (`bpf_helper_changes_pkt_data`): packet pointers are invalidated. */
  readonly changesPktData?: boolean;
  /** Program types it exists for; absent = every type. */
  readonly progTypes?: readonly ('memory' | 'xdp')[];
}

/** The helpers known by default, by their kernel ids (include/uapi/linux/bpf.h). */
export const DEFAULT_HELPERS: readonly HelperSpec[] = Object.freeze([
  { id: 1, name: 'map_lookup_elem', args: ['map_ptr', 'map_key'], ret: 'map_value_or_null' },
  { id: 2, name: 'map_update_elem', args: ['map_ptr', 'map_key', 'map_value', 'anything'], ret: 'integer' },
  { id: 3, name: 'map_delete_elem', args: ['map_ptr', 'map_key'], ret: 'integer' },
  { id: 5, name: 'ktime_get_ns', args: [], ret: 'integer' },
  { id: 7, name: 'get_prandom_u32', args: [], ret: 'u32' },
  { id: 8, name: 'get_smp_processor_id', args: [], ret: 'u32' },
  { id: 44, name: 'xdp_adjust_head', args: ['ctx', 'anything'], ret: 'integer', changesPktData: true, progTypes: ['xdp'] },
  { id: 54, name: 'xdp_adjust_meta', args: ['ctx', 'anything'], ret: 'integer', changesPktData: true, progTypes: ['xdp'] },
  { id: 65, name: 'xdp_adjust_tail', args: ['ctx', 'anything'], ret: 'integer', changesPktData: true, progTypes: ['xdp'] },
] satisfies HelperSpec[]);

/** Kernel names of well-known helper ids, for "unknown func bpf_NAME#ID" messages. */
const KERNEL_NAMES: Readonly<Record<number, string>> = {
  1: 'map_lookup_elem',
  2: 'map_update_elem',
  3: 'map_delete_elem',
  4: 'probe_read',
  5: 'ktime_get_ns',
  6: 'trace_printk',
  7: 'get_prandom_u32',
  8: 'get_smp_processor_id',
  12: 'tail_call',
  23: 'redirect',
  44: 'xdp_adjust_head',
  51: 'redirect_map',
  54: 'xdp_adjust_meta',
  65: 'xdp_adjust_tail',
};

/** The name the kernel's log uses for helper `id`: `bpf_NAME`, or `bpf_x` for an id it does not know. */
export function helperName(id: number): string {
  const n = KERNEL_NAMES[id];
  return n === undefined ? 'bpf_x' : `bpf_${n}`;
}
