/**
 * The running kernel's own run of the same program object: `xdp_rxq_info.bpf.o` loaded
 * into the kernel with bpf() (maps created, fds patched, as libbpf does) and run by
 * `BPF_PROG_TEST_RUN` on the benchmark's 64-byte UDP frame. With `repeat > 1` the kernel
 * first adds the program to its XDP dispatcher, so each run is a direct call through it.
 *
 * {@link loadKernelRxqInfo} is the set-up every kernel case shares (also the dispatcher
 * cases of `kernel-dispatcher.ts`); {@link rxqInfoKernelCase} turns one loaded program into
 * a timed {@link KernelCase}.
 */
import { type KernelObject, loadObjectIntoKernel } from '@bpf-dispatcher/bpf-object';
import { type KernelProg, kernelBpfAvailable, kernelTestRun } from '@bpf-dispatcher/ebpf';
import { buildUdpFrame, defaultFlows } from '@bpf-dispatcher/i40e';
import { structCodec } from '@bpf-dispatcher/runtime';
import { RxqInfoConfigStruct, XdpAction, openBundledObject } from '@bpf-dispatcher/xdp-call';
import { CliError } from '../output.js';

/** A kernel case: `run(n)` runs the program n times in the kernel and returns the wall nanoseconds. */
export interface KernelCase {
  /** The case's name in the report (`kernel-test-run`, `kernel-dispatcher-N`, `kernel-full`). */
  readonly name: string;
  /** Run the program `repeat` times by `BPF_PROG_TEST_RUN`; the wall nanoseconds of the call. @throws CliError, KernelError. */
  run(repeat: number): number;
  /** The kernel's own figure (ns per run, its `duration`) of the last run. */
  lastKernelNs(): number;
  /** Check that the program counted exactly `runs` packets (its per-CPU `processed`, summed); throws otherwise. */
  verify(runs: bigint): void;
  /** Close what the case loaded. Idempotent; never throws. */
  dispose(): void;
}

/** `lo`: an ifindex the kernel accepts in a test-run's `xdp_md` (queue 0); ifindex 1 in every namespace. */
const LOOPBACK = 1;

/**
 * `xdp_rxq_info` loaded into the running kernel, configured `{ XDP_DROP, ifindex lo }`,
 * with the frame and `xdp_md` a test run passes it. Every `testRun` counts `repeat`
 * packets in the program's per-CPU `stats_global_map`.
 */
export interface KernelRxqInfo {
  /** The loaded program (its own instance: its own slot in the kernel's dispatcher, its own counters). */
  readonly prog: KernelProg;
  /** Test runs the set-up made (the checking run): `processed()` counts them too. */
  readonly checkingRuns: bigint;
  /**
   * `BPF_PROG_TEST_RUN` `repeat` times on the frame: the wall nanoseconds of the system
   * call and the kernel's own mean per run (`duration`).
   * @throws EbpfError/KernelError if the kernel refuses.
   */
  testRun(repeat: number): { readonly wallNs: number; readonly kernelNs: number };
  /** Packets the program counted (`stats_global_map`'s `processed`, summed over CPUs as bpftool does). */
  processed(): bigint;
  /** Close the program and its maps (idempotent; never throws). */
  close(): void;
}

/**
 * Load `xdp_rxq_info.bpf.o` into the kernel with the project's loader (what libbpf does),
 * configure it to drop, and check it once (one test run, which must say XDP_DROP).
 * The caller checks {@link kernelBpfAvailable} first.
 * @throws CliError UNSUPPORTED when the kernel refuses the object or the checking run
 *   does not drop (the cause carries the kernel's error).
 */
