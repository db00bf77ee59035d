/**
 * The veth benchmark's rounds (issue 14): in a private namespace with one veth pair,
 * the kernel's live-frame generator on one CPU sends 64-byte UDP frames from `peer0`; they
 * arrive at `xsk0`, where either our device (an AF_XDP socket, the kernel redirect, our
 * JIT'd poll loop on the other CPU running xdp_rxq_info through the dispatcher) or a kernel
 * program (`kernel-native`: the same object natively; `veth-xdp-drop`: XDP_DROP) takes
 * them, or the generator drops its frames itself (`generator-only`). Every case runs once per round, in an order rotated each round, all on the same
 * veth with the same generator; every frame is accounted for (processed, or a drop the
 * kernel reported) and checked.
 */
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { kernelBpfAvailable } from '@bpf-dispatcher/ebpf';
import { buildUdpFrame } from '@bpf-dispatcher/i40e';
import { createTestNetns, netnsSupport, type TestNetns } from '@bpf-dispatcher/i40e/testbed';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { pinToCpu } from './pin.js';
import { type CpuTicks, cpuDelta, ksoftirqdPid, readCpuTicks, taskRunNs, threadCpuTicks, threadSchedNs } from './veth-cpu.js';
import { Generator } from './veth-generator.js';
import { generatorOnlyCase, type KernelCase, type KernelCaseName, kernelNativeCase, vethXdpDropCase } from './veth-kernel.js';
import { OUR_CASES, type OurCaseName, type OurDevice, ourDevice } from './veth-ours.js';

/** How much to measure. */
export interface VethConfig {
  /** Rounds; every case runs once per round. */
  readonly rounds: number;
  /** Generator calls per case and round, of {@link VethConfig.repeat} frames each. */
  readonly calls: number;
  readonly repeat: number;
  /** Frames sent (and processed) before each case's measurement. */
  readonly warmup: number;
  /** The live-frame generator's batch (frames per softirq run of xsk0's NAPI). */
  readonly batchSize: number;
  /** Entries of each socket ring and frames of the UMEM. */
  readonly ringSize: number;
  readonly frameLength: number;
  /** Bursts per case and round timed as our loop drains them alone (0: none), of {@link VethConfig.drainFrames} frames. */
  readonly drainBursts: number;
  readonly drainFrames: number;
  /** 10 ms waits for the last frames before a case gives up on them (then the accounting check fails). */
  readonly quietLimit: number;
}

/** `bench-veth`: 15 rounds of 5,000,000 frames per case. */
export const VETH_FULL: VethConfig = Object.freeze({
  rounds: 15,
  calls: 5,
  repeat: 1_000_000,
  warmup: 200_000,
  batchSize: 64,
  ringSize: 2048,
  frameLength: 64,
  drainBursts: 16,
  drainFrames: 1024,
  quietLimit: 300,
});

/** `bench-veth --quick`: 5 rounds of 1,000,000 frames per case. */
export const VETH_QUICK: VethConfig = Object.freeze({
  ...VETH_FULL,
  rounds: 5,
  calls: 2,
  repeat: 500_000,
  warmup: 100_000,
  drainBursts: 8,
});

/** Every case, in the order of the first round. */
export const VETH_CASES = Object.freeze(['kernel-native', ...OUR_CASES, 'veth-xdp-drop', 'generator-only'] as const);
/** One of {@link VETH_CASES}. */
export type VethCaseName = (typeof VETH_CASES)[number];

const isOurs = (name: VethCaseName): name is OurCaseName => (OUR_CASES as readonly string[]).includes(name);

/** A thread's CPU time over a measurement: ticks (`/proc/thread-self/stat`), nanoseconds (`/proc/thread-self/schedstat`). */
export interface ThreadTime {
  readonly user: number;
  readonly system: number;
  readonly run_ns: number;
  readonly wait_ns: number;
}

