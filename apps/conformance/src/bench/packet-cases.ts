import { I40eDevice, i40eXdpSetup } from '@bpf-dispatcher/i40e';
import { NativeArena, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { type XdpProg, XdpAction, xdpCallUpdate, xdpConstant, xdpRxqInfo } from '@bpf-dispatcher/xdp-call';
import { x86RxqInfo } from './x86-rxq-info.js';

/** A benchmark case that processes packets through the i40e poll loop. */
export interface PacketCase {
  readonly name: string;
  /** Dispatcher entries (null when the case has no dispatcher). */
  readonly entries: number | null;
  /** Process `packets` packets; returns nanoseconds. */
  run(packets: number): number;
  /** Check that every packet was handled as it must be; throws otherwise. */
  verify(expectedPackets: bigint): void;
  dispose(): Promise<void>;
}

/** Which configuration: see {@link packetCase}. */
export type PacketCaseKind = { kind: 'baseline' } | { kind: 'no-retpoline' } | { kind: 'dispatcher'; entries: number } | { kind: 'full' } | { kind: 'x86-rxq-info' };

/** The program a case runs: the eBPF xdp_rxq_info from its C source, or the hand-written x86 one. */
interface RxqProgram {
  readonly prog: XdpProg;
  counters(): { processed: bigint; issue: bigint };
  resetCounters(): void;
}

const ARENA = { textSize: 1 << 20, dataSize: 8 << 20 };

/**
 * The cover letter's cases: 64-byte UDP traffic on one rx ring into `xdp_rxq_info`
 * (action DROP), through the shared i40e xdp_call:
 * - `baseline`: no dispatcher, the trampoline's indirect jump through the retpoline thunk;
 * - `no-retpoline`: the same as a plain `jmp rdx` (the ceiling without mitigation);
 * - `dispatcher` N: the traffic's program plus N-1 others in the dispatcher;
 * - `full`: 16 other programs installed first; the traffic's program finds no slot and is
 *   reached after walking the tree, through the retpoline fallback;
 * - `x86-rxq-info`: `dispatcher` 1 with the hand-written x86 xdp_rxq_info instead of the
 *   eBPF one (the JIT's cost per packet shows against it).
 */
export async function packetCase(spec: PacketCaseKind): Promise<PacketCase> {
  const arena = new NativeArena(ARENA);
  const { device, prog, name, entries } = await setupPacketCase(arena, spec);
  device.run(200_000); // warm up
  prog.resetCounters();
  for (const ring of device.rings) ring.resetCounters();
  return {
    name,
    entries,
    run: (packets) => {
      const start = process.hrtime.bigint();
      device.run(packets, { budget: 64 });
      return Number(process.hrtime.bigint() - start);
    },
    verify: (expected) => verifyDrops(name, device, [prog], expected),
    dispose: async () => {
      await device.dispose();
      arena.dispose();
    },
  };
}

/** Name of a packet case. */
export function packetCaseName(spec: PacketCaseKind): string {
  return spec.kind === 'dispatcher' ? `dispatcher-${spec.entries}` : spec.kind;
}

/** The eBPF xdp_rxq_info with the counters interface of the cases. */
function ebpfRxqInfo(arena: TextArena, ifindex: number): RxqProgram {
  const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex });
  return { prog, counters: () => prog.counters(), resetCounters: () => prog.resetCounters() };
}

