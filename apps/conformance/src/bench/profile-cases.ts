/**
 * The profile-guided dispatch cases of the benchmark (group `profile`): the dispatcher's
 * `profile` layout against the kernel's, in the packet cases' setting (64-byte UDP
 * traffic through the i40e poll loop into the eBPF `xdp_rxq_info`, action DROP):
 *
 * - `profile-hot-16`: `dispatcher-16` (the traffic's program and 15 others slotted) with the
 *   image laid out by the weights measured over a warm-up run — all traffic on one program,
 *   so it is probed first: `cmp; je` at the image start, as `dispatcher-1` runs;
 * - `zipf-{kernel,profile}-16`, `uniform-{kernel,profile}-16`: 16 netdevs, each with its own
 *   `xdp_rxq_info`, polled one packet at a time (budget 1) in a fixed pseudo-random order
 *   of rings — {@link SEQUENCE_LENGTH} draws from Zipf(s = 1) or the uniform distribution —
 *   so the program changes from packet to packet; with the kernel's layout or the profile
 *   layout weighed by a warm-up run (`I40eDevice.profileDispatcher`).
 *
 * Each case counts its packets exactly: `verify` checks every program's count against the
 * sequence. {@link profileInstructionsPerPacket} counts the instructions per packet of the
 * same machine code on the simulated CPU.
 */
import { expectedInstructions, planProfileDispatcher } from '@bpf-dispatcher/dispatcher';
import { I40eDevice, type RxRing, i40eXdpSetup } from '@bpf-dispatcher/i40e';
import { NativeArena, SimulatedArena, type TextArena, callNative } from '@bpf-dispatcher/text-poke';
import { type RxqInfoProg, XdpAction, xdpCallUpdate, xdpConstant, xdpRxqInfo } from '@bpf-dispatcher/xdp-call';
import type { PacketCase } from './packet-cases.js';

/** The cases, in the order the report lists them. */
export const PROFILE_CASES = Object.freeze([
  'profile-hot-16',
  'zipf-kernel-16',
  'zipf-profile-16',
  'uniform-kernel-16',
  'uniform-profile-16',
] as const);
/** One of {@link PROFILE_CASES}. */
export type ProfileCaseName = (typeof PROFILE_CASES)[number];

/** The traffic of the mixed cases: which distribution the rings are drawn from. */
export type TrafficDistribution = 'zipf' | 'uniform';

/** Entries of the mixed cases' ring sequence (the driver loop walks it round robin, one packet per entry). */
export const SEQUENCE_LENGTH = 4096;
/** Programs (netdevs) of every case. */
export const PROGRAMS = 16;

/** How the image was laid out when a case was set up. */
export interface DispatchInfo {
  readonly layout: 'kernel' | 'profile';
  /** Instructions per call in the image, averaged over the case's traffic; and the same with the kernel's layout. */
  readonly expectedInstructions: number;
  readonly kernelInstructions: number;
}

/** A profile case: a {@link PacketCase} with how its image was laid out. */
export interface ProfilePacketCase extends PacketCase {
  readonly name: ProfileCaseName;
  readonly dispatch: DispatchInfo;
}

/** Options of {@link profileCase} (the defaults are the benchmark's; tests use less). */
export interface ProfileCaseOptions {
  /** Packets of each warm-up run (rounded up to whole sequences for the mixed cases; default 200,704 = 49 sequences). */
  readonly warmupPackets?: number;
  /** Where to run: `native` (default; what the benchmark times) or `simulated` (for tests off x86-64 Linux: its times mean nothing). */
  readonly arena?: 'native' | 'simulated';
}

const DEFAULT_WARMUP = 49 * SEQUENCE_LENGTH;

/** A 32-bit seeded generator (mulberry32): the same sequence on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Which netdev has which popularity rank (a fixed shuffle, so that the busiest programs are
 * not simply the lowest addresses): rank r (0 = the most popular) is netdev `order[r]`.
 */
