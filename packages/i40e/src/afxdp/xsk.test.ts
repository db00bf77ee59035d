import { readdirSync, readFileSync } from 'node:fs';
import { kernelBpfAvailable } from '@bpf-dispatcher/ebpf';
import { NativeArena, nativeSupported, SimulatedArena } from '@bpf-dispatcher/text-poke';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { I40eError } from '../errors.js';
import { XskRingView } from '../test-support/xsk-ring-view.js';
import { loadXdpTx, sendLiveFrames } from '../testbed/live-frames.js';
import { createTestNetns, netnsSupport, type TestNetns } from '../testbed/netns.js';
import { PacketSender, type PacketSenderStats } from '../testbed/packet-sender.js';
import { buildUdpFrame, type UdpFlow } from '../traffic/packet.js';
import { attachXskRedirect, openXsk, openXskWhenFree, type Xsk, XskError, type XskStats } from './index.js';
import { sys } from './sys.js';
import { AF_XDP, SOCK_RAW } from './uapi.js';

/** Open file descriptors of this process. */
const openFds = () => readdirSync('/proc/self/fd').length;
/** Mappings of socket memory (AF_XDP rings) in this process. */
const socketMappings = () =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes('socket:[')).length;

/** The error `f` throws (fails the test when it throws nothing). */
function thrown(f: () => unknown): I40eError {
  try {
    f();
  } catch (error) {
    expect(I40eError.isInstance(error), String(error)).toBe(true);
    return error as I40eError;
  }
  throw new Error('expected an error');
}

/** Frame sizes: deterministic, spread over 64..1500, both ends included. */
function sizes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? 64 : i === 1 ? 1500 : 64 + ((i * 7919 + 13) % 1437)));
}

const kernelDrops = (s: XskStats) => s.rxDropped + s.rxRingFull;

/** What {@link receive} saw. */
interface RxResult {
  received: number;
  /** Kernel-reported drops during the run. */
  drops: bigint;
  foreign: number;
  firstMismatch: string | undefined;
  polls: number;
  waits: number;
  kicks: number;
  seconds: number;
  stats: XskStats;
  sender: PacketSenderStats;
}

/**
 * Send `frames` from the peer and consume the rx ring in TypeScript until every frame
 * arrived or the kernel reports the rest dropped: each frame compared with what was
 * sent, in order; frames go back to the fill ring at once; the kernel is kicked when the
 * fill ring asks. At most `window` frames are in flight (sent, neither received nor
 * dropped). Waiting is bounded by counts — `maxQuietWaits` consecutive 100 ms polls with
 * nothing arriving — never by a deadline.
 */
function receive(
  xsk: Xsk,
  umem: Uint8Array,
  sender: PacketSender,
  frames: readonly Uint8Array[],
  options: { window: number; maxQuietWaits?: number },
): RxResult {
  const rx = new XskRingView(xsk.rings.rx);
  const fill = new XskRingView(xsk.rings.fill);
  const chunk = ~BigInt(xsk.umem.frameSize - 1);
  const maxQuietWaits = options.maxQuietWaits ?? 600;
  const maxPolls = 100 * frames.length + 100_000;
  let sent = 0;
  let received = 0;
  let foreign = 0;
  let drops = 0n;
  let firstMismatch: string | undefined;
  let polls = 0;
  let waits = 0;
  let quiet = 0;
  let kicks = 0;
  const baseline = kernelDrops(xsk.stats());
  const start = process.hrtime.bigint();
  while (received + Number(drops) < frames.length && polls < maxPolls && firstMismatch === undefined) {
    polls += 1;
    const inFlight = sent - received - Number(drops);
    if (sent < frames.length && inFlight < options.window) sent += sender.send(frames, sent, options.window - inFlight);
    const cons = rx.consumer();
    const n = (rx.producer() - cons) >>> 0;
    const fillProd = fill.producer();
    for (let k = 0; k < n; k++) {
      const d = rx.desc(cons + k);
      const bytes = umem.subarray(Number(d.addr), Number(d.addr) + d.len);
      const expected = frames[received];
      if (expected !== undefined && d.len === expected.length && Buffer.compare(bytes, expected) === 0) received += 1;
      else if (d.len < 42 || bytes[12] !== 0x08 || bytes[13] !== 0x00 || bytes[36] !== 0x07 || bytes[37] !== 0xd0)
        foreign += 1; // not IPv4 to UDP port 2000: the kernel's own
      else firstMismatch ??= `frame ${received}: got ${d.len} bytes, expected ${expected?.length}`;
      fill.setAddress(fillProd + k, d.addr & chunk);
    }
    if (n > 0) {
      fill.setProducer(fillProd + n);
      rx.setConsumer(cons + n);
      quiet = 0;
    }
    if (fill.needsWakeup() && xsk.kick().fill) kicks += 1;
    if (n === 0 && (sent - received - Number(drops) > 0 || sent === frames.length)) {
      if (!xsk.waitReadable(100)) {
        waits += 1;
        quiet += 1;
        drops = kernelDrops(xsk.stats()) - baseline;
        if (quiet >= maxQuietWaits) break;
      }
    }
  }
  const stats = xsk.stats();
  return {
    received,
    drops: kernelDrops(stats) - baseline,
    foreign,
    firstMismatch,
    polls,
    waits,
    kicks,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    stats,
    sender: sender.stats(),
  };
}

