import { Worker } from 'node:worker_threads';
import { Dispatcher, createTrampoline } from '@bpf-dispatcher/dispatcher';
import { I40eDevice, type Netdev, i40eXdpSetup } from '@bpf-dispatcher/i40e';
import { NativeArena, type Region, nativeSupported } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { type RecordProg, XdpAction, xdpCallUpdate, xdpRecord } from '@bpf-dispatcher/xdp-call';
import { FAULT_KINDS, type FaultKind, faultSchedule } from './schedule.js';
import type { SoakWorkerData } from './worker.js';

export { FAULT_KINDS, type FaultKind, faultSchedule } from './schedule.js';

/** Options of {@link runSoak}. The run stops at whichever limit comes first. */
export interface SoakOptions {
  /**
   * Stop after this many seconds (default 30). When faults are asked for, the first fault
   * round is always completed first (it comes early: see {@link faultSchedule}).
   */
  readonly seconds?: number;
  /** Stop after this many updates (default 1,000,000). */
  readonly updates?: number;
  /** Inject faults while the traffic runs (default true): every kind at least once. */
  readonly faults?: boolean;
  /** Seed of the pseudo-random churn (default 1). */
  readonly seed?: number;
  /** Called about four times a second with the updates so far. */
  readonly onProgress?: (progress: SoakProgress) => void;
}

/** Where a soak run is, for a progress display. */
export interface SoakProgress {
  readonly updates: number;
  readonly elapsedMs: number;
  /** The limits of the run. */
  readonly maxUpdates: number;
  readonly maxSeconds: number;
  /** Fault rounds injected so far. */
  readonly faultRounds: number;
}

/** One kind of injected fault and what happened. */
export interface FaultResult {
  readonly fault: string;
  /** Times this kind was injected (at least once in a run that asked for faults). */
  readonly injected: number;
  /** Injections that raised the expected typed error (code). */
  readonly typedErrors: number;
  /** Injections after which the next change succeeded. */
  readonly recovered: number;
  readonly code: string;
}