export function rankOrder(seed = 16): number[] {
  const next = random(seed);
  const order = Array.from({ length: PROGRAMS }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** The probability of each netdev (by index) under `distribution`: Zipf(s = 1) over {@link rankOrder}'s ranks, or 1/16 each. */
export function trafficShares(distribution: TrafficDistribution): number[] {
  if (distribution === 'uniform') return new Array<number>(PROGRAMS).fill(1 / PROGRAMS);
  const harmonic = Array.from({ length: PROGRAMS }, (_, r) => 1 / (r + 1)).reduce((a, b) => a + b, 0);
  const shares = new Array<number>(PROGRAMS).fill(0);
  rankOrder().forEach((netdev, rank) => {
    shares[netdev] = 1 / (rank + 1) / harmonic;
  });
  return shares;
}

/** The mixed cases' ring sequence: {@link SEQUENCE_LENGTH} netdev indexes drawn from `distribution` (seeded, deterministic). */
export function trafficSequence(
  distribution: TrafficDistribution,
  length = SEQUENCE_LENGTH,
  seed = distribution === 'zipf' ? 1 : 2,
): number[] {
  const shares = trafficShares(distribution);
  const next = random(seed);
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    let u = next();
    let netdev = PROGRAMS - 1;
    for (let k = 0; k < PROGRAMS; k++) {
      u -= shares[k] as number;
      if (u < 0) {
        netdev = k;
        break;
      }
    }
    out.push(netdev);
  }
  return out;
}

/** Packets per netdev when the driver loop runs `packets` packets over `sequence` from its start. */
export function packetsPerNetdev(sequence: readonly number[], packets: number): bigint[] {
  const counts = new Array<bigint>(PROGRAMS).fill(0n);
  const whole = BigInt(Math.floor(packets / sequence.length));
  const rest = packets % sequence.length;
  sequence.forEach((netdev, i) => {
    counts[netdev] = (counts[netdev] as bigint) + whole + (i < rest ? 1n : 0n);
  });
  return counts;
}

function specOf(
  name: ProfileCaseName,
): { kind: 'hot' } | { kind: 'mixed'; distribution: TrafficDistribution; layout: 'kernel' | 'profile' } {
  if (name === 'profile-hot-16') return { kind: 'hot' };
  const [distribution, layout] = name.split('-') as [TrafficDistribution, 'kernel' | 'profile'];
  return { kind: 'mixed', distribution, layout };
}

function checkName(name: unknown): asserts name is ProfileCaseName {
  if (!PROFILE_CASES.includes(name as ProfileCaseName))
    throw new Error(`profile case must be one of ${PROFILE_CASES.join(', ')}, got ${String(name)}`);
}

/** What the cases run: the device, its programs and how to run packets on the arena's CPU. */
interface Setup {
  readonly device: I40eDevice;
  /** The programs that see traffic (one per netdev that gets packets), by netdev index. */
  readonly progs: readonly RxqInfoProg[];
  readonly dispatch: DispatchInfo;
  /** Run `packets` packets; on the simulated arena returns the instructions executed, natively 0. */
  run(packets: number): number;
  /** The per-netdev packets a run of `packets` gives. */
  expected(packets: number): bigint[];
}

/** The live image's layout and its instructions per call under `traffic` (calls per program address). */
function dispatchInfo(device: I40eDevice, traffic: ReadonlyMap<bigint, number>): DispatchInfo {
  const dispatcher = device.xdpCall.dispatcher;
  const kernel = planProfileDispatcher(
    dispatcher.entries().map((e) => e.prog),
    [],
    { jump: device.xdpCall.trampoline.fallbackJump },
  );
  const plan = dispatcher.livePlan() ?? kernel;
  return {
    layout: plan.layout,
    expectedInstructions: expectedInstructions(plan, traffic),
    kernelInstructions: expectedInstructions(kernel, traffic),
  };
}

/** Call the driver loop at `entry` with `args` (its table, ring count, packets, budget, reader, cpu), `packets` replaced. */
function driverLoop(arena: TextArena, entry: bigint, args: readonly bigint[]): (packets: number) => number {
  const [table, count, , budget, reader, cpu] = args as [bigint, bigint, bigint, bigint, bigint, bigint];
  if (arena instanceof SimulatedArena) {
    return (packets) =>
      arena.run(
        entry,
        { rdi: table, rsi: count, rdx: BigInt(packets), rcx: budget, r8: reader, r9: cpu },
        { maxSteps: 2_000 * packets + 1_000_000 },
      ).steps;
  }
  return (packets) => {
    const done = callNative(entry, table, count, BigInt(packets), budget, reader, cpu);
    if (done !== BigInt(packets)) throw new Error(`driver loop processed ${done} of ${packets} packets`);
    return 0;
  };
}

/**
 * `profile-hot-16`: one netdev's traffic into xdp_rxq_info, 15 other programs slotted, the
 * image laid out by a warm-up run's counts (all on the one program), polled with budget 64
 * as the `dispatcher-N` cases are.
 */
async function setupHot(arena: TextArena, warmup: number): Promise<Setup> {
  const device = new I40eDevice(arena, { ringSize: arena.kind === 'native' ? 256 : 16, layout: 'profile' });
  const eth0 = device.netdevs[0] as I40eDevice['netdevs'][number];
  const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: eth0.ifindex });
  for (let i = 0; i < PROGRAMS - 1; i++) await xdpCallUpdate(device.xdpCall, null, xdpConstant(arena, XdpAction.DROP, `other_${i}`));
  await i40eXdpSetup(eth0, prog);
  if (device.xdpCall.dispatcher.numProgs !== PROGRAMS) throw new Error('profile-hot-16: expected 16 slotted programs');
  const { entry, args } = device.driverLoopCall(1, { budget: 64 });
  const run = driverLoop(arena, entry, args);
  run(warmup);
  const profile = await device.profileDispatcher();
  const plan = device.xdpCall.dispatcher.livePlan();
  const root = plan?.tree;
  if (profile.outcome?.layout !== 'profile' || root?.kind !== 'probe' || plan?.progs[root.prog] !== prog.bpfFunc) {
    throw new Error("profile-hot-16: the traffic's program is not probed at the image start");
  }
  run(Math.min(warmup, 20_000));
  const traffic = new Map([[prog.bpfFunc, 1]]);
  return { device, progs: [prog], dispatch: dispatchInfo(device, traffic), run, expected: (packets) => [BigInt(packets)] };
}

