/**
 * `@bpf-dispatcher/xdp-call`: the `xdp_call.h` API. {@link defineXdpCall} emits a
 * trampoline and owns its dispatcher; {@link xdpCallUpdate} attaches/replaces/detaches
 * programs; {@link xdpCallRun} runs one from JS and {@link emitXdpCallRun} emits the
 * native call site for JIT'd loops. Built-in programs: xdp_drop, xdp_pass, xdp_tx,
 * xdp_rxq_info, xdp_udp_filter.
 */
export { XdpAction, XDP_ACTION_NAMES, XDP_ACTIONS, type XdpActionValue } from './actions.js';
export { XdpError, type XdpErrorCode } from './errors.js';
export { BPF_PROG, BpfProgStruct, XDP_BUFF, XDP_RXQ, XdpBuffStruct, XdpRxqInfoStruct } from './layout.js';
export { createXdpProg, isXdpProg, retainXdpProg, type XdpProg, type XdpProgStats } from './xdp-prog.js';
export { emitReadTsc, nsPerTick, ticksToNanoseconds } from './clock.js';
export { CALLEE_SAVED, emitXdpCallRun, type XdpCallSiteRegs } from './call-site.js';
export { XdpCall, claimXdpCall, defineXdpCall, isXdpCall, xdpCallRun, xdpCallUpdate, type XdpCallClaim, type XdpCallOptions } from './xdp-call.js';
export { XDP_BUFF_RXQ_SIZE, XDP_HEADROOM, checkXdpBuff, createXdpBuff, initXdpBuff, type XdpBuffHandle, type XdpBuffInit } from './xdp-buff.js';
export { emitReturn, xdpConstant, xdpDrop, xdpPass, xdpTx } from './programs/simple.js';
export {
  RXQ_INFO_MAX_RXQS,
  RXQ_INFO_OPTIONS,
  RxqInfoConfigStruct,
  RxqInfoRecordStruct,
  type RxqInfoCounters,
  type RxqInfoOptions,
  type RxqInfoProg,
  xdpRxqInfo,
} from './programs/rxq-info.js';
export { type UdpFilterProg, xdpUdpFilter } from './programs/udp-filter.js';
export { BUNDLED_OBJECTS, type BundledObjectName, bundledObjectPath, openBundledObject } from './programs/bundled.js';
export { type XdpProgFromObjectOptions, xdpProgFromObject } from './object-prog.js';
export { RECORD_IFINDEX_SLOTS, RECORD_META_SIZE, type RecordProg, xdpRecord } from './programs/record.js';