export function loadKernelRxqInfo(): KernelRxqInfo {
  const object = openBundledObject('xdp_rxq_info');
  let kernel: KernelObject | undefined;
  try {
    kernel = loadObjectIntoKernel(object);
    const config = structCodec(RxqInfoConfigStruct).encode({ action: XdpAction.DROP, ifindex: LOOPBACK, options: 0 });
    kernel.map('config_map').update(Uint8Array.of(0, 0, 0, 0), config);
    const prog = kernel.program('xdp_rxq_info');
    const stats = kernel.map('stats_global_map');
    const flow = defaultFlows(1)[0];
    if (flow === undefined) throw new CliError('UNSUPPORTED', 'the bench flow is missing');
    const data = buildUdpFrame(flow);
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    const ctx = new Uint8Array(24);
    const view = new DataView(ctx.buffer);
    view.setUint32(4, data.length, true);
    view.setUint32(12, LOOPBACK, true);
    const check = kernelTestRun(prog, { data, ctx, repeat: 1 });
    if (check.retval !== XdpAction.DROP)
      throw new CliError('UNSUPPORTED', `the kernel's xdp_rxq_info returned ${check.retval}, expected XDP_DROP (${XdpAction.DROP})`);
    const loaded = kernel;
    let closed = false;
    return {
      prog,
      checkingRuns: 1n,
      testRun: (repeat) => {
        const start = process.hrtime.bigint();
        const r = kernelTestRun(prog, { data, ctx, repeat });
        const wallNs = Number(process.hrtime.bigint() - start);
        return { wallNs, kernelNs: r.durationNs };
      },
      processed: () => {
        // struct datarec { u64 processed; u64 issue; } per CPU
        const value = stats.lookup(Uint8Array.of(0, 0, 0, 0));
        let processed = 0n;
        if (value !== undefined)
          for (let at = 0; at + 16 <= value.length; at += 16)
            processed += new DataView(value.buffer, value.byteOffset + at).getBigUint64(0, true);
        return processed;
      },
      close: () => {
        if (closed) return;
        closed = true;
        loaded.close();
        void object.close();
      },
    };
  } catch (error) {
    kernel?.close();
    void object.close();
    if (CliError.isInstance(error)) throw error;
    throw new CliError('UNSUPPORTED', `cannot load xdp_rxq_info into the kernel: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
}

/** Hooks of {@link rxqInfoKernelCase}. */
export interface RxqInfoKernelCaseHooks {
  /** Called before each timed run (untimed): bring the kernel into the state the case measures. */
  readonly prepare?: (repeat: number) => void;
  /** Called by `dispose()` after the program is closed. */
  readonly dispose?: () => void;
}

/**
 * A timed kernel case over one loaded program: `run(repeat)` calls `hooks.prepare`, then
 * times `BPF_PROG_TEST_RUN` with `repeat` runs and returns the wall nanoseconds;
 * `verify(runs)` checks the program's counter is exactly `runs` plus the checking runs;
 * `dispose()` closes the program (idempotent).
 * @throws (verify) CliError UNSUPPORTED when the counter is off.
 */
export function rxqInfoKernelCase(name: string, loaded: KernelRxqInfo, hooks: RxqInfoKernelCaseHooks = {}): KernelCase {
  let last = 0;
  let disposed = false;
  return {
    name,
    run: (repeat) => {
      if (disposed) throw new CliError('INVALID_INPUT', `${name}: run after dispose()`);
      hooks.prepare?.(repeat);
      const { wallNs, kernelNs } = loaded.testRun(repeat);
      last = kernelNs;
      return wallNs;
    },
    lastKernelNs: () => last,
    verify: (runs) => {
      const processed = loaded.processed();
      const expected = runs + loaded.checkingRuns;
      if (processed !== expected)
        throw new CliError(
          'UNSUPPORTED',
          `${name}: xdp_rxq_info counted ${processed} packets, expected ${expected} (${runs} measured, ${loaded.checkingRuns} checking)`,
        );
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      loaded.close();
      hooks.dispose?.();
    },
  };
}

/** The kernel case `kernel-test-run` (nothing else attached), or the reason it cannot run here (no bpf(), not Linux). */
export function kernelRxqInfoCase(): KernelCase | { readonly skipped: string } {
  const available = kernelBpfAvailable();
  if (!available.ok) return { skipped: `bpf() is not usable here: ${available.reason}` };
  return rxqInfoKernelCase('kernel-test-run', loadKernelRxqInfo());
}
