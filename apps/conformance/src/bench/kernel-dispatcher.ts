/**
 * The kernel's own XDP dispatcher table, measured: the running kernel has the dispatcher
 * this project brings to user space (`BPF_DISPATCHER_FUNC(xdp)`, kernel/bpf/dispatcher.c),
 * with {@link KERNEL_DISPATCHER_SLOTS} slots. `BPF_PROG_TEST_RUN` of an XDP program with
 * `repeat > 1` first adds the program to that dispatcher (`bpf_prog_change_xdp(NULL, prog)`)
 * and calls it through it; every XDP program attached to a netdev holds a slot as well.
 *
 * So `kernel-dispatcher-N` test-runs `xdp_rxq_info` (the bench's program, as in
 * `kernel-case.ts`) while N-1 other programs are attached: the dispatcher then has N
 * entries and the call is a direct one after a walk of its tree. `kernel-full` runs it
 * while 48 others hold every slot: the program gets none, the walk finds nothing, and the
 * call falls back to the retpolined indirect call.
 *
 * The others are 48 distinct `r0 = XDP_PASS; exit` programs (distinct instances, so each
 * takes its own slot) attached in driver mode with `BPF_LINK_CREATE` to the 48 ends of 24
 * veth pairs in a private network namespace (the i40e test bed), so nothing of the host's
 * is touched. They are attached and detached incrementally, untimed, before each run.
 */
import {
  BPF_ATTACH_TYPE,
  type KernelLink,
  type KernelProg,
  XDP_FLAGS,
  kernelBpfAvailable,
  kernelLinkCreate,
  kernelProgInfo,
  kernelProgLoad,
} from '@bpf-dispatcher/ebpf';
import { XdpAction } from '@bpf-dispatcher/xdp-call';
import { type TestNetns, type VethEnd, createTestNetns, netnsSupport } from '@bpf-dispatcher/i40e/testbed';
import { CliError } from '../output.js';
import { type KernelCase, type KernelRxqInfo, loadKernelRxqInfo, rxqInfoKernelCase } from './kernel-case.js';

/**
 * The kernel dispatcher's slot count, `BPF_DISPATCHER_MAX` in include/linux/bpf.h (48, "fits
 * in 2048B"). Measured on Linux 6.18 here: with 47 others attached the test-run program
 * still gets a slot, with 48 it does not.
 */
export const KERNEL_DISPATCHER_SLOTS = 48;

/** Veth pairs of the namespace: two netdevs each, one attached program per netdev. */
const PAIRS = KERNEL_DISPATCHER_SLOTS / 2;

/** One case of the bench: a {@link KernelCase} and the kernel state it measures. */
export interface KernelDispatcherCase extends KernelCase {
  /** N of `kernel-dispatcher-N` (the dispatcher's entries while it runs), null for `kernel-full`. */
  readonly entries: number | null;
  /** Other programs attached while it runs: N-1, or 48 for `kernel-full`. */
  readonly others: number;
}

/** One of the others, attached: what the kernel says about its link (`BPF_OBJ_GET_INFO_BY_FD`). */
export interface KernelDispatcherAttachment {
  /** The veth end (inside the bench's namespace). */
  readonly device: string;
  /** The veth end's ifindex (in the bench's namespace). */
  readonly ifindex: number;
  /** The attached program's id (`ip link` shows it as `prog/xdp id`). */
  readonly progId: number;
  /** The link's id (system-wide). */
  readonly linkId: number;
  /** The netdev the kernel has the link on (0 once detached from it). */
  readonly linkIfindex: number;
}

