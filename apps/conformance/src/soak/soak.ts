import { Worker } from 'node:worker_threads';
import { Dispatcher, createTrampoline } from '@bpf-dispatcher/dispatcher';
import { I40eDevice, type Netdev, i40eXdpSetup } from '@bpf-dispatcher/i40e';
import { NativeArena, type Region, nativeSupported } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { type RecordProg, XdpAction, xdpCallUpdate, xdpRecord } from '@bpf-dispatcher/xdp-call';
import type { SoakWorkerData } from './worker.js';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Churn for at least this long (default 30 s). */
  readonly seconds?: number;
  /** And for at least this many updates (default 100,000). */
  readonly minUpdates?: number;
  /** Inject faults while the traffic runs (default true). */
  readonly faults?: boolean;
  /** Seed of the pseudo-random churn (default 1). */
  readonly seed?: number;
  /** Called about once a second with updates so far. */
  readonly onProgress?: (updates: number, elapsedMs: number) => void;
}

/** One kind of injected fault and what happened. */
export interface FaultResult {
  readonly fault: string;
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
  /** True when every check held. */
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
 * fallback path is exercised. Faults are injected along the way.
 *
 * Correct means: no packet misrouted (signed by a program other than the one its ring
 * pointed to when it was processed — and rings only ever point to programs attached to
 * their netdev); no packet handled by a program never attached to its netdev; every
 * packet the driver loop generated counted exactly once (nothing lost); no crash.
 * @throws Error off x86-64 Linux.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  if (!nativeSupported()) throw new Error(`soak: the native arena is needed (x86-64 Linux); this is ${process.platform}/${process.arch}`);
  const seconds = options.seconds ?? 30;
  const minUpdates = options.minUpdates ?? 100_000;
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
  const faults = new Map<string, { injected: number; typedErrors: number; recovered: number; code: string }>();
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
  const inject = async (fault: string, code: string, attempt: () => Promise<unknown> | unknown, undo: () => Promise<void> | void) => {
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

  try {
    while (performance.now() - start < seconds * 1000 || updates < minUpdates) {
      await randomChange();
      if (options.faults !== false && updates % 20_000 === 10_000) await injectFaults();
      const now = performance.now();
      if (now - lastReport > 1000) {
        lastReport = now;
        options.onProgress?.(updates, now - start);
      }
    }
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
      'poke site holds foreign bytes',
      'POKE_FAILED',
      async () => {
        arena.textPoke(tramp.entry, 'jump', live, tramp.thunk);
        await xdpCallUpdate(call, pinned, null);
      },
      () => {
        arena.textPoke(tramp.entry, 'jump', tramp.thunk, live);
      },
    );
    // 2. a program the generator cannot encode (not a sign-extended imm32), replacing a
    //    pinned program so that a slot is free for it and the image must be regenerated
    const far = { ...pinned, bpfFunc: 0x1_0000_0000n, name: 'far' };
    let farAttached = false;
    await inject(
      'program address not simm32',
      'NOT_SIMM32',
      async () => {
        await xdpCallUpdate(call, pinned, far);
        farAttached = true;
      },
      async () => {
        if (farAttached) await xdpCallUpdate(call, far, pinned);
      },
    );
    // 3. a max that would overflow a half is refused up front
    await inject('max larger than a half holds', 'EINVAL', () => new Dispatcher(arena, tramp, { max: 53 }), () => {});
    // 4. a reader that never passes a quiescent state: the next change that must rewrite a
    //    half that was live times out
    const stalled = arena.registerReader('stalled');
    await inject(
      'synchronize() times out on a stuck reader',
      'SYNC_TIMEOUT',
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
      'arena allocation failure',
      'ENOMEM',
      () => other.changeProg(null, pinned.bpfFunc),
      () => {
        for (const h of hogs) arena.free(h);
      },
    );
    await other.dispose();
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
  const report: SoakReport = {
    seconds: elapsedMs / 1000,
    updates,
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
      updates >= minUpdates &&
      faultResults.every((f) => f.typedErrors === f.injected && f.recovered === f.injected),
  };
  await worker.terminate();
  await device.dispose();
  arena.dispose();
  return report;
}
