/**
 * The kernel's own traffic generator: `BPF_PROG_TEST_RUN` of an XDP program with
 * `BPF_F_TEST_XDP_LIVE_FRAMES` (what xdp-trafficgen does). The kernel builds `repeat`
 * frames from `frame` in a page pool, runs the program on each as if it had arrived on
 * `ifindex`, and carries out its verdict for real: with a program returning XDP_TX, every
 * frame is transmitted on `ifindex` — on a veth, it arrives at the peer's XDP program.
 * All frames are the same bytes (unless the program changes them).
 */
import { type KernelProg, kernelProgLoad } from '@bpf-dispatcher/ebpf';
import { sys } from '../afxdp/sys.js';

const SYS_BPF = 321;
const BPF_PROG_TEST_RUN = 10;
/** `BPF_F_TEST_XDP_LIVE_FRAMES`. */
const LIVE_FRAMES = 1 << 1;
const ATTR_SIZE = 160;
/** The `test` member of `union bpf_attr`. */
const TEST = {
  progFd: 0,
  retval: 4,
  dataSizeIn: 8,
  dataIn: 16,
  repeat: 32,
  duration: 36,
  ctxSizeIn: 40,
  ctxIn: 48,
  flags: 64,
  batchSize: 72,
} as const;

/** Load `r0 = XDP_TX; exit`, the program that turns live frames into transmitted ones. */
export function loadXdpTx(): KernelProg {
  return kernelProgLoad(
    [
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 3 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
    { progType: 'xdp', name: 'live_tx' },
  );
}

/**
 * Run `prog` on `repeat` live copies of `frame` arriving on `ifindex` (rx queue 0), in
 * batches of `batchSize` (the kernel's default is 64). Returns the kernel's mean
 * nanoseconds per frame.
 * @throws Error naming the errno when the kernel refuses (EINVAL before Linux 5.18, no live mode).
 */
export function sendLiveFrames(
  prog: KernelProg,
  options: { readonly ifindex: number; readonly frame: Uint8Array; readonly repeat: number; readonly batchSize?: number },
): number {
  const s = sys();
  const attr = s.alloc(ATTR_SIZE);
  const data = s.alloc(options.frame.length);
  const ctx = s.alloc(24);
  try {
    data.bytes.set(options.frame);
    // struct xdp_md: data 0, data_end = length, data_meta 0, ingress_ifindex, rx_queue_index 0
    ctx.view.setUint32(4, options.frame.length, true);
    ctx.view.setUint32(12, options.ifindex, true);
    const v = attr.view;
    v.setUint32(TEST.progFd, prog.fd, true);
    v.setUint32(TEST.dataSizeIn, options.frame.length, true);
    v.setBigUint64(TEST.dataIn, data.address, true);
    v.setUint32(TEST.repeat, options.repeat, true);
    v.setUint32(TEST.ctxSizeIn, 24, true);
    v.setBigUint64(TEST.ctxIn, ctx.address, true);
    v.setUint32(TEST.flags, LIVE_FRAMES, true);
    v.setUint32(TEST.batchSize, options.batchSize ?? 0, true);
    const ret = s.syscall3(SYS_BPF, BigInt(BPF_PROG_TEST_RUN), attr.address, BigInt(ATTR_SIZE));
    if (ret < 0) throw new Error(`BPF_PROG_TEST_RUN(live frames, ifindex ${options.ifindex}): ${s.errnoName(-ret)}`);
    return v.getUint32(TEST.duration, true);
  } finally {
    s.free(attr);
    s.free(data);
    s.free(ctx);
  }
}
