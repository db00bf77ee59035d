/**
 * Our side of the veth benchmark: an i40e device in mode `xsk` on `xsk0` (an AF_XDP socket
 * in copy mode, the kernel's redirect program attached natively) running `xdp_rxq_info`
 * (DROP) through its dispatcher, in the configurations of the copy-mode bench
 * (packet-cases.ts): `dispatcher-1`, `dispatcher-16`, `full` (16 others installed first: the
 * program is reached through the retpoline fallback), `no-dispatcher` (every call indirect
 * through the retpoline). The JIT'd poll loop runs on this thread, one native call per
 * ring's worth or per empty poll — never per packet — while the generator thread sends.
 */
import { I40eDevice as Device, type I40eDevice, i40eXdpSetup, type RingCounters, type XskDeviceStats } from '@bpf-dispatcher/i40e';
import { callNative, NativeArena } from '@bpf-dispatcher/text-poke';
import { type RxqInfoProg, XdpAction, xdpCallUpdate, xdpConstant, xdpRxqInfo } from '@bpf-dispatcher/xdp-call';
import type { Generator, Sending } from './veth-generator.js';

/** Our configurations. */
export const OUR_CASES = Object.freeze(['dispatcher-1', 'dispatcher-16', 'full', 'no-dispatcher'] as const);
/** One of {@link OUR_CASES}. */
export type OurCaseName = (typeof OUR_CASES)[number];

/** What the poll loop saw while a `send` ran. */
export interface PumpStats {
  /** Packets the programs ran on. */
  readonly processed: number;
  /** Native calls of the driver loop (each returns when the ring is empty). */
  readonly calls: number;
  /** Calls that found nothing. */
  readonly idleCalls: number;
  /** Nanoseconds inside the calls that processed packets. */
  readonly busyNs: number;
  /** `process.hrtime` nanoseconds when the last packet had been processed. */
  readonly lastNs: bigint;
  /** 10 ms waits for packets after the generator had finished (bounded). */
  readonly waits: number;
}

/** A device set up for one case (made per round: every case gets the same veth). */
export interface OurDevice {
  readonly name: OurCaseName;
  readonly entries: number | null;
  readonly device: I40eDevice;
  readonly prog: RxqInfoProg;
  /** Run the poll loop while `sending` runs, until every frame is processed or reported dropped. */
  pump(sending: Sending, quietLimit: number): Promise<PumpStats>;
  /** Drops the kernel reported so far: its socket's (no fill-ring frame, rx ring full). */
  kernelDrops(): { rxDropped: number; rxRingFull: number };
  /** `count` bursts of `frames` sent while the loop waits; each timed as the loop drains it. Nanoseconds per packet of complete bursts. */
  drain(
    generator: Generator,
    count: number,
    frames: number,
    batchSize: number,
  ): Promise<{ nsPerPacket: number[]; incomplete: number; processed: number }>;
  counters(): { ring: RingCounters; xsk: XskDeviceStats; prog: { processed: bigint; issue: bigint } };
  dispose(): Promise<void>;
}

/** The arena: the UMEM (a 2 KiB chunk per ring entry) and the stack queue's slots (as many) need room, with the rings and maps beside them. */
const arenaOptions = (ringSize: number) => ({ textSize: 1 << 20, dataSize: ringSize * 4096 + (8 << 20) });
/** No frame sent or processed for this long while the generator should be sending: it died (a failure, never a measurement bound). */
export const STALL_MS = 60_000;

/** Packets one native call may process at most (it returns earlier, when the ring is empty). */
const PER_CALL = 1 << 30;