/** Why the kernel tests cannot run here (not root, no `ip`, no namespaces, no bpf(), no AF_XDP), or undefined. */
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

describe('openXsk: options are checked before anything is created', () => {
  it.skipIf(!nativeSupported())('bad options are EINVAL, a simulated arena UNSUPPORTED, a disposed one DISPOSED', () => {
    const arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 20 });
    const before = openFds();
    const ok = { ifindex: 1 };
    for (const bad of [
      null,
      {},
      { ifindex: 0 },
      { ifindex: -1 },
      { ifindex: 1.5 },
      { ...ok, queue: -1 },
      { ...ok, frameSize: 1000 },
      { ...ok, frameSize: 8192 },
      { ...ok, ringSize: 1000 },
      { ...ok, ringSize: 65536 },
      { ...ok, ringSize: 1 },
      { ...ok, ringSize: 512, frames: 100 },
      { ...ok, ringSize: 512, producerRingSize: 256 },
      { ...ok, producerRingSize: 3000 },
      { ...ok, producerRingSize: 131072 },
      { ...ok, frames: 1 << 20, frameSize: 4096 },
      { ...ok, mode: 'fast' },
      { ...ok, needWakeup: 'yes' },
    ]) {
      expect(thrown(() => openXsk(arena, bad as never)).code, JSON.stringify(bad)).toBe('EINVAL');
    }
    expect(thrown(() => openXsk(null as never, ok)).code).toBe('EINVAL');
    const simulated = new SimulatedArena({ dataSize: 1 << 20 });
    expect(thrown(() => openXsk(simulated, ok)).code).toBe('UNSUPPORTED');
    simulated.dispose();
    expect(openFds()).toBe(before);
    arena.dispose();
    expect(thrown(() => openXsk(arena, ok)).code).toBe('DISPOSED');
  });
});