/** One case's measurement in one round. */
export interface VethSample {
  readonly round: number;
  /** Frames the generator sent. */
  readonly sent: number;
  /** Frames that reached xsk0's XDP (its rx_packets). */
  readonly arrived: number;
  /** Packets the program ran on (ours: our loop; kernel-native: its counter; veth-xdp-drop: arrivals; generator-only: frames sent). */
  readonly processed: number;
  /** Frames the kernel reported dropped: veth before XDP (sent − arrived), the socket's (no fill-ring frame, rx ring full). */
  readonly drops: { readonly veth: number; readonly xsk_no_fill_frame: number; readonly xsk_rx_ring_full: number };
  /**
   * Our cases: UMEM frames our loop could not give back because the fill ring looked full
   * (its `fillFull`): the kernel publishes its fill-ring consumer index only when it
   * refreshes its cached view, and the device's fill ring has exactly as many entries as
   * the UMEM has frames. Each is lost to the socket for the rest of its life. Counted over
   * the device's life (warm-up, measurement, drains).
   */
  readonly lost_umem_frames?: number;
  /** Wall time of the generator's calls. */
  readonly generator_ns: number;
  /** From the first frame to the last one processed (kernel cases: the generator's time). */
  readonly elapsed_ns: number;
  /** processed / elapsed. */
  readonly mpps: number;
  /** The kernel's own mean per frame over its calls (`BPF_PROG_TEST_RUN` duration; softirq included). */
  readonly kernel_reported_ns: number;
  /** Nanoseconds `ksoftirqd` of the generator's CPU ran over the measurement: xsk0's NAPI work it took over from the generator thread. */
  readonly ksoftirqd_ns: number;
  /** Ticks of the generator's CPU and of the loop's CPU over the measurement (`/proc/stat`). */
  readonly cpu: { readonly generator: CpuTicks; readonly loop: CpuTicks };
  /** The generator thread itself: ticks (utime, stime) and nanoseconds running (its softirqs included) and waiting, runnable, for its CPU. */
  readonly generator_thread: ThreadTime;
  /** Our cases: what the poll loop did. */
  readonly loop?: {
    readonly calls: number;
    readonly idle_calls: number;
    /** Native polls (the ring's counter); each call ends with one empty poll. */
    readonly polls: number;
    readonly busy_ns: number;
    readonly busy_ns_per_packet: number;
    /** Time in calls that processed packets / elapsed. */
    readonly busy_fraction: number;
    /** The loop thread's time (as the generator's). */
    readonly thread: ThreadTime;
    readonly waits: number;
  };
  /** Our cases: the loop alone, draining bursts the kernel had put on the ring (ns per packet, complete bursts). */
  readonly drain?: { readonly ns_per_packet: readonly number[]; readonly incomplete: number };
  /** Making the device (ours) or attaching the program (kernel). */
  readonly setup_ms: number;
}

/** What {@link runVeth} measured. */
export interface VethRun {
  readonly config: VethConfig;
  /**
   * Per round, before its cases: the round trip of a cache line between the two CPUs
   * (ns; see `Generator.pingPong`) — how far apart the host had put them, which moves
   * every cost that crosses between them (our rings). NaN where the threads do not have
   * a CPU each.
   */
  readonly rounds: readonly { readonly round: number; readonly cross_cpu_round_trip_ns: number }[];
  /** Where the threads were pinned (null: not pinned). */
  readonly cpus: { readonly loop: number | null; readonly generator: number | null };
  readonly samples: ReadonlyMap<VethCaseName, readonly VethSample[]>;
}

/** Whether the benchmark can run here, and if not, why. */
export type VethSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const require = createRequire(import.meta.url);

/** `socket(AF_XDP, SOCK_RAW, 0)` once: null when the kernel gives one, else the reason. */
function afXdpRefusal(): string | null {
  try {
    const koffi = require('koffi') as { load(path: string): { func(signature: string): (...args: unknown[]) => number }; errno(): number };
    const libc = koffi.load('libc.so.6');
    const fd = libc.func('int socket(int domain, int type, int protocol)')(44, 3, 0);
    if (fd < 0) return `socket(AF_XDP) failed (errno ${koffi.errno()})`;
    libc.func('int close(int fd)')(fd);
    return null;
  } catch (error) {
    return `socket(AF_XDP): ${(error as Error).message}`;
  }
}

