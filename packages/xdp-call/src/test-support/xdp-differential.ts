/**
 * Test support for differential runs of one BPF object in two places — this project's
 * runtime (verifier, JIT, helpers and maps in native memory, run through an xdp_call) and
 * the running kernel (`BPF_PROG_TEST_RUN`) — and for comparing what each left behind:
 * the `struct xdp_md` the kernel's test run takes, and map dumps in one format for both.
 */
import type { KernelMap } from '@bpf-dispatcher/ebpf';
import type { BpfMap } from '@bpf-dispatcher/runtime';

/**
 * The netdev both sides claim the packets came in on: `lo`, ifindex 1 in every network
 * namespace. The kernel's test run requires `ingress_ifindex` to name a netdev that exists
 * (ENODEV otherwise) and `rx_queue_index` to be one of its registered rx queues (`lo` has
 * one: queue 0); ifindex 0 would make the kernel use `lo` anyway.
 */
export const TEST_RUN_IFINDEX = 1;
/** The receive queue on both sides (`lo`'s only one). */
export const TEST_RUN_QUEUE = 0;
/**
 * Output buffer of every kernel test run: a whole page. The kernel fails the run with
 * ENOSPC when the packet (metadata included) does not fit, and a program may grow it
 * up to the page less the head and tail room.
 */
export const TEST_RUN_DATA_OUT = 4096;

/**
 * A `struct xdp_md` (24 bytes) for `BPF_PROG_TEST_RUN`'s `ctx_in`: `data` 0 (no
 * metadata in front), `data_end` = the frame's length, `data_meta` 0, then the ingress
 * ifindex and rx queue, `egress_ifindex` 0 (the kernel refuses anything else).
 */
export function xdpMdContext(length: number, ifindex = TEST_RUN_IFINDEX, queue = TEST_RUN_QUEUE): Uint8Array {
  const ctx = new Uint8Array(24);
  const view = new DataView(ctx.buffer);
  view.setUint32(0, 0, true);
  view.setUint32(4, length, true);
  view.setUint32(8, 0, true);
  view.setUint32(12, ifindex, true);
  view.setUint32(16, queue, true);
  view.setUint32(20, 0, true);
  return ctx;
}

/** Lower-case hex of bytes. */
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/**
 * The sum over CPUs of per-CPU values of `valueSize` bytes, as little-endian u64 lanes
 * (each lane wraps at 2^64, like the counters programs keep); a tail shorter than 8
 * bytes is summed as one little-endian integer of its width. Values that are not per-CPU
 * come as a single slot and are returned unchanged.
 */
export function sumPerCpu(slots: readonly Uint8Array[], valueSize: number): Uint8Array {
  const out = new Uint8Array(valueSize);
  const view = new DataView(out.buffer);
  for (let at = 0; at < valueSize; at += 8) {
    const width = Math.min(8, valueSize - at);
    const bits = BigInt(width * 8);
    let sum = 0n;
    for (const slot of slots) {
      let lane = 0n;
      for (let i = width - 1; i >= 0; i--) lane = (lane << 8n) | BigInt(slot[at + i] ?? 0);
      sum += lane;
    }
    sum = BigInt.asUintN(Number(bits), sum);
    for (let i = 0; i < width; i++) view.setUint8(at + i, Number((sum >> BigInt(8 * i)) & 0xffn));
  }
  return out;
}

/** A map's contents as `key hex → value hex`, per-CPU values summed over CPUs, keys sorted. */
export type MapDump = readonly (readonly [key: string, value: string])[];

const sorted = (entries: [string, string][]): MapDump => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Dump a map of this project's runtime (per-CPU values summed over its CPUs). */
export function dumpNativeMap(map: BpfMap): MapDump {
  const entries: [string, string][] = [];
  for (const key of map.keys()) {
    const slots = map.lookupPerCpu(key);
    if (slots !== undefined) entries.push([toHex(key), toHex(sumPerCpu(slots, map.valueSize))]);
  }
  return sorted(entries);
}

/**
 * Dump a map of the kernel: its keys walked with `BPF_MAP_GET_NEXT_KEY`, per-CPU values
 * (one 8-byte-aligned slot per possible CPU) summed over CPUs.
 */
export function dumpKernelMap(map: KernelMap, possibleCpus: number): MapDump {
  const perCpu = map.userValueSize !== map.valueSize;
  const slot = Math.ceil(map.valueSize / 8) * 8;
  const entries: [string, string][] = [];
  for (const key of map.keys()) {
    const value = map.lookup(key);
    if (value === undefined) continue;
    const slots = perCpu ? Array.from({ length: possibleCpus }, (_, cpu) => value.subarray(cpu * slot, cpu * slot + map.valueSize)) : [value];
    entries.push([toHex(key), toHex(sumPerCpu(slots, map.valueSize))]);
  }
  return sorted(entries);
}
