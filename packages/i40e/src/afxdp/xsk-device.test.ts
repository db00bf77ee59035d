/**
 * The device in `xsk` mode on real veth pairs in a private network namespace: the JIT'd
 * poll loop reads the kernel's rx ring, runs the program through the shared dispatcher on
 * the frame in the UMEM and carries out its verdict with the kernel's rings — DROP and
 * PASS refill, TX leaves through the tx ring and reaches the peer, completions come back.
 * Several queues and several netdevs share one dispatcher. Root only: skipped, with the
 * reason printed, where namespaces, bpf() or AF_XDP are refused.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { openObject } from '@bpf-dispatcher/bpf-object';
import { kernelBpfAvailable } from '@bpf-dispatcher/ebpf';
import { NativeArena } from '@bpf-dispatcher/text-poke';
import { XdpAction, type XdpProg, xdpProgFromObject, xdpRxqInfo } from '@bpf-dispatcher/xdp-call';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { I40eDevice } from '../device.js';
import { createTestNetns, netnsSupport, type TestNetns } from '../testbed/netns.js';
import { PacketSender } from '../testbed/packet-sender.js';
import { buildUdpFrame, type UdpFlow } from '../traffic/packet.js';
import { i40eXdpSetup } from '../xdp-setup.js';
import { sys } from './sys.js';
import { AF_XDP, SOCK_RAW } from './uapi.js';

/** Why these tests cannot run here, or undefined. */
function whyNot(): string | undefined {
  const netns = netnsSupport();
  if (!netns.ok) return netns.reason;
  const bpf = kernelBpfAvailable();
  if (!bpf.ok) return `bpf(): ${bpf.reason}`;
  const s = sys();
  const fd = s.socket(AF_XDP, SOCK_RAW, 0);
  if (fd < 0) return `socket(AF_XDP): ${s.errnoName(-fd)}`;
  s.close(fd);
  return undefined;
}
const skipReason = whyNot();

const MIXED = new Uint8Array(readFileSync(new URL('../../fixtures/xdp_mixed.bpf.o', import.meta.url)));

function mixedProg(arena: NativeArena): XdpProg {
  const object = openObject(MIXED);
  object.load(arena);
  return xdpProgFromObject(object.program('xdp_mixed'), { onDispose: () => object.close() });
}

/** What the poll loop saw while `frames` were sent. */
interface Pumped {
  processed: number;
  sent: number;
  kernelDrops: bigint;
  quietWaits: number;
}

/**
 * Send `frames` from `sender` (at most `window` in flight) and drive the device — native
 * runs, kicks when the kernel asks, waits when nothing arrives — until every frame was
 * processed or the kernel reported the rest dropped; then until every TX frame completed.
 * Bounded by counts: at most `maxQuietWaits` consecutive 100 ms waits with nothing new.
 */
function pump(
  device: I40eDevice,
  senders: readonly { sender: PacketSender; frames: readonly Uint8Array[] }[],
  window = 256,
  maxQuietWaits = 300,
): Pumped {
  const total = senders.reduce((n, s) => n + s.frames.length, 0);
  const sent = senders.map(() => 0);
  let processed = 0;
  let quiet = 0;
  let quietWaits = 0;
  const drops = () => {
    const s = device.xskStats();
    return s.rxDropped + s.rxRingFull;
  };
  const base = drops();
  for (let i = 0; i < 10 * total + 100_000 && quiet < maxQuietWaits; i++) {
    const inFlight = sent.reduce((a, b) => a + b, 0) - processed - Number(drops() - base);
    senders.forEach((s, k) => {
      const done = sent[k] as number;
      if (done < s.frames.length && inFlight < window)
        sent[k] = done + s.sender.send(s.frames, done, Math.max(1, Math.floor((window - inFlight) / senders.length)));
    });
    const n = Number(device.run(1_000_000));
    processed += n;
    device.kick();
    const tx = device.totals().txPackets;
    const complete = device.xskStats().completions === tx;
    if (processed + Number(drops() - base) >= total && complete) break;
    if (n === 0 && !device.waitForPackets(100)) {
      quiet++;
      quietWaits++;
    } else if (n > 0) quiet = 0;
  }
  return { processed, sent: sent.reduce((a, b) => a + b, 0), kernelDrops: drops() - base, quietWaits };
}

