/**
 * The running kernel's own run of the same program object: `xdp_rxq_info.bpf.o` loaded
 * into the kernel with bpf() (maps created, fds patched, as libbpf does) and run by
 * `BPF_PROG_TEST_RUN` on the benchmark's 64-byte UDP frame. With `repeat > 1` the kernel
 * first adds the program to its XDP dispatcher, so each run is a direct call through it.
 */
import { loadObjectIntoKernel } from '@bpf-dispatcher/bpf-object';
import { kernelBpfAvailable, kernelTestRun } from '@bpf-dispatcher/ebpf';
import { buildUdpFrame, defaultFlows } from '@bpf-dispatcher/i40e';
import { structCodec } from '@bpf-dispatcher/runtime';
import { RxqInfoConfigStruct, XdpAction, openBundledObject } from '@bpf-dispatcher/xdp-call';

/** A kernel case: `run(n)` runs the program n times in the kernel and returns the wall nanoseconds. */
export interface KernelCase {
  readonly name: string;
  run(repeat: number): number;
  /** The kernel's own figure (ns per run, its `duration`) of the last run. */
  lastKernelNs(): number;
  /** Check that the program counted exactly `runs` packets (its per-CPU `processed`, summed); throws otherwise. */
  verify(runs: bigint): void;
  dispose(): void;
}

/** `lo`: an ifindex the kernel accepts in a test-run's `xdp_md` (queue 0). */
const LOOPBACK = 1;

/** The kernel case, or the reason it cannot run here (no bpf(), not Linux). */
export function kernelRxqInfoCase(): KernelCase | { readonly skipped: string } {
  const available = kernelBpfAvailable();
  if (!available.ok) return { skipped: `bpf() is not usable here: ${available.reason}` };
  const object = openBundledObject('xdp_rxq_info');
  const kernel = loadObjectIntoKernel(object);
  try {
    const config = structCodec(RxqInfoConfigStruct).encode({ action: XdpAction.DROP, ifindex: LOOPBACK, options: 0 });
    kernel.map('config_map').update(Uint8Array.of(0, 0, 0, 0), config);
    const prog = kernel.program('xdp_rxq_info');
    const flow = defaultFlows(1)[0];
    if (flow === undefined) throw new Error('no flow');
    const data = buildUdpFrame(flow);
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    const ctx = new Uint8Array(24);
    const view = new DataView(ctx.buffer);
    view.setUint32(4, data.length, true);
    view.setUint32(12, LOOPBACK, true);
    let last = 0;
    const check = kernelTestRun(prog, { data, ctx, repeat: 1 });
    if (check.retval !== XdpAction.DROP) throw new Error(`kernel xdp_rxq_info returned ${check.retval}, expected XDP_DROP`);
    return {
      name: 'kernel-test-run',
      run: (repeat) => {
        const start = process.hrtime.bigint();
        const r = kernelTestRun(prog, { data, ctx, repeat });
        const ns = Number(process.hrtime.bigint() - start);
        last = r.durationNs;
        return ns;
      },
      lastKernelNs: () => last,
      verify: (runs) => {
        const value = kernel.map('stats_global_map').lookup(Uint8Array.of(0, 0, 0, 0));
        let processed = 0n;
        if (value !== undefined) for (let at = 0; at + 16 <= value.length; at += 16) processed += new DataView(value.buffer, value.byteOffset + at).getBigUint64(0, true);
        // one checking run before the measured ones
        if (processed !== runs + 1n) throw new Error(`kernel-test-run: xdp_rxq_info counted ${processed} packets, expected ${runs + 1n}`);
      },
      dispose: () => {
        kernel.close();
        void object.close();
      },
    };
  } catch (error) {
    kernel.close();
    throw error;
  }
}
