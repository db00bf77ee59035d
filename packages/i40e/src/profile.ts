import type { WeightsOutcome } from '@bpf-dispatcher/dispatcher';
import type { Netdev } from './device.js';
import type { RxRing } from './ring.js';

/*
 * Profile-guided dispatch for the i40e device (goes beyond the kernel, whose dispatcher
 * image depends on the program addresses only): the rings' packet counters say how often
 * each program ran — every netdev runs one program, so the packets of a netdev's rings
 * that met a program are calls of that program — and the device hands those counts to
 * its dispatcher as weights (`Dispatcher.setWeights`).
 */

/** Calls of one netdev's program measured by {@link I40eDevice.profileDispatcher}. */
export interface NetdevCalls {
  readonly netdev: Netdev;
  /** Its rings' packets that met a program (counter `packets` minus `noProg`) since the last profile. */
  readonly calls: bigint;
}

/** What one {@link I40eDevice.profileDispatcher} measured and did. */
export interface DispatcherProfile {
  /** Calls per netdev since the last profile, in netdev order. */
  readonly netdevs: readonly NetdevCalls[];
  /** All of them. */
  readonly calls: bigint;
  /**
   * The weights handed to the dispatcher: calls per program, by the program's `bpf_func`
   * address (netdevs that run the same program add up; netdevs without a program count
   * for nothing).
   */
  readonly weights: ReadonlyMap<bigint, number>;
  /** What `setWeights` did; null when no call was counted (the weights stay as they were). */
  readonly outcome: WeightsOutcome | null;
}

/** Options of {@link I40eDevice.profileDispatcherEvery}. */
export interface ProfileEveryOptions {
  /** Called with each profile taken. */
  readonly onProfile?: (profile: DispatcherProfile) => void;
  /**
   * Called when a profile fails (e.g. SYNC_TIMEOUT while a poller is stalled) or
   * `onProfile` throws; the trigger keeps running. Without it failures are dropped: the
   * live image stays as it was and the next tick measures from the last successful profile.
   */
  readonly onError?: (error: unknown) => void;
}

/** Each ring's calls so far: its `packets` counter minus `noProg` (packets that met no program). */
export function callCounters(rings: readonly RxRing[]): Map<RxRing, bigint> {
  const out = new Map<RxRing, bigint>();
  for (const ring of rings) {
    const c = ring.counters();
    out.set(ring, c.packets - c.noProg);
  }
  return out;
}

/**
 * The calls of each netdev's program between two snapshots of {@link callCounters}, and
 * the weights per program they make. A ring whose counter went back (its counters were
 * reset since) counts from zero; a reset followed by more packets than the ring had
 * counted before cannot be told from no reset, so reset rings right after a profile, not
 * between two.
 */
export function measureCalls(
  netdevs: readonly Netdev[],
  since: ReadonlyMap<RxRing, bigint>,
  now: ReadonlyMap<RxRing, bigint>,
): { netdevs: NetdevCalls[]; calls: bigint; weights: Map<bigint, number> } {
  const perNetdev: NetdevCalls[] = [];
  const weights = new Map<bigint, number>();
  let total = 0n;
  for (const netdev of netdevs) {
    let calls = 0n;
    for (const ring of netdev.rings) {
      const count = now.get(ring) ?? 0n;
      const last = since.get(ring) ?? 0n;
      calls += count >= last ? count - last : count;
    }
    perNetdev.push(Object.freeze({ netdev, calls }));
    total += calls;
    const prog = netdev.xdpProg;
    if (prog !== null && calls > 0n) weights.set(prog.bpfFunc, (weights.get(prog.bpfFunc) ?? 0) + Number(calls));
  }
  return { netdevs: perNetdev, calls: total, weights };
}