const TEXT_POKE = pathToFileURL(createRequire(import.meta.url).resolve('@bpf-dispatcher/text-poke')).href;

/** Run `entry(args)` in a loop on a worker thread (a second CPU) until `stop[0]` is set; resolves with the packets it processed. */
function pollOnWorker(entry: bigint, args: readonly bigint[], stop: Int32Array): Promise<bigint> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.textPoke).then(({ callNative }) => {
      const stop = new Int32Array(workerData.stop);
      let processed = 0n;
      parentPort.postMessage('started');
      while (Atomics.load(stop, 0) === 0) processed += callNative(workerData.entry, ...workerData.args);
      parentPort.postMessage(processed);
    });
  `;
  const worker = new Worker(source, { eval: true, workerData: { textPoke: TEXT_POKE, entry, args, stop: stop.buffer } });
  return new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      if (typeof m === 'bigint') resolve(m);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => code !== 0 && reject(new Error(`poller exited with ${code}`)));
  });
}

describe('the AF_XDP poll loop on veth pairs (device mode xsk)', () => {
  let ns: TestNetns | undefined;
  let arena: NativeArena | undefined;
  let device: I40eDevice | undefined;
  const senders: PacketSender[] = [];

  beforeEach((ctx) => {
    if (skipReason !== undefined) {
      console.warn(`AF_XDP device tests skipped: ${skipReason}`);
      ctx.skip();
    }
    arena = new NativeArena({ textSize: 1 << 20, dataSize: 64 << 20 });
  });

  afterEach(async () => {
    for (const s of senders.splice(0)) s.close();
    await device?.dispose();
    device = undefined;
    arena?.dispose();
    arena = undefined;
    ns?.close();
    ns = undefined;
  });

  const flowOf = (env: TestNetns, pair: number, srcPort: number): UdpFlow => {
    const p = env.pairs[pair] as TestNetns['pairs'][number];
    return { srcMac: [...p.peer.mac], dstMac: [...p.rx.mac], srcIp: 0x0a00_0002, dstIp: 0x0a00_0001, srcPort, dstPort: 2000 };
  };

  it('runs every verdict on the kernel ring: DROP and PASS refill, TX reaches the peer and completes, the stack gets PASS frames intact', async () => {
    ns = createTestNetns();
    const env = ns;
    const a = arena as NativeArena;
    device = new I40eDevice(a, { mode: 'xsk', xsk: { interfaces: [{ ifindex: env.rx.ifindex, name: env.rx.name }], ringSize: 256 } });
    expect(device.xskQueues()).toEqual([
      expect.objectContaining({ ifindex: env.rx.ifindex, queue: 0, zeroCopy: false, redirect: 'native' }),
    ]);
    await i40eXdpSetup(device.netdevs[0] as never, mixedProg(a));
    const sender = PacketSender.open(env.peer.ifindex, 64);
    senders.push(sender);
    const N = 4000;
    // the first byte of each frame picks xdp_mixed's verdict: DROP, PASS, TX, PASS without the Ethernet header
    const frames = Array.from({ length: N }, (_, i) => {
      const f = buildUdpFrame(flowOf(env, 0, 1000), 64 + ((i * 7919) % 1437), i);
      f[0] = ((f[0] as number) & 0xfc) | (i & 3);
      return f;
    });
    const peerBefore = env.linkStats(env.peer.name).rxPackets;
    const got = pump(device, [{ sender, frames }]);
    const stack = device.rings[0]?.drainStack() ?? [];
    const totals = device.totals();
    const stats = device.xskStats();
    console.log(
      `xsk mode, veth copy mode: ${got.processed} of ${N} frames processed, kernel drops ${got.kernelDrops}, quiet waits ${got.quietWaits}; ${JSON.stringify(stats, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
    );
    expect(got.sent).toBe(N);
    expect(got.kernelDrops).toBe(0n);
    expect(got.processed).toBe(N);
    const quarter = BigInt(N / 4);
    expect(totals.actions).toEqual({ ABORTED: 0n, DROP: quarter, PASS: 2n * quarter, TX: quarter, REDIRECT: 0n });
    expect([totals.packets, totals.txPackets, totals.txDropped, totals.noProg, totals.errors]).toEqual([BigInt(N), quarter, 0n, 0n, 0n]);
    expect(totals.bytes).toBe(BigInt(frames.reduce((n, f) => n + f.length, 0)));
    expect(stats).toMatchObject({
      rxDropped: 0n,
      rxRingFull: 0n,
      rxInvalidDescs: 0n,
      txInvalidDescs: 0n,
      completions: quarter,
      fillFull: 0n,
    });
    // the stack queue (256 entries) kept the last PASS frames, in order and intact; the rest were counted as dropped
    expect(totals.stackEnqueued + totals.stackDropped).toBe(2n * quarter);
    const passed = frames.flatMap((f, i) => ((i & 3) === 1 ? [f] : (i & 3) === 3 ? [f.subarray(14)] : []));
    const firstKept = Number(totals.stackEnqueued) - stack.length;
    expect(stack.map((e) => Buffer.from(e.frame).toString('hex'))).toEqual(
      passed.slice(firstKept, firstKept + stack.length).map((f) => Buffer.from(f).toString('hex')),
    );
    // TX frames left through xsk0 and arrived at the peer
    expect(env.linkStats(env.peer.name).rxPackets - peerBefore).toBe(N / 4);
  });

  it("several queues and several netdevs share one dispatcher: each ring runs its netdev's program with its queue index", async () => {
    ns = createTestNetns({ pairs: 2, queues: 2 });
    const env = ns;
    const a = arena as NativeArena;
    device = new I40eDevice(a, {
      mode: 'xsk',
      xsk: { interfaces: env.pairs.map((p) => ({ ifindex: p.rx.ifindex, name: p.rx.name, queues: [0, 1] })), ringSize: 512 },
    });
    expect(device.rings.map((r) => [r.netdev.ifindex, r.queueIndex])).toEqual(
      env.pairs.flatMap((p) => [
        [p.rx.ifindex, 0],
        [p.rx.ifindex, 1],
      ]),
    );
    const progs = env.pairs.map((p) => xdpRxqInfo(a, { action: XdpAction.DROP, ifindex: p.rx.ifindex }));
    for (const [i, netdev] of device.netdevs.entries()) await i40eXdpSetup(netdev, progs[i] as never);
    expect(device.xdpCall.attached().map((e) => e.users)).toEqual([1, 1]);
    const N = 3000;
    const work = env.pairs.map((p, k) => {
      const sender = PacketSender.open(p.peer.ifindex, 64);
      senders.push(sender);
      // many flows: the peer's transmit hash spreads them over both queues
      return { sender, frames: Array.from({ length: N }, (_, i) => buildUdpFrame(flowOf(env, k, 1000 + (i % 64)), 64, i)) };
    });
    const got = pump(device, work);
    expect([got.sent, got.kernelDrops, got.processed]).toEqual([2 * N, 0n, 2 * N]);
    for (const [k, netdev] of device.netdevs.entries()) {
      const c = (progs[k] as ReturnType<typeof xdpRxqInfo>).counters();
      expect([c.processed, c.issue]).toEqual([BigInt(N), 0n]);
      const perRing = netdev.rings.map((r) => r.counters().packets);
      // each ring's packets are what the program counted for that queue index
      expect(perRing).toEqual([c.perQueue[0]?.processed, c.perQueue[1]?.processed]);
      expect(perRing.every((n) => n > 0n)).toBe(true);
      expect(device.totals(netdev.rings).actions.DROP).toBe(BigInt(N));
    }
  });

  it("programs swapped while a worker thread polls the kernel's ring: every packet reaches exactly one attached program, none is lost", async () => {
    ns = createTestNetns();
    const env = ns;
    const a = arena as NativeArena;
    device = new I40eDevice(a, { mode: 'xsk', xsk: { interfaces: [{ ifindex: env.rx.ifindex }], ringSize: 512 } });
    const d = device;
    const netdev = d.netdevs[0] as (typeof d.netdevs)[number];
    const progs = [0, 1].map(() => xdpRxqInfo(a, { action: XdpAction.DROP, ifindex: env.rx.ifindex }));
    await i40eXdpSetup(netdev, progs[0] as never);
    const reader = a.registerReader('xsk-poller');
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const { entry, args } = d.driverLoopCall(1_000_000, { reader });
    const polled = pollOnWorker(entry, args, stop);
    const sender = PacketSender.open(env.peer.ifindex, 64);
    senders.push(sender);
    const N = 20_000;
    const frames = Array.from({ length: N }, (_, i) => buildUdpFrame(flowOf(env, 0, 1000 + (i % 16)), 64, i));
    let sent = 0;
    let swaps = 0;
    let nextSwap = 500;
    const processed = () => d.totals().packets;
    const drops = () => {
      const s = d.xskStats();
      return s.rxDropped + s.rxRingFull;
    };
    try {
      for (let i = 0; i < 200_000 && processed() + drops() < BigInt(N); i++) {
        const inFlight = sent - Number(processed() + drops());
        if (sent < N && inFlight < 256) sent += sender.send(frames, sent, 256 - inFlight);
        if (sent >= nextSwap) {
          // detach-free swap: the other program takes over between two packets of the worker's poll loop
          await i40eXdpSetup(netdev, progs[++swaps % 2] as never);
          nextSwap += 500;
        }
        d.kick();
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      Atomics.store(stop, 0, 1);
    }
    const workerProcessed = await polled;
    reader.unregister();
    const [pa, pb] = progs.map((p) => (p as ReturnType<typeof xdpRxqInfo>).counters().processed) as [bigint, bigint];
    console.log(`xsk mode, ${swaps} program swaps during ${N} frames: ${pa} + ${pb} packets, kernel drops ${drops()}`);
    expect(sent).toBe(N);
    expect(drops()).toBe(0n);
    expect(workerProcessed).toBe(BigInt(N));
    expect(pa + pb).toBe(BigInt(N));
    expect(d.totals().actions.DROP).toBe(BigInt(N));
    expect(swaps).toBeGreaterThanOrEqual(30);
    expect([pa > 0n, pb > 0n]).toEqual([true, true]);
  });

  it('dispose detaches the kernel program and closes the sockets: the queues can be bound again at once', async () => {
    ns = createTestNetns();
    const env = ns;
    const a = arena as NativeArena;
    const options = { mode: 'xsk' as const, xsk: { interfaces: [{ ifindex: env.rx.ifindex }], ringSize: 64 } };
    const usage = a.usage();
    const fds = readdirSync('/proc/self/fd').length;
    device = new I40eDevice(a, options);
    expect(
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((l) => l.includes('socket:[')).length,
    ).toBe(4);
    expect(JSON.stringify(JSON.parse(execFileSync('ip', ['-n', env.name, '-j', 'link', 'show', 'xsk0'], { encoding: 'utf8' })))).toContain(
      '"xdp"',
    );
    await device.dispose();
    expect(() => device?.kick()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    // everything given back: arena memory (UMEM included), file descriptors, ring mappings, the kernel program
    expect(a.usage()).toEqual(usage);
    expect(readdirSync('/proc/self/fd').length).toBe(fds);
    expect(
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((l) => l.includes('socket:[')).length,
    ).toBe(0);
    expect(
      JSON.stringify(JSON.parse(execFileSync('ip', ['-n', env.name, '-j', 'link', 'show', 'xsk0'], { encoding: 'utf8' }))),
    ).not.toContain('"xdp"');
    // a new device binds the same queue (the constructor waits out the kernel's deferred release)
    device = new I40eDevice(a, options);
    expect(device.xskQueues()).toHaveLength(1);
    // bad options are refused before anything is opened
    for (const bad of [
      { interfaces: [] },
      { interfaces: [{ ifindex: 0 }] },
      { interfaces: [{ ifindex: 5, queues: [64] }] },
      { interfaces: [{ ifindex: 5 }], ringSize: 100 },
      undefined,
    ]) {
      expect(() => new I40eDevice(a, { mode: 'xsk', xsk: bad as never })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    // an interface that does not exist: the kernel's refusal, typed, and nothing left open
    expect(() => new I40eDevice(a, { mode: 'xsk', xsk: { interfaces: [{ ifindex: 99_999 }] } })).toThrow(
      expect.objectContaining({ call: expect.stringContaining('bind'), errnoName: 'ENODEV' }),
    );
  });
});
