/**
 * `@bpf-dispatcher/i40e/testbed`: real interfaces to run the AF_XDP path on without
 * touching the host's — a private network namespace with veth pairs (`ip netns`,
 * iproute2; root only) — and two traffic generators from the peer side: `PacketSender`
 * (AF_PACKET `sendmmsg`, any frames) and `sendLiveFrames` (the kernel's own generator,
 * `BPF_PROG_TEST_RUN` with live frames, what xdp-trafficgen uses; one frame repeated).
 * What the package's tests, the CLI's `run` tests and the veth benchmark use.
 */

export { loadXdpTx, sendLiveFrames } from './live-frames.js';
export {
  createTestNetns,
  joinTestNetns,
  type NetnsSupport,
  netnsSupport,
  type TestNetns,
  type TestNetnsOptions,
  type VethEnd,
} from './netns.js';
export { PacketSender, type PacketSenderStats } from './packet-sender.js';