/** Make the device of `name` on `ifindex` (the calling thread must be in the test namespace). */
export async function ourDevice(name: OurCaseName, iface: { ifindex: number; name: string }, ringSize: number): Promise<OurDevice> {
  const arena = new NativeArena(arenaOptions(ringSize));
  let device: I40eDevice | undefined;
  try {
    device = new Device(arena, {
      mode: 'xsk',
      xsk: { interfaces: [{ ifindex: iface.ifindex, name: iface.name }], ringSize },
      dispatcher: name !== 'no-dispatcher',
    });
    const netdev = device.netdevs[0];
    if (netdev === undefined) throw new Error('no netdev');
    const others = name === 'dispatcher-16' ? 15 : name === 'full' ? 16 : 0;
    for (let i = 0; i < others; i++) await xdpCallUpdate(device.xdpCall, null, xdpConstant(arena, XdpAction.DROP, `other_${i}`));
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: iface.ifindex });
    await i40eXdpSetup(netdev, prog);
    const slotted = device.xdpCall.dispatcher.entries().some((e) => e.prog === prog.bpfFunc);
    if (slotted !== name.startsWith('dispatcher-')) throw new Error(`${name}: the program is ${slotted ? '' : 'not '}in the dispatcher`);
    return wrap(name, name === 'dispatcher-1' ? 1 : name === 'dispatcher-16' ? 16 : name === 'full' ? 16 : null, arena, device, prog);
  } catch (error) {
    await device?.dispose();
    arena.dispose();
    throw error;
  }
}

function wrap(name: OurCaseName, entries: number | null, arena: NativeArena, device: I40eDevice, prog: RxqInfoProg): OurDevice {
  const { entry, args } = device.driverLoopCall(PER_CALL);
  const poll = () => Number(callNative(entry, ...args));
  const kernelDrops = () => {
    const s = device.xskStats();
    return { rxDropped: Number(s.rxDropped), rxRingFull: Number(s.rxRingFull) };
  };
  const dropped = () => {
    const d = kernelDrops();
    return d.rxDropped + d.rxRingFull;
  };
  // performance.now() allocates nothing per call; hrtime = now + offset (ms), for the generator's stamps
  const offsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  return {
    name,
    entries,
    device,
    prog,
    kernelDrops,
    pump: async (sending, quietLimit) => {
      const dropsBefore = dropped();
      let processed = 0;
      let calls = 0;
      let idleCalls = 0;
      let busyMs = 0;
      let lastMs = performance.now();
      let waits = 0;
      let quiet = 0;
      let progressMs = lastMs;
      let progressSent = 0;
      for (;;) {
        const t0 = performance.now();
        const n = poll();
        const t1 = performance.now();
        calls++;
        if (n > 0) {
          processed += n;
          busyMs += t1 - t0;
          lastMs = t1;
          quiet = 0;
        } else {
          idleCalls++;
          device.kick();
          // a failure detector, not a bound of the measurement: the generator thread stopped sending
          if ((idleCalls & 0xffff) === 0) {
            const sent = sending.sent();
            if (sent !== progressSent || lastMs > progressMs) [progressSent, progressMs] = [sent, t1];
            else if (t1 - progressMs > STALL_MS) throw new Error(`bench-veth ${name}: no frame sent or processed for ${STALL_MS / 1000} s`);
          }
        }
        if (n === 0 && sending.done()) {
          // the generator finished: the rest is on the ring, or the kernel dropped it
          if (processed + dropped() - dropsBefore >= sending.sent()) break;
          if (!device.waitForPackets(10)) {
            waits++;
            if (++quiet >= quietLimit) break;
          }
        }
      }
      await sending.result();
      return { processed, calls, idleCalls, busyNs: busyMs * 1e6, lastNs: BigInt(Math.round((lastMs + offsetMs) * 1e6)), waits };
    },
    drain: async (generator, count, frames, batchSize) => {
      const nsPerPacket: number[] = [];
      let incomplete = 0;
      let processed = 0;
      let drops = dropped();
      await generator.bursts(count, frames, batchSize, () => {
        const start = process.hrtime.bigint();
        let n = poll();
        const ns = Number(process.hrtime.bigint() - start);
        if (n === frames) nsPerPacket.push(ns / n);
        else {
          // the kernel's softirq had not finished the burst (deferred to ksoftirqd), or dropped part of it: not a clean sample
          incomplete++;
          for (let waits = 0; n + dropped() - drops < frames && waits < 300; ) {
            const m = poll();
            n += m;
            if (m === 0 && !device.waitForPackets(10)) waits++;
          }
        }
        processed += n;
        drops = dropped();
      });
      return { nsPerPacket, incomplete, processed };
    },
    counters: () => {
      const c = prog.counters();
      return { ring: device.totals(), xsk: device.xskStats(), prog: { processed: c.processed, issue: c.issue } };
    },
    dispose: async () => {
      await device.dispose();
      arena.dispose();
    },
  };
}
