/**
 * `@bpf-dispatcher/i40e`: a driver-integration shim modelled on the i40e driver's use of
 * xdp_call: netdevs with rx rings in native memory, generated UDP traffic (the frame
 * builder, parser, checksums and flows, in `traffic/`), one shared
 * `i40e_xdp_call`, {@link i40eXdpSetup}, and JIT'd NAPI poll loops (copy mode and
 * zero-copy) with a native driver loop.
 */
export { I40eError, type I40eErrorCode } from './errors.js';
export {
  BUFFER_STRIDE,
  COUNTERS,
  DESC,
  FRAME_SLOT,
  RING,
  RingCountersStruct,
  RxDescStruct,
  RxRingStruct,
  StackEntryStruct,
  type RingCounters,
  type RxMode,
  RxRing,
} from './ring.js';
export { type NapiPollOptions, emitNapiPoll } from './napi-poll.js';
export { emitDriverLoop } from './driver-loop.js';
export { I40eDevice, type I40eDeviceOptions, Netdev, isI40eDevice, isNetdev } from './device.js';
export { i40eXdpSetup } from './xdp-setup.js';
export { MAX_FLOWS, defaultFlows } from './traffic/flows.js';
export { UDP_HEADERS, type ParsedUdpFrame, type UdpFlow, buildUdpFrame, internetChecksum, parseUdpFrame } from './traffic/packet.js';
export { CaptureError, type CaptureErrorCode, type CaptureErrorReason } from './capture/errors.js';
export {
  type Capture,
  type CaptureFormat,
  type CaptureFrame,
  type CaptureFrameInput,
  type CaptureInterface,
  type CaptureReader,
  LINKTYPE_ETHERNET,
  MAX_CAPTURE_LENGTH,
  type ReadCaptureOptions,
  linktypeName,
} from './capture/types.js';
export { detectCaptureFormat, openCapture, readCapture } from './capture/capture.js';
export { type WritePcapOptions, writePcap } from './capture/pcap.js';
export { type PcapngInterfaceOptions, type WritePcapngOptions, writePcapng } from './capture/pcapng-writer.js';
export {
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
  attachXskRedirect,
  openXsk,
  openXskWhenFree,
  xskRedirectObjectPath,
} from './afxdp/index.js';