describe('AF_XDP on a veth pair in a private network namespace', () => {
  let ns: TestNetns | undefined;
  let arena: NativeArena | undefined;
  const closers: (() => void)[] = [];
  const flow = (): UdpFlow => ({
    srcMac: [...(ns as TestNetns).peer.mac],
    dstMac: [...(ns as TestNetns).rx.mac],
    srcIp: 0x0a00_0002,
    dstIp: 0x0a00_0001,
    srcPort: 1000,
    dstPort: 2000,
  });
  /** Register `close` to run after the test (in reverse order), also when it fails. */
  function track<T extends { close(): void }>(value: T): T {
    closers.push(() => value.close());
    return value;
  }

  beforeEach((ctx) => {
    if (skipReason !== undefined) {
      console.warn(`AF_XDP tests skipped: ${skipReason}`);
      ctx.skip();
    }
    ns = createTestNetns();
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 32 << 20 });
  });

  afterEach(() => {
    for (const close of closers.splice(0).reverse()) {
      try {
        close();
      } catch {
        // keep cleaning up
      }
    }
    arena?.dispose();
    arena = undefined;
    ns?.close();
    ns = undefined;
  });

  it.each([
    ['in the softirq of each send', false],
    ['asynchronously (threaded NAPI)', true],
  ])(
    'receives 10,000 frames of 64..1500 bytes from the peer, %s, in order and intact: received + kernel drops = sent, none dropped',
    (how, threaded) => {
      const env = ns as TestNetns;
      const a = arena as NativeArena;
      const before = openFds();
      const xsk = track(
        openXsk(a, { ifindex: env.rx.ifindex, queue: 0, frames: 4096, frameSize: 2048, ringSize: 2048, mode: 'copy', needWakeup: true }),
      );
      expect([xsk.ifindex, xsk.queue, xsk.mode, xsk.zeroCopy, xsk.needWakeup]).toEqual([env.rx.ifindex, 0, 'copy', false, true]);
      // native code can address the UMEM with 32-bit displacements
      expect(xsk.umem.address + BigInt(xsk.umem.size)).toBeLessThanOrEqual(1n << 31n);
      expect(xsk.umem.address % 4096n).toBe(0n);
      // rx and completion: ringSize; fill and tx (the rings the application produces): twice that
    for (const [kind, ring] of Object.entries(xsk.rings)) {
      const size = kind === 'fill' || kind === 'tx' ? 4096 : 2048;
      expect([kind, ring.size, ring.mask, ring.descs > ring.producer]).toEqual([kind, size, size - 1, true]);
    }
      // the fill ring starts full
      const fill = new XskRingView(xsk.rings.fill);
      expect([fill.producer(), fill.consumer(), fill.address(0), fill.address(2047)]).toEqual([2048, 0, 0n, 2047n * 2048n]);
      const redirect = track(attachXskRedirect(xsk, env.rx.ifindex));
      expect(redirect.mode).toBe('native');
      expect(redirect.link.info()).toMatchObject({ type: 6, ifindex: env.rx.ifindex });
      if (threaded) env.threadedNapi(env.rx.name, true);
      const sender = track(PacketSender.open(env.peer.ifindex, 64));

      const N = 10_000;
      const frames = sizes(N).map((length, i) => buildUdpFrame(flow(), length, i));
      const r = receive(xsk, a.dataView(xsk.umem.region), sender, frames, { window: 256 });
      const bytes = frames.reduce((sum, f) => sum + f.length, 0);
      console.log(
        `AF_XDP copy mode, veth, queue 0, NAPI ${how}: ${r.received} of ${N} frames (${bytes} bytes, 64..1500) received in order in ${r.seconds.toFixed(3)} s ` +
          `(${(r.received / r.seconds / 1e3).toFixed(0)} kpps); kernel drops ${r.drops}; ${r.polls} polls, ${r.waits} quiet waits, ${r.kicks} kicks, ` +
          `${r.foreign} foreign frames; sender ${JSON.stringify(r.sender)}; stats ${JSON.stringify(r.stats, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
      );
      expect(r.firstMismatch).toBeUndefined();
      expect(r.sender.sent).toBe(N);
      expect(BigInt(r.received) + r.drops).toBe(BigInt(r.sender.sent));
      expect(r.received).toBe(N);
      expect(r.stats).toMatchObject({ rxDropped: 0n, rxInvalidDescs: 0n, rxRingFull: 0n, rxFillRingEmptyDescs: 0n });

      expect(socketMappings()).toBe(4);
      sender.close();
      redirect.close();
      xsk.close();
      expect(openFds()).toBe(before);
      expect(socketMappings()).toBe(0);
    },
  );

  it('a fill ring left empty: the kernel drops, and counts, exactly the frames it had no UMEM frame for', async () => {
    const env = ns as TestNetns;
    const a = arena as NativeArena;
    const R = 256;
    const xsk = track(openXsk(a, { ifindex: env.rx.ifindex, frames: R, ringSize: R }));
    track(attachXskRedirect(xsk, env.rx.ifindex));
    const sender = track(PacketSender.open(env.peer.ifindex, 64));
    const rx = new XskRingView(xsk.rings.rx);
    const frames = Array.from({ length: R + 100 }, (_, i) => buildUdpFrame(flow(), 64 + (i % 200), i));
    // batches of 64; before each, wait (bounded by a count) until the kernel has accounted for every frame sent
    let sent = 0;
    let checks = 0;
    const accounted = () => rx.producer() + Number(kernelDrops(xsk.stats()));
    while (accounted() < frames.length && checks < 20_000) {
      if (accounted() === sent) sent += sender.send(frames, sent, 64);
      else await new Promise((resolve) => setTimeout(resolve, 2));
      checks += 1;
    }
    const stats = xsk.stats();
    expect(sent).toBe(R + 100);
    expect(rx.producer()).toBe(R);
    expect(stats.rxDropped).toBe(100n);
    expect(stats.rxRingFull).toBe(0n);
    expect(stats.rxFillRingEmptyDescs).toBeGreaterThanOrEqual(1n);
    expect(stats.rxFillRingEmptyDescs).toBeLessThanOrEqual(stats.rxDropped);
    // what was received is the first R frames, in order
    const umem = a.dataView(xsk.umem.region);
    for (let i = 0; i < R; i++) {
      const d = rx.desc(i);
      expect(Buffer.compare(umem.subarray(Number(d.addr), Number(d.addr) + d.len), frames[i] as Uint8Array), `frame ${i}`).toBe(0);
    }
    // frames back in the fill ring: traffic flows again
    const fill = new XskRingView(xsk.rings.fill);
    for (let i = 0; i < R; i++) fill.setAddress(fill.producer() + i, rx.desc(i).addr & ~2047n);
    fill.setProducer(fill.producer() + R);
    rx.setConsumer(R);
    const more = frames.slice(0, 10);
    const r = receive(xsk, umem, sender, more, { window: 64 });
    expect([r.received, r.drops, r.firstMismatch]).toEqual([10, 0n, undefined]);
  });

  it('close() detaches: the queue is busy while a socket holds it and free after; a second program only after the first link closed', async () => {
    const env = ns as TestNetns;
    const a = arena as NativeArena;
    const before = openFds();
    const options = { ifindex: env.rx.ifindex, queue: 0, frames: 1024, ringSize: 512 };
    const first = track(openXsk(a, options));
    const busy = thrown(() => openXsk(a, options));
    expect(busy).toBeInstanceOf(XskError);
    expect([busy.code, (busy as XskError).errnoName]).toEqual(['EINVAL', 'EBUSY']);
    expect(busy.message).toMatch(/^bind\(ifindex \d+, queue 0, copy\): EBUSY/);
    await expect(openXskWhenFree(a, options, { attempts: 3 })).rejects.toMatchObject({ errnoName: 'EBUSY' });
    const redirect = track(attachXskRedirect(first));
    const twice = thrown(() => attachXskRedirect(first));
    expect([twice.code, (twice as XskError).errnoName, (twice as XskError).call]).toEqual([
      'EINVAL',
      'EBUSY',
      `BPF_LINK_CREATE(xsk_redirect, ifindex ${env.rx.ifindex}, native)`,
    ]);
    const sender = track(PacketSender.open(env.peer.ifindex, 16));
    const frames = Array.from({ length: 10 }, (_, i) => buildUdpFrame(flow(), 100 + i, i));
    expect(receive(first, a.dataView(first.umem.region), sender, frames, { window: 16 }).received).toBe(10);

    redirect.close();
    redirect.close();
    expect(redirect.closed).toBe(true);
    expect(redirect.link.closed).toBe(true);
    first.close();
    first.close();
    expect(first.closed).toBe(true);
    expect(thrown(() => first.fd).code).toBe('DISPOSED');
    expect(thrown(() => first.stats()).code).toBe('DISPOSED');
    expect(thrown(() => first.kick()).code).toBe('DISPOSED');
    expect(thrown(() => attachXskRedirect(first)).code).toBe('EINVAL');

    // the netdev's XDP slot is free at once; the queue once the kernel's deferred pool release ran (bounded retries)
    const second = track(await openXskWhenFree(a, options));
    const again = track(attachXskRedirect(second));
    expect(again.link.info().ifindex).toBe(env.rx.ifindex);
    expect(receive(second, a.dataView(second.umem.region), sender, frames, { window: 16 }).received).toBe(10);
    sender.close();
    again.close();
    second.close();
    expect(openFds()).toBe(before);
  });

  it("the kernel's live-frame generator (BPF_PROG_TEST_RUN, XDP_TX on the peer) reaches the socket too", () => {
    const env = ns as TestNetns;
    const a = arena as NativeArena;
    const xsk = track(openXsk(a, { ifindex: env.rx.ifindex, frames: 512, ringSize: 512 }));
    track(attachXskRedirect(xsk));
    const tx = track(loadXdpTx());
    const frame = buildUdpFrame(flow(), 128, 7);
    // 256 frames at most: veth's ring towards the peer (256) cannot overflow even if the peer's NAPI waits
    sendLiveFrames(tx, { ifindex: env.peer.ifindex, frame, repeat: 256, batchSize: 64 });
    const rx = new XskRingView(xsk.rings.rx);
    for (let waits = 0; rx.producer() < 256 && waits < 600; waits++) xsk.waitReadable(100);
    expect(rx.producer()).toBe(256);
    const umem = a.dataView(xsk.umem.region);
    for (let i = 0; i < 256; i++) {
      const d = rx.desc(i);
      expect(Buffer.compare(umem.subarray(Number(d.addr), Number(d.addr) + d.len), frame), `frame ${i}`).toBe(0);
    }
    expect(kernelDrops(xsk.stats())).toBe(0n);
  });

  it('refusals are typed errors naming the call and errno, partial set-ups are undone, and nothing leaks', async () => {
    const env = ns as TestNetns;
    const a = arena as NativeArena;
    const before = openFds();
    const refusal = (options: Parameters<typeof openXsk>[1]) => {
      const error = thrown(() => openXsk(a, options));
      expect(error).toBeInstanceOf(XskError);
      return [error.code, (error as XskError).errnoName];
    };
    // bind fails last, after the UMEM and the four ring mappings: all undone (8 MiB of UMEM each time, 32 MiB in the arena)
    for (let i = 0; i < 6; i++) expect(refusal({ ifindex: 4242, frames: 4096, frameSize: 2048 })).toEqual(['EINVAL', 'ENODEV']);
    expect(refusal({ ifindex: env.rx.ifindex, queue: 7 })).toEqual(['EINVAL', 'EINVAL']);
    // veth has no zero-copy driver mode
    expect(refusal({ ifindex: env.rx.ifindex, mode: 'zc' })).toEqual(['UNSUPPORTED', 'EOPNOTSUPP']);
    expect(socketMappings()).toBe(0);
    const small = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 20 });
    expect(thrown(() => openXsk(small, { ifindex: env.rx.ifindex, frames: 4096 })).code).toBe('EINVAL');
    small.dispose();
    expect(openFds()).toBe(before);

    const xsk = track(openXsk(a, { ifindex: env.rx.ifindex, ringSize: 64, frames: 64 }));
    expect(thrown(() => attachXskRedirect(null as never)).code).toBe('EINVAL');
    expect(thrown(() => attachXskRedirect(xsk, env.peer.ifindex)).code).toBe('EINVAL');
    expect(thrown(() => attachXskRedirect(xsk, xsk.ifindex, { mode: 'hw' as never })).code).toBe('EINVAL');
    expect(thrown(() => xsk.waitReadable(-1)).code).toBe('EINVAL');
    expect(xsk.waitReadable(0)).toBe(false);
    expect(xsk.kick({ force: true })).toEqual({ fill: true, tx: true });
    const generic = attachXskRedirect(xsk, xsk.ifindex, { mode: 'generic' });
    expect(generic.mode).toBe('generic');
    generic.close();
    xsk.close();
    // every UMEM goes back to the arena: 8 MiB each, six times, in 32 MiB
    for (let i = 0; i < 6; i++) (await openXskWhenFree(a, { ifindex: env.rx.ifindex, frames: 4096, frameSize: 2048 })).close();
    expect(openFds()).toBe(before);
    expect(socketMappings()).toBe(0);
  });
});
