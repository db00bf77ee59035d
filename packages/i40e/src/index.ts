/**
 * `@bpf-dispatcher/i40e`: a driver-integration shim modelled on the i40e driver's use of
 * xdp_call: netdevs with rx rings in native memory, generated UDP traffic, one shared
 * `i40e_xdp_call`, {@link i40eXdpSetup}, and JIT'd NAPI poll loops (copy mode and
 * zero-copy) with a native driver loop.
 */
export { I40eError, type I40eErrorCode } from './errors.js';
export { BUFFER_STRIDE, COUNTERS, DESC, FRAME_SLOT, RING } from './layout.js';
export { type RxMode, emitDriverLoop, emitNapiPoll } from './napi-poll.js';
export { I40eDevice, type I40eDeviceOptions, Netdev, type RingCounters, RxRing, defaultFlows, isI40eDevice, isNetdev } from './device.js';
export { i40eXdpSetup } from './xdp-setup.js';