/** What a soak run measured and verified. */
export interface SoakReport {
  readonly seconds: number;
  readonly updates: number;
  /** The limits asked for. */
  readonly maxSeconds: number;
  readonly maxUpdates: number;
  /** Which limit ended the run. */
  readonly stoppedBy: 'seconds' | 'updates';
  /** Whether faults were asked for; then `faults` lists every kind, injected or not. */
  readonly faultsRequested: boolean;
  /** Fault rounds done (each injects every kind once). */
  readonly faultRounds: number;
  readonly updatesPerSecond: number;
  /** Packets the driver loop was asked for and reported done. */
  readonly packetsGenerated: bigint;
  /** Packets the rings counted (each exactly once). */
  readonly packetsProcessed: bigint;
  /** Packets whose handler did not sign them as the program the loop ran. */
  readonly misrouted: bigint;
  /** Packets handled by a program never attached to that packet's netdev. */
  readonly foreignHandled: bigint;
  /** Packets counted by rings but by no program and not as program-less. */
  readonly unaccounted: bigint;
  readonly mppsDuringChurn: number;
  readonly maxGraceWaitMs: number;
  readonly graceWaits: number;
  /** Where attached programs landed: own slot, shared slot, fallback (no free slot). */
  readonly placements: Readonly<Record<string, number>>;
  readonly faults: readonly FaultResult[];
  /**
   * True when every check held: nothing misrouted, foreign or lost, and, when faults were
   * asked for, every kind injected at least once, each raising its typed error and each
   * followed by a successful change.
   */
  readonly ok: boolean;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const PROGRAMS = 20;
const PINNED = 14;

/**
 * Churn the dispatcher while traffic flows: a worker thread runs the native i40e driver
 * loop over 3 netdevs × 2 queues, with every packet's handler verified by the loop (each
 * of the 20 `xdp_record` programs signs the packets it handles), while this thread attaches,
 * replaces and detaches programs with `i40eXdpSetup`. 14 programs are kept attached by
 * other users, so the netdevs' programs push the dispatcher past its 16 slots and the
 * fallback path is exercised. Faults are injected along the way, on a schedule of update
 * counts ({@link faultSchedule}), so a slow machine injects as many as a fast one.
 * The run stops at `seconds` or `updates`, whichever comes first.
 *
 * Correct means: no packet misrouted (signed by a program other than the one its ring
 * pointed to when it was processed — and rings only ever point to programs attached to
 * their netdev); no packet handled by a program never attached to its netdev; every
 * packet the driver loop generated counted exactly once (nothing lost); no crash.
 * @throws Error off x86-64 Linux.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  if (!nativeSupported()) throw new Error(`soak: the native arena is needed (x86-64 Linux); this is ${process.platform}/${process.arch}`);
  const maxSeconds = options.seconds ?? 30;
  const maxUpdates = options.updates ?? 1_000_000;
  const faultsRequested = options.faults !== false;
  const schedule = faultsRequested ? faultSchedule(maxUpdates) : [];
  const random = rng(options.seed ?? 1);
  const arena = new NativeArena({ textSize: 2 << 20, dataSize: 32 << 20 });
  const device = new I40eDevice(arena, { netdevs: 3, queues: 2, ringSize: 128, verifyHandlers: true, syncTimeoutMs: 1000 });
  const call = device.xdpCall;
  const progs: RecordProg[] = Array.from({ length: PROGRAMS }, (_, i) =>
    xdpRecord(arena, { verdict: i % 2 === 0 ? XdpAction.DROP : XdpAction.PASS, name: `record_${i}` }),
  );
  for (const p of progs.slice(0, PINNED)) await xdpCallUpdate(call, null, p);
  const everAttached = new Map<Netdev, Set<RecordProg>>(device.netdevs.map((n) => [n, new Set()]));

  const reader = arena.registerReader('soak-traffic');
  const { entry, args } = device.driverLoopCall(1_000_000, { budget: 64, reader });
  const stop = new SharedArrayBuffer(4);
  const progress = new SharedArrayBuffer(8);
  const workerData: SoakWorkerData = { entry, args, stop, progress };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData });
  const finished = new Promise<{ processed: bigint; chunks: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`traffic worker exited with ${code}`)));
  });
  const progressView = new BigInt64Array(progress);
  while (Atomics.load(progressView, 0) === 0n) await new Promise((r) => setTimeout(r, 1));

  const placements: Record<string, number> = { 'new-slot': 0, shared: 0, fallback: 0, none: 0 };
  const faults = new Map<string, { injected: number; typedErrors: number; recovered: number; code: string }>(
    faultsRequested ? FAULT_KINDS.map((k) => [k.fault, { injected: 0, typedErrors: 0, recovered: 0, code: k.code }]) : [],
  );
  let faultRounds = 0;
  let stoppedBy: SoakReport['stoppedBy'] = 'updates';
  let updates = 0;
  let maxGraceWaitMs = 0;
  const start = performance.now();
  const packetsAtStart = Atomics.load(progressView, 0);
  let lastReport = start;

  const change = async (netdev: Netdev, next: RecordProg | null) => {
    if (next !== null) everAttached.get(netdev)?.add(next);
    const t0 = performance.now();
    const outcome = await i40eXdpSetup(netdev, next);
    const ms = performance.now() - t0;
    if (outcome?.waitedForGrace) maxGraceWaitMs = Math.max(maxGraceWaitMs, ms);
    if (outcome !== null) placements[outcome.placement] = (placements[outcome.placement] ?? 0) + 1;
    updates++;
  };
  const randomChange = async () => {
    const netdev = device.netdevs[Math.floor(random() * device.netdevs.length)] as Netdev;
    const current = netdev.xdpProg as RecordProg | null;
    let next: RecordProg | null;
    do {
      next = random() < 0.15 ? null : (progs[Math.floor(random() * PROGRAMS)] as RecordProg);
    } while (next === current || (next === null && current === null));
    await change(netdev, next);
  };
  const inject = async (kind: number, attempt: () => Promise<unknown> | unknown, undo: () => Promise<void> | void) => {
    const { fault, code } = FAULT_KINDS[kind] as FaultKind;
    const record = faults.get(fault) ?? { injected: 0, typedErrors: 0, recovered: 0, code };
    faults.set(fault, record);
    record.injected++;
    try {
      await attempt();
    } catch (error) {
      if (BpfDispatcherError.hasCode(error, code)) record.typedErrors++;
    }
    await undo();
    try {
      await randomChange();
      record.recovered++;
    } catch {
      // counted as not recovered
    }
  };

  const report = (now: number) => options.onProgress?.({ updates, elapsedMs: now - start, maxUpdates, maxSeconds, faultRounds });
  try {
    for (;;) {
      if (updates >= maxUpdates) {
        stoppedBy = 'updates';
        break;
      }
      // the time limit never cuts the run short of its first fault round
      if (performance.now() - start >= maxSeconds * 1000 && (faultRounds > 0 || schedule.length === 0)) {
        stoppedBy = 'seconds';
        break;
      }
      await randomChange();
      const due = schedule[faultRounds];
      if (due !== undefined && updates >= due) {
        await injectFaults();
        faultRounds++;
      }
      const now = performance.now();
      if (now - lastReport > 250) {
        lastReport = now;
        report(now);
      }
    }
    report(performance.now());
  } finally {
    Atomics.store(new Int32Array(stop), 0, 1);
  }
  const elapsedMs = performance.now() - start;
  const packetsDuringChurn = Atomics.load(progressView, 0) - packetsAtStart;
  const traffic = await finished;
  reader.unregister();

  async function injectFaults(): Promise<void> {
    const tramp = call.trampoline;
    // 1. foreign bytes at the poke site: someone else's jmp (to the fallback thunk); the
    //    change (a pinned program's last user leaves, so the image must be regenerated) fails
    const live = call.dispatcher.liveImage()?.address ?? null;
    // a pinned program no netdev uses: dropping its only user frees its slot
    const pinned = progs.slice(0, PINNED).find((p) => call.usersOf(p) === 1) as RecordProg;
    await inject(
      0, // POKE_FAILED
      async () => {
        arena.textPoke(tramp.entry, 'jump', live, tramp.thunk);
        await xdpCallUpdate(call, pinned, null);
      },
      () => {
        arena.textPoke(tramp.entry, 'jump', tramp.thunk, live);
      },
    );
    // 2. a program the generator cannot encode (not a sign-extended imm32), replacing a
    //    pinned program so that a slot is free for it and the image must be regenerated.
    //    No xdp_prog can live there, so the dispatcher is asked directly (as the kernel's
    //    bpf_dispatcher_change_prog is, with a bpf_func address).
    const far = 0x1_0000_0000n;
    let farAttached = false;
    await inject(
      1, // NOT_SIMM32
      async () => {
        await call.dispatcher.changeProg(pinned.bpfFunc, far);
        farAttached = true;
      },
      async () => {
        if (farAttached) await call.dispatcher.changeProg(far, pinned.bpfFunc);
      },
    );
    // 3. a max that would overflow a half is refused up front
    await inject(2 /* EINVAL */, () => new Dispatcher(arena, tramp, { max: 53 }), () => {});
    // 4. a reader that never passes a quiescent state: the next change that must rewrite a
    //    half that was live times out
    const stalled = arena.registerReader('stalled');
    await inject(
      3, // SYNC_TIMEOUT
      async () => {
        for (let i = 0; i < 40; i++) await randomChange();
      },
      () => stalled.unregister(),
    );
    // 5. the arena cannot allocate an image (a second dispatcher on a full arena)
    const otherTrampoline = createTrampoline(arena, { fallback: 'indirect' });
    const hogs: Region[] = [];
    for (;;) {
      try {
        hogs.push(arena.alloc(4096, { align: 4096 }));
      } catch {
        break;
      }
    }
    const other = new Dispatcher(arena, otherTrampoline);
    await inject(
      4, // ENOMEM
      () => other.changeProg(null, pinned.bpfFunc),
      () => {
        for (const h of hogs) arena.free(h);
      },
    );
    await other.dispose();
    await otherTrampoline.dispose(); // nothing of a fault round stays allocated
  }

  // --- verification ---
  const totals = device.totals();
  let foreignHandled = 0n;
  let handled = 0n;
  for (const netdev of device.netdevs) {
    for (const p of progs) {
      const n = p.perIfindex()[netdev.ifindex] ?? 0n;
      handled += n;
      if (n > 0n && !everAttached.get(netdev)?.has(p)) foreignHandled += n;
    }
  }
  const unaccounted = totals.packets - handled - totals.noProg;
  const faultResults = [...faults].map(([fault, r]) => ({ fault, ...r }));
  const result: SoakReport = {
    seconds: elapsedMs / 1000,
    updates,
    maxSeconds,
    maxUpdates,
    stoppedBy,
    faultsRequested,
    faultRounds,
    updatesPerSecond: updates / (elapsedMs / 1000),
    packetsGenerated: traffic.processed,
    packetsProcessed: totals.packets,
    misrouted: totals.misrouted,
    foreignHandled,
    unaccounted,
    mppsDuringChurn: Number(packetsDuringChurn) / (elapsedMs * 1000),
    maxGraceWaitMs,
    graceWaits: call.dispatcher.stats.graceWaits,
    placements,
    faults: faultResults,
    ok:
      totals.misrouted === 0n &&
      foreignHandled === 0n &&
      unaccounted === 0n &&
      traffic.processed === totals.packets &&
      (!faultsRequested || (faultResults.length === FAULT_KINDS.length && faultResults.every((f) => f.injected > 0))) &&
      faultResults.every((f) => f.typedErrors === f.injected && f.recovered === f.injected),
  };
  await worker.terminate();
  await device.dispose();
  arena.dispose();
  return result;
}
