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
import { XskError } from '../afxdp/xsk-error.js';
import { I40eError } from '../errors.js';
import { describe } from '../validate.js';

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
 * @throws XskError naming the call and errno when the kernel refuses (EINVAL before Linux 5.18: no live mode).
 */
export function sendLiveFrames(
  prog: KernelProg,
  options: { readonly ifindex: number; readonly frame: Uint8Array; readonly repeat: number; readonly batchSize?: number },
): number {
  const o = options as Partial<typeof options> | null;
  if (typeof o !== 'object' || o === null) throw new I40eError('EINVAL', 'sendLiveFrames: options must be an object');
  if (!Number.isInteger(o.ifindex) || (o.ifindex as number) < 1)
    throw new I40eError('EINVAL', `sendLiveFrames: ifindex must be a positive integer, got ${describe(o.ifindex)}`);
  if (!(o.frame instanceof Uint8Array) || o.frame.length < 14 || o.frame.length > 3520)
    throw new I40eError('EINVAL', 'sendLiveFrames: frame must be a Uint8Array of 14..3520 bytes (a page less headroom and tailroom)');
  if (!Number.isInteger(o.repeat) || (o.repeat as number) < 1 || (o.repeat as number) > 0xffff_ffff)
    throw new I40eError('EINVAL', `sendLiveFrames: repeat must be an integer from 1 to 2^32-1, got ${describe(o.repeat)}`);
  if (o.batchSize !== undefined && (!Number.isInteger(o.batchSize) || o.batchSize < 0 || o.batchSize > 256))
    throw new I40eError(
      'EINVAL',
      `sendLiveFrames: batchSize must be an integer from 0 (the kernel's default) to 256, got ${describe(o.batchSize)}`,
    );
  if (typeof prog !== 'object' || prog === null || typeof (prog as { fd?: unknown }).fd !== 'number')
    throw new I40eError('EINVAL', `sendLiveFrames: prog must be a KernelProg, got ${describe(prog)}`);
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
    if (ret < 0) throw new XskError(`BPF_PROG_TEST_RUN(live frames, ifindex ${options.ifindex})`, -ret, s.errnoName(-ret));
    return v.getUint32(TEST.duration, true);
  } finally {
    s.free(attr);
    s.free(data);
    s.free(ctx);
  }
}
