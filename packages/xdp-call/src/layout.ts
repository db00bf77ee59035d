/**
 * Native memory layouts shared by JS and the JIT'd code, each defined once with
 * `defineStruct`: the offsets the emitters use (`Struct.offsets`, and the `XDP_BUFF` /
 * `XDP_RXQ` / `BPF_PROG` tables derived from them) and checked little-endian accessors
 * over arena memory (`Struct.view(arena, region, offset)`) for JS.
 */
import { defineStruct } from '@bpf-dispatcher/text-poke';

/**
 * `struct xdp_buff` and `struct xdp_rxq_info` are the eBPF runtime's (the context JIT'd
 * programs run on, with the `xdp_md` fields and the CPU index; see
 * `@bpf-dispatcher/runtime`), re-exported here for drivers and call sites.
 */
export { XDP_BUFF, XDP_RXQ, XdpBuffStruct, XdpRxqInfoStruct } from '@bpf-dispatcher/runtime';

/**
 * `struct bpf_prog` reduced to what xdp_call_run needs: the JIT'd function, its
 * instructions pointer and the stats (`bpf_prog_stats`: `cnt`, elapsed time-stamp-counter
 * ticks), and a small id. 64 bytes.
 */
export const BpfProgStruct = defineStruct(
  'bpf_prog',
  {
    bpfFunc: 'ptr',
    insnsi: 'ptr',
    statsCnt: 'u64',
    statsTicks: 'u64',
    id: 'u32',
  },
  { size: 64 },
);

/** {@link BpfProgStruct}'s offsets and size. */
export const BPF_PROG = Object.freeze({ ...BpfProgStruct.offsets, size: BpfProgStruct.size });