/** The mixed cases: 16 netdevs with their own xdp_rxq_info, one packet per ring of the sequence, round robin. */
async function setupMixed(
  arena: TextArena,
  distribution: TrafficDistribution,
  layout: 'kernel' | 'profile',
  warmup: number,
): Promise<Setup> {
  const device = new I40eDevice(arena, { ringSize: arena.kind === 'native' ? 64 : 16, netdevs: PROGRAMS, layout });
  const progs: RxqInfoProg[] = [];
  for (const netdev of device.netdevs) {
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: netdev.ifindex });
    progs.push(prog);
    await i40eXdpSetup(netdev, prog);
  }
  if (device.xdpCall.dispatcher.numProgs !== PROGRAMS) throw new Error(`${distribution}-${layout}-16: expected 16 slotted programs`);
  const sequence = trafficSequence(distribution);
  const rings = sequence.map((i) => device.netdevs[i]?.rings[0] as RxRing);
  // the ring table is built here, once; runs call the loop with it directly
  const { entry, args } = device.driverLoopCall(1, { rings, budget: 1 });
  const run = driverLoop(arena, entry, args);
  const whole = Math.max(1, Math.ceil(warmup / SEQUENCE_LENGTH)) * SEQUENCE_LENGTH;
  run(whole);
  if (layout === 'profile') {
    const profile = await device.profileDispatcher();
    if (profile.calls !== BigInt(whole))
      throw new Error(`${distribution}-profile-16: measured ${profile.calls} calls over a ${whole}-packet warm-up`);
  }
  run(whole);
  const traffic = new Map(
    packetsPerNetdev(sequence, SEQUENCE_LENGTH).map((count, i) => [(progs[i] as RxqInfoProg).bpfFunc, Number(count)]),
  );
  return { device, progs, dispatch: dispatchInfo(device, traffic), run, expected: (packets) => packetsPerNetdev(sequence, packets) };
}

function setup(arena: TextArena, name: ProfileCaseName, warmup: number): Promise<Setup> {
  const spec = specOf(name);
  return spec.kind === 'hot' ? setupHot(arena, warmup) : setupMixed(arena, spec.distribution, spec.layout, warmup);
}

function warmupOf(options: ProfileCaseOptions): number {
  const warmup = options.warmupPackets ?? DEFAULT_WARMUP;
  if (!Number.isSafeInteger(warmup) || warmup < 1) throw new Error(`warmupPackets must be a positive integer, got ${String(warmup)}`);
  return warmup;
}

/**
 * One profile case on the native arena, warmed up and with its counters zeroed.
 * `run(packets)` returns wall nanoseconds; `verify(expected)` checks that `expected`
 * packets were run in all and that every program counted exactly the packets the
 * sequence gave its netdev (none dropped, misrouted or counted as an issue).
 * @throws Error for an unknown name or a setup that did not come out as intended.
 */
