/**
 * The native layout of a map (`struct bpf_map` and the per-type state after it), defined
 * once with text-poke's `defineStruct`: machine code (the JIT's inlined lookups, the
 * per-map functions, the generic helpers) reads it through `BPF_MAP` offsets, TypeScript
 * through checked views.
 */
import { defineStruct } from '@bpf-dispatcher/text-poke';

/**
 * `struct bpf_map` in native memory (192 bytes, cache-line aligned). Common fields first;
 * the per-type fields are used as their comments say.
 *
 * - `lookup`/`update`/`delete`: the map's own functions (`map->ops`), System V, with r12
 *   holding the calling CPU's index (see {@link RUNTIME_ABI}).
 * - `values`: ARRAY: the first value of CPU 0; HASH: the element pool.
 * - `cpuStride`: PERCPU_ARRAY: bytes between one CPU's copy of the whole array and the
 *   next; PERCPU_HASH: bytes between two CPUs' copies of one value (round_up(value_size, 8)).
 * - `elemSize`: ARRAY: bytes between two values (round_up(value_size, 8)); HASH: bytes of
 *   one element.
 * - `lock`: the writers' spinlock (HASH: every update and delete, from programs and from
 *   TypeScript, takes it; lookups never do).
 * - `buckets`, `bucketMask`, `count`, `freeList`, `retired`, `retiredCount`, `valueOffset`,
 *   `hashSeed`, `waiting`, `waitingCount`: HASH only (see hash-map.ts; `waiting` is the
 *   batch the map's own code reclaims when its free list runs dry).
 */
export const BpfMapStruct = defineStruct(
  'bpf_map',
  {
    type: 'u32',
    keySize: 'u32',
    valueSize: 'u32',
    maxEntries: 'u32',
    flags: 'u32',
    lock: 'u32',
    cpus: 'u32',
    elemSize: 'u32',
    values: 'ptr',
    cpuStride: 'u64',
    lookup: 'ptr',
    update: 'ptr',
    delete: 'ptr',
    buckets: 'ptr',
    freeList: 'ptr',
    retired: 'ptr',
    bucketMask: 'u32',
    count: 'u32',
    retiredCount: 'u32',
    valueOffset: 'u32',
    hashSeed: 'u32',
    id: 'u32',
    frozen: 'u32',
    waiting: 'ptr',
    waitingCount: 'u32',
  },
  { size: 192, align: 64 },
);

/** {@link BpfMapStruct}'s offsets and size, for emitters (`qword('rdi', BPF_MAP.values)`). */
export const BPF_MAP = Object.freeze({ ...BpfMapStruct.offsets, size: BpfMapStruct.size });

/**
 * The runtime's native calling convention, shared by the JIT, the helpers and the map
 * functions:
 * - helpers and map functions are System V functions: arguments in rdi, rsi, rdx, rcx, r8
 *   (eBPF R1..R5), result in rax (R0); they may clobber rax, rcx, rdx, rsi, rdi, r8-r11 and
 *   preserve rbx, rbp, r12-r15 (eBPF R6..R9 and R10 survive, as the ISA requires);
 * - r12 holds the index of the CPU (the poller thread) running the program, 0..cpus-1:
 *   JIT'd programs load it from their context in the prologue (the kernel's
 *   `smp_processor_id()`); per-CPU maps and `get_smp_processor_id` use it;
 * - rsp is 16-byte aligned at the call, as System V requires.
 */
export const RUNTIME_ABI = Object.freeze({ cpuRegister: 'r12' as const });