/** What {@link kernelDispatcherCases} builds. */
export interface KernelDispatcherBench {
  /** `kernel-dispatcher-N` for each requested N (the measured program plus N-1 others attached), then `kernel-full` (48 others attached). */
  readonly cases: readonly KernelDispatcherCase[];
  /** The private network namespace holding the 48 veth ends (`ip netns list`). */
  readonly namespace: string;
  /** How many of the others are attached now. */
  attached(): number;
  /**
   * The others attached now, as the kernel reports their links.
   * @throws KernelError if the kernel refuses `BPF_OBJ_GET_INFO_BY_FD`.
   */
  attachments(): readonly KernelDispatcherAttachment[];
  /**
   * Attach or detach others (incrementally, the last attached first) until `count` are
   * attached; what each case's `run` does before it times. Exposed for checks.
   * @throws CliError INVALID_INPUT for a count outside 0..48 or after dispose; UNSUPPORTED
   *   when the kernel refuses an attachment (the cause carries its errno).
   */
  attach(count: number): void;
  /** Detach and unload everything (links, the others, every case's program), delete the namespace. Idempotent; never throws. */
  dispose(): void;
}

/** Options of {@link kernelDispatcherCases}. */
export interface KernelDispatcherOptions {
  /** The dispatcher entries to measure, each 1..48 and distinct (e.g. 1..16 and 48); one `kernel-dispatcher-N` case each, in this order. */
  readonly entries: readonly number[];
}