/** Native arena, namespaces and veth, bpf(), AF_XDP: the first that is missing, or ok. Never throws. */
export function vethSupport(): VethSupport {
  if (!nativeSupported())
    return { ok: false, reason: `the native arena is needed (x86-64 Linux); this is ${process.platform}/${process.arch}` };
  const netns = netnsSupport();
  if (!netns.ok) return { ok: false, reason: netns.reason };
  const bpf = kernelBpfAvailable();
  if (!bpf.ok) return { ok: false, reason: `bpf() is not usable here: ${bpf.reason}` };
  const xdp = afXdpRefusal();
  return xdp === null ? { ok: true } : { ok: false, reason: xdp };
}

/** Round trips timed per round between the two CPUs. */
const PING_PONG = 50_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The context every case runs in. */
interface Bed {
  readonly ns: TestNetns;
  readonly generator: Generator;
  readonly config: VethConfig;
  readonly cpus: VethRun['cpus'];
  /** `ksoftirqd` of the generator's CPU. */
  readonly ksoftirqd: number | null;
}

function check(ok: boolean, name: string, round: number, what: string): void {
  if (!ok) throw new Error(`bench-veth ${name}, round ${round + 1}: ${what}`);
}

/** Our case: make the device, warm up, measure, check every counter, time the drains, take it down. */
async function runOurs(bed: Bed, name: OurCaseName, round: number): Promise<VethSample> {
  const { ns, generator, config } = bed;
  const setupStart = performance.now();
  const our: OurDevice = await ourDevice(name, ns.rx, config.ringSize);
  const setupMs = performance.now() - setupStart;
  try {
    if (config.warmup > 0) await our.pump(generator.send(1, config.warmup, config.batchSize), config.quietLimit);
    const link0 = ns.linkStats(ns.rx.name);
    const c0 = our.counters();
    const cpu0 = readCpuTicks();
    const thread0 = threadCpuTicks();
    const sched0 = threadSchedNs();
    const soft0 = taskRunNs(bed.ksoftirqd);
    const sending = generator.send(config.calls, config.repeat, config.batchSize);
    const pump = await our.pump(sending, config.quietLimit);
    const soft1 = taskRunNs(bed.ksoftirqd);
    const sched1 = threadSchedNs();
    const thread1 = threadCpuTicks();
    const cpu1 = readCpuTicks();
    const reply = await sending.result();
    const c1 = our.counters();
    const link1 = ns.linkStats(ns.rx.name);
    const sent = reply.frames;
    const arrived = link1.rxPackets - link0.rxPackets;
    const noFill = Number(c1.xsk.rxDropped - c0.xsk.rxDropped);
    const ringFull = Number(c1.xsk.rxRingFull - c0.xsk.rxRingFull);
    const n = BigInt(pump.processed);
    check(
      pump.processed === arrived - noFill - ringFull,
      name,
      round,
      `processed ${pump.processed}, but ${arrived} frames arrived and the socket dropped ${noFill + ringFull}`,
    );
    check(
      c1.ring.packets - c0.ring.packets === n && c1.ring.actions.DROP - c0.ring.actions.DROP === n,
      name,
      round,
      `the ring counted ${c1.ring.packets - c0.ring.packets} packets, ${c1.ring.actions.DROP - c0.ring.actions.DROP} dropped; the loop returned ${n}`,
    );
    check(
      c1.prog.processed - c0.prog.processed === n && c1.prog.issue === c0.prog.issue,
      name,
      round,
      `xdp_rxq_info counted ${c1.prog.processed - c0.prog.processed} (${c1.prog.issue - c0.prog.issue} issues) of ${n}`,
    );
    const faults = { errors: c1.ring.errors, noProg: c1.ring.noProg, rxInvalidDescs: c1.xsk.rxInvalidDescs };
    check(
      Object.values(faults).every((v) => v === 0n),
      name,
      round,
      `unexpected counts ${Object.entries(faults)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    const startNs = sending.startNs();
    const endNs = sending.endNs();
    const elapsed = Math.max(1, Number(pump.lastNs - startNs));
    const drain = config.drainBursts > 0 ? await our.drain(generator, config.drainBursts, config.drainFrames, config.batchSize) : undefined;
    const c2 = our.counters();
    const drained = Number(c2.ring.packets - c1.ring.packets);
    check(drained === (drain?.processed ?? 0), name, round, `the drains processed ${drain?.processed ?? 0}, the ring counted ${drained}`);
    const polls = Number(c1.ring.polls - c0.ring.polls);
    return {
      round,
      sent,
      arrived,
      processed: pump.processed,
      drops: { veth: sent - arrived, xsk_no_fill_frame: noFill, xsk_rx_ring_full: ringFull },
      lost_umem_frames: Number(c2.xsk.fillFull),
      generator_ns: Number(endNs - startNs),
      elapsed_ns: elapsed,
      mpps: (pump.processed / elapsed) * 1e3,
      kernel_reported_ns: mean(reply.kernelNs),
      ksoftirqd_ns: soft1 - soft0,
      cpu: { generator: cpuDelta(cpu0, cpu1, bed.cpus.generator), loop: cpuDelta(cpu0, cpu1, bed.cpus.loop) },
      generator_thread: threadTime(reply),
      loop: {
        calls: pump.calls,
        idle_calls: pump.idleCalls,
        polls,
        busy_ns: pump.busyNs,
        busy_ns_per_packet: pump.processed > 0 ? pump.busyNs / pump.processed : 0,
        busy_fraction: pump.busyNs / elapsed,
        thread: {
          user: thread1.user - thread0.user,
          system: thread1.system - thread0.system,
          run_ns: sched1.run - sched0.run,
          wait_ns: sched1.wait - sched0.wait,
        },
        waits: pump.waits,
      },
      ...(drain === undefined ? {} : { drain: { ns_per_packet: drain.nsPerPacket, incomplete: drain.incomplete } }),
      setup_ms: setupMs,
    };
  } finally {
    await our.dispose();
  }
}

/** Link statistics of xsk0 once every frame sent is accounted for (arrived or dropped by veth), bounded by a count of 10 ms waits. */
async function settledLink(ns: TestNetns, before: ReturnType<TestNetns['linkStats']>, sent: number, waits: number) {
  let link = ns.linkStats(ns.rx.name);
  for (let i = 0; i < waits && link.rxPackets - before.rxPackets + link.rxDropped - before.rxDropped < sent; i++) {
    await sleep(10);
    link = ns.linkStats(ns.rx.name);
  }
  return link;
}

/** A kernel case: attach, warm up, measure, check, detach. */
async function runKernel(bed: Bed, kc: KernelCase, round: number): Promise<VethSample> {
  const { ns, generator, config } = bed;
  const setupStart = performance.now();
  kc.attach();
  const setupMs = performance.now() - setupStart;
  try {
    const linkW = ns.linkStats(ns.rx.name);
    const toXsk0 = kc.program === 'tx';
    if (config.warmup > 0) await generator.send(1, config.warmup, config.batchSize, kc.program).result();
    const link0 = await settledLink(ns, linkW, toXsk0 ? config.warmup : 0, config.quietLimit);
    const counted0 = kc.counted();
    const cpu0 = readCpuTicks();
    const soft0 = taskRunNs(bed.ksoftirqd);
    const sending = generator.send(config.calls, config.repeat, config.batchSize, kc.program);
    const reply = await sending.result();
    const soft1 = taskRunNs(bed.ksoftirqd);
    const cpu1 = readCpuTicks();
    const link1 = await settledLink(ns, link0, toXsk0 ? reply.frames : 0, config.quietLimit);
    const counted1 = kc.counted();
    const sent = reply.frames;
    const arrived = link1.rxPackets - link0.rxPackets;
    // generator-only: the generator's program ran on every frame and dropped it on peer0; none may reach xsk0
    if (!toXsk0) check(arrived === 0, kc.name, round, `${arrived} frames reached xsk0`);
    let processed = toXsk0 ? arrived : sent;
    if (counted0 !== null && counted1 !== null) {
      processed = Number(counted1.processed - counted0.processed);
      check(
        processed === arrived && counted1.issue === counted0.issue,
        kc.name,
        round,
        `xdp_rxq_info counted ${processed} (${counted1.issue - counted0.issue} issues); ${arrived} frames arrived`,
      );
    }
    const elapsed = Math.max(1, Number(sending.endNs() - sending.startNs()));
    return {
      round,
      sent,
      arrived,
      processed,
      drops: { veth: toXsk0 ? sent - arrived : 0, xsk_no_fill_frame: 0, xsk_rx_ring_full: 0 },
      generator_ns: elapsed,
      elapsed_ns: elapsed,
      mpps: (processed / elapsed) * 1e3,
      kernel_reported_ns: mean(reply.kernelNs),
      ksoftirqd_ns: soft1 - soft0,
      cpu: { generator: cpuDelta(cpu0, cpu1, bed.cpus.generator), loop: cpuDelta(cpu0, cpu1, bed.cpus.loop) },
      generator_thread: threadTime(reply),
      setup_ms: setupMs,
    };
  } finally {
    kc.detach();
  }
}

const threadTime = (reply: { cpuTicks: { user: number; system: number }; schedNs: { run: number; wait: number } }): ThreadTime => ({
  ...reply.cpuTicks,
  run_ns: reply.schedNs.run,
  wait_ns: reply.schedNs.wait,
});

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * Run the benchmark: `config.rounds` rounds of every case in {@link VETH_CASES}, the order
 * rotated by one each round. The calling thread pins itself to the last CPU (our loop's),
 * the generator thread to CPU 0. `progress(done, total)` after each case.
 * Returns the reason instead where {@link vethSupport} says no or the generator cannot start.
 * @throws Error when a frame is unaccounted for or a counter disagrees (the message says which), or a step fails.
 */
export async function runVeth(
  config: VethConfig,
  progress: (done: number, total: number) => void = () => {},
): Promise<VethRun | { readonly skipped: string }> {
  const support = vethSupport();
  if (!support.ok) return { skipped: support.reason };
  const count = cpus().length;
  const loopCpu = pinToCpu(count - 1);
  const ns = createTestNetns();
  try {
    const flow = { srcMac: [...ns.peer.mac], dstMac: [...ns.rx.mac], srcIp: 0x0a00_0002, dstIp: 0x0a00_0001, srcPort: 1000, dstPort: 2000 };
    const frame = buildUdpFrame(flow, config.frameLength, 0);
    let generator: Generator;
    try {
      generator = await Generator.start({ netns: ns.name, ifindex: ns.peer.ifindex, frame, cpu: count > 1 ? 0 : null });
    } catch (error) {
      return { skipped: `the kernel's live-frame generator cannot run here: ${(error as Error).message}` };
    }
    const bed: Bed = { ns, generator, config, cpus: { loop: loopCpu, generator: generator.cpu }, ksoftirqd: ksoftirqdPid(generator.cpu) };
    const kernel = new Map<KernelCaseName, KernelCase>();
    try {
      kernel.set('kernel-native', kernelNativeCase(ns.rx.ifindex));
      kernel.set('veth-xdp-drop', vethXdpDropCase(ns.rx.ifindex));
      kernel.set('generator-only', generatorOnlyCase());
      const samples = new Map<VethCaseName, VethSample[]>(VETH_CASES.map((c) => [c, []]));
      const total = config.rounds * VETH_CASES.length;
      let done = 0;
      const rounds: { round: number; cross_cpu_round_trip_ns: number }[] = [];
      for (let round = 0; round < config.rounds; round++) {
        // both threads spin: only when each has a CPU of its own
        let trip = Number.NaN;
        if (bed.cpus.loop !== null && bed.cpus.generator !== null && bed.cpus.loop !== bed.cpus.generator) {
          await generator.pingPong(PING_PONG / 5); // warm-up (the JIT compiles the loops)
          trip = await generator.pingPong(PING_PONG);
        }
        rounds.push({ round, cross_cpu_round_trip_ns: trip });
        for (let k = 0; k < VETH_CASES.length; k++) {
          const name = VETH_CASES[(round + k) % VETH_CASES.length] as VethCaseName;
          const sample = isOurs(name) ? await runOurs(bed, name, round) : await runKernel(bed, kernel.get(name) as KernelCase, round);
          samples.get(name)?.push(sample);
          progress(++done, total);
        }
      }
      return { config, cpus: bed.cpus, rounds, samples };
    } finally {
      for (const kc of kernel.values()) kc.dispose();
      await generator.stop();
    }
  } finally {
    ns.close();
  }
}