async function setupPacketCase(arena: TextArena, spec: PacketCaseKind) {
  const withDispatcher = spec.kind === 'dispatcher' || spec.kind === 'full' || spec.kind === 'x86-rxq-info';
  const device = new I40eDevice(arena, { ringSize: arena.kind === 'native' ? 256 : 16, retpoline: spec.kind !== 'no-retpoline', dispatcher: withDispatcher });
  const eth0 = device.netdevs[0];
  if (eth0 === undefined) throw new Error('no netdev');
  const prog = spec.kind === 'x86-rxq-info' ? x86RxqInfo(arena, { action: XdpAction.DROP, ifindex: eth0.ifindex }) : ebpfRxqInfo(arena, eth0.ifindex);
  const others = spec.kind === 'dispatcher' ? spec.entries - 1 : spec.kind === 'full' ? 16 : 0;
  for (let i = 0; i < others; i++) await xdpCallUpdate(device.xdpCall, null, xdpConstant(arena, XdpAction.DROP, `other_${i}`));
  await i40eXdpSetup(eth0, prog.prog);
  const slotted = device.xdpCall.dispatcher.entries().some((e) => e.prog === prog.prog.bpfFunc);
  if (slotted !== (spec.kind === 'dispatcher' || spec.kind === 'x86-rxq-info')) throw new Error(`${spec.kind}: the traffic's program is ${slotted ? '' : 'not '}in the dispatcher`);
  const entries = spec.kind === 'dispatcher' ? spec.entries : spec.kind === 'full' ? 16 : spec.kind === 'x86-rxq-info' ? 1 : null;
  return { device, prog, name: packetCaseName(spec), entries };
}

/**
 * Instructions per packet of a case, counted exactly on the simulated CPU running the same
 * machine code (the difference of two runs, so set-up work cancels out). Architectural
 * instructions only: a retpoline counts as its few instructions, not as its pipeline
 * flush — which is why the time per packet, not this count, carries its cost.
 */
export async function instructionsPerPacket(spec: PacketCaseKind): Promise<number> {
  const arena = new SimulatedArena({ dataSize: 2 << 20 });
  try {
    const { device } = await setupPacketCase(arena, spec);
    const steps = (packets: number) => {
      const { entry, args } = device.driverLoopCall(packets, { budget: 64 });
      const regs = { rdi: args[0], rsi: args[1], rdx: args[2], rcx: args[3], r8: args[4], r9: args[5] } as Record<string, bigint>;
      return arena.run(entry, regs, { maxSteps: 10_000_000 }).steps;
    };
    const a = steps(64);
    const b = steps(64 + 256);
    return (b - a) / 256;
  } finally {
    arena.dispose();
  }
}

/**
 * Mixed traffic: 16 netdevs, each with its own xdp_rxq_info, polled round robin, so the
 * packets spread over 16 programs — with the dispatcher (all 16 slotted) or without.
 */
export async function mixedCase(withDispatcher: boolean): Promise<PacketCase> {
  const arena = new NativeArena({ textSize: 1 << 20, dataSize: 32 << 20 });
  const device = new I40eDevice(arena, { ringSize: 64, netdevs: 16, dispatcher: withDispatcher });
  const progs: RxqProgram[] = [];
  for (const netdev of device.netdevs) {
    const prog = ebpfRxqInfo(arena, netdev.ifindex);
    progs.push(prog);
    await i40eXdpSetup(netdev, prog.prog);
  }
  if (withDispatcher && device.xdpCall.dispatcher.numProgs !== 16) throw new Error('mixed: expected 16 slotted programs');
  const name = withDispatcher ? 'mixed-dispatcher-16' : 'mixed-baseline';
  device.run(200_000, { budget: 16 });
  for (const p of progs) p.resetCounters();
  for (const ring of device.rings) ring.resetCounters();
  return {
    name,
    entries: withDispatcher ? 16 : null,
    run: (packets) => {
      const start = process.hrtime.bigint();
      device.run(packets, { budget: 16 });
      return Number(process.hrtime.bigint() - start);
    },
    verify: (expected) => verifyDrops(name, device, progs, expected),
    dispose: async () => {
      await device.dispose();
      arena.dispose();
    },
  };
}

function verifyDrops(name: string, device: I40eDevice, progs: readonly RxqProgram[], expected: bigint): void {
  const totals = device.totals();
  const processed = progs.reduce((sum, p) => sum + p.counters().processed, 0n);
  const issues = progs.reduce((sum, p) => sum + p.counters().issue, 0n);
  if (totals.packets !== expected || totals.actions.DROP !== expected || processed !== expected || issues !== 0n || totals.errors !== 0n) {
    throw new Error(
      `${name}: expected ${expected} packets dropped by xdp_rxq_info; rings saw ${totals.packets} (${totals.actions.DROP} dropped), programs counted ${processed} (${issues} issues)`,
    );
  }
}