/** Never throws: used on the way out. */
function quietly(f: () => void): void {
  try {
    f();
  } catch {
    // keep cleaning up
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

function checkEntries(entries: unknown): readonly number[] {
  if (!Array.isArray(entries) || entries.length === 0)
    throw new CliError('INVALID_INPUT', 'kernelDispatcherCases: entries must be a non-empty array of numbers');
  for (const n of entries)
    if (!Number.isInteger(n) || n < 1 || n > KERNEL_DISPATCHER_SLOTS)
      throw new CliError('INVALID_INPUT', `kernelDispatcherCases: an entry count must be 1..${KERNEL_DISPATCHER_SLOTS}, got ${String(n)}`);
  if (new Set(entries).size !== entries.length) throw new CliError('INVALID_INPUT', 'kernelDispatcherCases: entry counts must be distinct');
  return entries as readonly number[];
}

/** `r0 = XDP_PASS; exit`, loaded as its own instance (`kd_pass_<i>`). */
function loadOther(index: number): KernelProg {
  return kernelProgLoad(
    [
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: XdpAction.PASS },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
    { progType: 'xdp', name: `kd_pass_${index}`, expectedAttachType: BPF_ATTACH_TYPE.xdp },
  );
}

/**
 * Build the bench: a private namespace with 24 veth pairs, 48 other programs loaded (none
 * attached yet), and one `xdp_rxq_info` instance per case (each its own counter, checked
 * once). Each case's `run(repeat)` first attaches or detaches others until the case's count
 * is attached (untimed), then times `BPF_PROG_TEST_RUN`; `repeat` must be ≥ 2, as with 1
 * the kernel does not add the program to its dispatcher. Call `dispose()` when done.
 * @returns the bench, or `{ skipped }` where bpf() is refused or namespaces cannot be made.
 * @throws CliError INVALID_INPUT for bad entries; UNSUPPORTED when the kernel refuses a
 *   program, the namespace or a driver-mode attachment (everything made is removed first).
 */
export function kernelDispatcherCases(options: KernelDispatcherOptions): KernelDispatcherBench | { readonly skipped: string } {
  if (typeof options !== 'object' || options === null)
    throw new CliError('INVALID_INPUT', 'kernelDispatcherCases: options must be an object');
  const entries = checkEntries(options.entries);
  const bpf = kernelBpfAvailable();
  if (!bpf.ok) return { skipped: `bpf() is not usable here: ${bpf.reason}` };
  const netns = netnsSupport();
  if (!netns.ok) return { skipped: `no private network namespace with veth pairs: ${netns.reason}` };

  let ns: TestNetns | undefined;
  const others: KernelProg[] = [];
  const links: KernelLink[] = [];
  const loaded: KernelRxqInfo[] = [];
  const cases: KernelDispatcherCase[] = [];
  let devices: readonly VethEnd[] = [];
  let disposed = false;

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    for (const c of cases) quietly(() => c.dispose());
    for (const l of loaded) quietly(() => l.close());
    for (const link of links.splice(0).reverse()) quietly(() => link.close());
    for (const prog of others.splice(0)) quietly(() => prog.close());
    quietly(() => ns?.close());
  };

  const attach = (count: number) => {
    if (disposed) throw new CliError('INVALID_INPUT', 'kernel-dispatcher: used after dispose()');
    if (!Number.isInteger(count) || count < 0 || count > KERNEL_DISPATCHER_SLOTS)
      throw new CliError('INVALID_INPUT', `kernel-dispatcher: others attached must be 0..${KERNEL_DISPATCHER_SLOTS}, got ${String(count)}`);
    while (links.length > count) links.pop()?.close();
    if (links.length === count) return;
    const env = ns as TestNetns;
    // BPF_LINK_CREATE resolves target_ifindex in the calling thread's namespace
    try {
      env.enter();
    } catch (error) {
      throw new CliError('UNSUPPORTED', `kernel-dispatcher: cannot enter ${env.name}: ${firstLine(error)}`, { cause: error });
    }
    try {
      while (links.length < count) {
        const i = links.length;
        const device = devices[i] as VethEnd;
        try {
          links.push(kernelLinkCreate(others[i] as KernelProg, { targetIfindex: device.ifindex, flags: XDP_FLAGS.DRV_MODE }));
        } catch (error) {
          const why = `kernel-dispatcher: cannot attach kd_pass_${i} to ${device.name} in driver mode: ${firstLine(error)}`;
          throw new CliError('UNSUPPORTED', why, { cause: error });
        }
      }
    } finally {
      env.leave();
    }
  };

  const attachments = (): readonly KernelDispatcherAttachment[] =>
    links.map((link, i) => {
      const info = link.info();
      const device = devices[i] as VethEnd;
      return Object.freeze({
        device: device.name,
        ifindex: device.ifindex,
        progId: info.progId,
        linkId: info.id,
        linkIfindex: info.ifindex,
      });
    });

  const checkRepeat = (name: string, repeat: number) => {
    if (!Number.isInteger(repeat) || repeat < 2 || repeat > 0xffff_ffff)
      throw new CliError(
        'INVALID_INPUT',
        `${name}: repeat must be 2..2^32-1, got ${String(repeat)} (with 1 the kernel does not add the program to its dispatcher)`,
      );
  };

  try {
    try {
      ns = createTestNetns({ pairs: PAIRS, enter: false });
    } catch (error) {
      throw new CliError('UNSUPPORTED', `kernel-dispatcher: cannot make the test namespace: ${firstLine(error)}`, { cause: error });
    }
    devices = ns.pairs.flatMap((p) => [p.rx, p.peer]);
    for (let i = 0; i < KERNEL_DISPATCHER_SLOTS; i++) {
      try {
        others.push(loadOther(i));
      } catch (error) {
        throw new CliError('UNSUPPORTED', `kernel-dispatcher: the kernel refused kd_pass_${i}: ${firstLine(error)}`, { cause: error });
      }
    }
    // fail here rather than in a timed round if driver-mode links are refused
    attach(1);
    const first = attachments()[0];
    if (first === undefined || first.linkIfindex !== first.ifindex || first.progId !== kernelProgInfo(others[0] as KernelProg).id)
      throw new CliError('UNSUPPORTED', `kernel-dispatcher: the kernel does not report kd_pass_0's link on ${devices[0]?.name}`);
    const specs: { name: string; entries: number | null; others: number }[] = [
      ...entries.map((n) => ({ name: `kernel-dispatcher-${n}`, entries: n, others: n - 1 })),
      { name: 'kernel-full', entries: null, others: KERNEL_DISPATCHER_SLOTS },
    ];
    for (const spec of specs) {
      const program = loadKernelRxqInfo();
      loaded.push(program);
      const c = rxqInfoKernelCase(spec.name, program, {
        prepare: (repeat) => {
          checkRepeat(spec.name, repeat);
          attach(spec.others);
        },
      });
      cases.push(Object.freeze({ ...c, entries: spec.entries, others: spec.others }));
    }
  } catch (error) {
    dispose();
    throw error;
  }
  return Object.freeze({
    cases: Object.freeze([...cases]),
    namespace: ns.name,
    attached: () => links.length,
    attachments,
    attach,
    dispose,
  });
}