export async function profileCase(name: ProfileCaseName, options: ProfileCaseOptions = {}): Promise<ProfilePacketCase> {
  checkName(name);
  const warmup = warmupOf(options);
  const kind = options.arena ?? 'native';
  if (kind !== 'native' && kind !== 'simulated') throw new Error(`arena must be 'native' or 'simulated', got ${String(kind)}`);
  const arena = kind === 'native' ? new NativeArena({ textSize: 1 << 20, dataSize: 32 << 20 }) : new SimulatedArena({ dataSize: 4 << 20 });
  let s: Setup;
  try {
    s = await setup(arena, name, warmup);
  } catch (error) {
    arena.dispose();
    throw error;
  }
  for (const p of s.progs) p.resetCounters();
  for (const ring of s.device.rings) ring.resetCounters();
  const runs: number[] = [];
  return {
    name,
    entries: PROGRAMS,
    dispatch: s.dispatch,
    run: (packets) => {
      const start = process.hrtime.bigint();
      s.run(packets);
      const ns = Number(process.hrtime.bigint() - start);
      runs.push(packets);
      return ns;
    },
    verify: (expected) => verifyCounts(name, s, runs, expected),
    dispose: async () => {
      await s.device.dispose();
      arena.dispose();
    },
  };
}

function verifyCounts(name: string, s: Setup, runs: readonly number[], expected: bigint): void {
  const total = runs.reduce((sum, n) => sum + BigInt(n), 0n);
  const perNetdev = new Array<bigint>(s.progs.length).fill(0n);
  for (const n of runs) {
    s.expected(n).forEach((c, i) => {
      perNetdev[i] = (perNetdev[i] as bigint) + c;
    });
  }
  const problems: string[] = [];
  if (total !== expected) problems.push(`${total} packets were run, ${expected} expected`);
  s.progs.forEach((prog, i) => {
    const netdev = s.device.netdevs[i] as I40eDevice['netdevs'][number];
    const ring = s.device.totals(netdev.rings);
    const counted = prog.counters();
    const want = perNetdev[i] as bigint;
    if (
      counted.processed !== want ||
      counted.issue !== 0n ||
      ring.packets !== want ||
      ring.actions.DROP !== want ||
      ring.errors !== 0n ||
      ring.noProg !== 0n
    ) {
      problems.push(
        `${netdev.name}: expected ${want} packets dropped by its xdp_rxq_info; the ring saw ${ring.packets} (${ring.actions.DROP} dropped), the program counted ${counted.processed} (${counted.issue} issues)`,
      );
    }
  });
  const all = s.device.totals();
  if (all.packets !== total) problems.push(`the device's rings saw ${all.packets} packets, ${total} were run`);
  if (problems.length > 0) throw new Error(`${name}: ${problems.join('; ')}`);
}

/**
 * Instructions per packet of a profile case, counted exactly on the simulated CPU running
 * the same machine code, set up and weighed the same way (a warm-up of whole sequences
 * measured with `profileDispatcher`): the difference of two runs, so set-up work cancels
 * out — over one whole sequence for the mixed cases (its average over the distribution),
 * over 256 packets for `profile-hot-16` (as `instructionsPerPacket` does for `dispatcher-N`).
 */
export async function profileInstructionsPerPacket(name: ProfileCaseName): Promise<number> {
  return (await profileInstructions(name)).perPacket;
}

/** {@link profileInstructionsPerPacket} with how the simulated case's image was laid out. */
export async function profileInstructions(name: ProfileCaseName): Promise<{ readonly perPacket: number; readonly dispatch: DispatchInfo }> {
  checkName(name);
  const arena = new SimulatedArena({ dataSize: 4 << 20 });
  try {
    const hot = name === 'profile-hot-16';
    const s = await setup(arena, name, hot ? 512 : SEQUENCE_LENGTH);
    const [a, b] = hot ? [64, 64 + 256] : [SEQUENCE_LENGTH, 2 * SEQUENCE_LENGTH];
    return { perPacket: (s.run(b) - s.run(a)) / (b - a), dispatch: s.dispatch };
  } finally {
    arena.dispose();
  }
}

/** Every profile case (native) with its instructions per packet (simulated): what the benchmark's `profile` group runs. */
export async function profileCases(
  options: ProfileCaseOptions = {},
): Promise<{ readonly cases: readonly ProfilePacketCase[]; readonly instructions: ReadonlyMap<string, number> }> {
  const cases: ProfilePacketCase[] = [];
  const instructions = new Map<string, number>();
  try {
    for (const name of PROFILE_CASES) {
      cases.push(await profileCase(name, options));
      instructions.set(name, await profileInstructionsPerPacket(name));
    }
  } catch (error) {
    for (const c of cases) await c.dispose();
    throw error;
  }
  return { cases, instructions };
}
