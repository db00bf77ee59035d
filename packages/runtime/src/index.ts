/**
 * `@bpf-dispatcher/runtime`: the eBPF runtime in native memory — maps (array, per-CPU
 * array, hash, per-CPU hash; global data as single-entry arrays) shared by JIT'd programs
 * and TypeScript, the helper functions as machine code, and the XDP context (`xdp_buff`)
 * programs run on. One {@link BpfRuntime} per arena.
 */
export { RuntimeError, type RuntimeErrorCode } from './errors.js';
export { BpfRuntime, MAX_CPUS, MAX_KEY_SIZE, MAX_VALUE_SIZE, type RuntimeJitOptions, type RuntimeOptions, createRuntime, runtimeOf } from './runtime.js';
export { BpfMap, type MapJitInfo, type MapKey, type TypedMap, type UpdateFlags, isBpfMap } from './map.js';
export { BPF_F, BPF_MAP_TYPE_ID, BPF_UPDATE, type InlineArrayLookup, type MapDefinition, type MapTypeName, isPerCpu, mapTypeOf } from './map-types.js';
export { type Codec, type StructValue, bytesCodec, structCodec, sumValues, u32, u64 } from './codec.js';
export { BPF_MAP, BpfMapStruct, RUNTIME_ABI } from './map-struct.js';
export { BPF_FUNC } from './helpers.js';
export { type ClockCalibration, clockCalibration, emitReadTsc } from './clock.js';
export {
  XDP_BUFF,
  XDP_CONTEXT,
  XDP_FRAME_SIZE,
  XDP_METADATA_MAX,
  XDP_PACKET_HEADROOM,
  XDP_RXQ,
  XDP_TAILROOM,
  XdpBuffStruct,
  XdpRxqInfoStruct,
} from './xdp-context.js';
