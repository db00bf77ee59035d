/**
 * `@bpf-dispatcher/i40e`: a driver-integration shim modelled on the i40e driver's use of
 * xdp_call: netdevs with rx rings in native memory, generated UDP traffic (the frame
 * builder, parser, checksums and flows, in `traffic/`), one shared
 * `i40e_xdp_call`, {@link i40eXdpSetup}, and JIT'd NAPI poll loops (copy mode and
 * zero-copy) with a native driver loop; real packets through AF_XDP sockets (`xsk` mode)
 * and capture files (pcap/pcapng, `capture` mode).
 */

export {
  attachXskRedirect,
  openXsk,
  openXskWhenFree,
  XDP_DESC,
  XDP_RING_NEED_WAKEUP,
  XSK_REDIRECT_MAX_QUEUES,
  XSK_REDIRECT_OBJECT,
  XSK_RING_KINDS,
  Xsk,
  XskError,
  type XskKick,
  type XskOptions,
  type XskRedirect,
  type XskRedirectOptions,
  type XskRing,
  type XskRingKind,
  type XskRings,
  type XskStats,
  type XskUmem,
  type XskWaitOptions,
  xskRedirectObjectPath,
} from './afxdp/index.js';
export type { XskDeviceOptions, XskDeviceStats, XskInterface } from './afxdp/ports.js';
export type { ReplayedFrame, ReplayOutput } from './afxdp/replay.js';
export { emitXskPoll, type XskPollOptions } from './afxdp/xsk-poll.js';
export { XSKQ, XskQueueStruct, XskStackEntryStruct } from './afxdp/xsk-queue.js';
export type { XskRingCounters } from './afxdp/xsk-ring.js';
export { detectCaptureFormat, openCapture, readCapture } from './capture/capture.js';
export { CaptureError, type CaptureErrorCode, type CaptureErrorReason } from './capture/errors.js';
export { type WritePcapOptions, writePcap } from './capture/pcap.js';
export { type PcapngInterfaceOptions, type WritePcapngOptions, writePcapng } from './capture/pcapng-writer.js';
export {
  type Capture,
  type CaptureFormat,
  type CaptureFrame,
  type CaptureFrameInput,
  type CaptureInterface,
  type CaptureReader,
  LINKTYPE_ETHERNET,
  linktypeName,
  MAX_CAPTURE_LENGTH,
  type ReadCaptureOptions,
} from './capture/types.js';
export { type DeviceMode, I40eDevice, type I40eDeviceOptions, isI40eDevice, isNetdev, Netdev } from './device.js';
export { emitDriverLoop } from './driver-loop.js';
export { I40eError, type I40eErrorCode } from './errors.js';
export { emitNapiPoll, type NapiPollOptions } from './napi-poll.js';
export type { DispatcherProfile, NetdevCalls, ProfileEveryOptions } from './profile.js';
export {
  BUFFER_STRIDE,
  COUNTERS,
  DESC,
  FRAME_SLOT,
  RING,
  type RingCounters,
  RingCountersStruct,
  RxDescStruct,
  type RxMode,
  RxRing,
  type RxRingKind,
  RxRingStruct,
  StackEntryStruct,
  type StackFrame,
} from './ring.js';
export { defaultFlows, MAX_FLOWS } from './traffic/flows.js';
export { buildUdpFrame, internetChecksum, type ParsedUdpFrame, parseUdpFrame, UDP_HEADERS, type UdpFlow } from './traffic/packet.js';
export { i40eXdpSetup } from './xdp-setup.js';
