/**
 * Profile-guided dispatch on the device: profileDispatcher measures calls per program from
 * the rings' counters and hands them to the dispatcher; profileDispatcherEvery repeats it
 * on an unref'd timer. Work is checked by counts, never by wall time.
 */
import { NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { type RxqInfoProg, XdpAction, xdpRxqInfo } from '@bpf-dispatcher/xdp-call';
import { afterEach, describe, expect, it } from 'vitest';
import { I40eDevice, type Netdev } from './device.js';
import type { DispatcherProfile } from './profile.js';
import { i40eXdpSetup } from './xdp-setup.js';

const ARENAS: [string, () => TextArena, number][] = [
  ['simulated', () => new SimulatedArena({ dataSize: 8 << 20 }), 48],
  ...(nativeSupported()
    ? ([['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 32 << 20 }), 100_000]] as [string, () => TextArena, number][])
    : []),
];

/** Each netdev with its own xdp_rxq_info (DROP). */
async function attachAll(arena: TextArena, device: I40eDevice): Promise<RxqInfoProg[]> {
  const progs: RxqInfoProg[] = [];
  for (const netdev of device.netdevs) {
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: netdev.ifindex });
    progs.push(prog);
    await i40eXdpSetup(netdev, prog);
  }
  return progs;
}

/** Wait (yielding to the event loop) until `done()` or 2000 turns have passed; the test then checks counts. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe.each(ARENAS)('profileDispatcher on the %s arena', (_name, create, N) => {
  let arena: TextArena;
  let device: I40eDevice | undefined;
  afterEach(async () => {
    await device?.dispose();
    device = undefined;
    arena?.dispose();
  });

  it('counts calls per program from the rings since the last profile and lays the image out by them', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16, netdevs: 4, layout: 'profile' });
    const progs = await attachAll(arena, device);
    const [eth0, eth1, eth2, eth3] = device.netdevs as [Netdev, Netdev, Netdev, Netdev];
    expect(device.xdpCall.dispatcher.livePlan()).toMatchObject({ layout: 'kernel', reason: 'no-preference' });

    // all traffic on eth2
    device.run(N, { rings: eth2.rings });
    const first = await device.profileDispatcher();
    expect(first.netdevs.map((n) => [n.netdev, n.calls])).toEqual([
      [eth0, 0n],
      [eth1, 0n],
      [eth2, BigInt(N)],
      [eth3, 0n],
    ]);
    expect(first.calls).toBe(BigInt(N));
    expect(first.weights).toEqual(new Map([[(progs[2] as RxqInfoProg).bpfFunc, N]]));
    expect(first.outcome).toMatchObject({ regenerated: true, layout: 'profile', expectedInstructions: { after: 2 } });
    const plan = device.xdpCall.dispatcher.livePlan();
    expect(plan?.tree.kind === 'probe' && plan.progs[plan.tree.prog]).toBe((progs[2] as RxqInfoProg).bpfFunc);

    // no traffic since: nothing measured, nothing changed
    const idle = await device.profileDispatcher();
    expect({ calls: idle.calls, outcome: idle.outcome, size: idle.weights.size }).toEqual({ calls: 0n, outcome: null, size: 0 });
    expect(device.xdpCall.dispatcher.weights().get((progs[2] as RxqInfoProg).bpfFunc)).toBe(N);

    // then eth0 twice and eth3 once per round: only the new packets count
    device.run(3 * N, { rings: [eth0.rings[0], eth0.rings[0], eth3.rings[0]] as never, budget: 1 });
    const second = await device.profileDispatcher();
    expect(second.netdevs.map((n) => n.calls)).toEqual([BigInt(2 * N), 0n, 0n, BigInt(N)]);
    expect(second.outcome?.layout).toBe('profile');
    expect(device.xdpCall.dispatcher.weights()).toEqual(
      new Map([
        [(progs[0] as RxqInfoProg).bpfFunc, 2 * N],
        [(progs[1] as RxqInfoProg).bpfFunc, 0],
        [(progs[2] as RxqInfoProg).bpfFunc, 0],
        [(progs[3] as RxqInfoProg).bpfFunc, N],
      ]),
    );
    // every packet went to its netdev's program (an rxq_info of another ifindex would count an issue)
    for (const [i, prog] of progs.entries())
      expect(prog.counters()).toMatchObject({ processed: BigInt([2 * N, 0, N, N][i] as number), issue: 0n });

    // uniform traffic over the four: the kernel's image again
    device.run(4 * N, { budget: 1 });
    const uniform = await device.profileDispatcher();
    expect(uniform.netdevs.map((n) => n.calls)).toEqual(new Array(4).fill(BigInt(N)));
    expect(uniform.outcome).toMatchObject({ regenerated: true, layout: 'kernel', reason: 'no-preference' });
  });

  it('netdevs sharing a program add up; packets without a program count for nothing; a counter that went back counts from zero', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16, netdevs: 3, layout: 'profile' });
    const [eth0, eth1, eth2] = device.netdevs as [Netdev, Netdev, Netdev];
    const shared = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: eth0.ifindex });
    const other = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: eth2.ifindex });
    await i40eXdpSetup(eth0, shared);
    await i40eXdpSetup(eth1, shared);
    await i40eXdpSetup(eth2, other);
    device.run(2 * N, { rings: [...eth0.rings, ...eth1.rings], budget: 1 });
    device.run(N, { rings: eth2.rings });
    const profile = await device.profileDispatcher();
    expect(profile.weights).toEqual(
      new Map([
        [shared.bpfFunc, 2 * N],
        [other.bpfFunc, N],
      ]),
    );
    await i40eXdpSetup(eth2, null);
    device.run(N, { rings: eth2.rings }); // no program: to the stack, no call
    // eth0's ring counted N calls at the last profile; reset, it counts fewer: a reset, counted from zero
    for (const ring of eth0.rings) ring.resetCounters();
    device.run(N / 2, { rings: eth0.rings });
    const next = await device.profileDispatcher();
    expect(next.netdevs.map((n) => n.calls)).toEqual([BigInt(N / 2), 0n, 0n]);
    expect(next.weights).toEqual(new Map([[shared.bpfFunc, N / 2]]));
    expect(device.xdpCall.dispatcher.numProgs).toBe(1);
  });

  it('profileDispatcherEvery profiles on a timer until stopped, replaces a running trigger and stops on dispose', async () => {
    arena = create();
    const dev = new I40eDevice(arena, { ringSize: 16, netdevs: 2, layout: 'profile' });
    device = dev;
    const progs = await attachAll(arena, dev);
    const seen: DispatcherProfile[] = [];
    const errors: unknown[] = [];
    const stop = dev.profileDispatcherEvery(1, { onProfile: (p) => seen.push(p), onError: (e) => errors.push(e) });
    expect(dev.profiling).toBe(true);
    dev.run(N, { rings: (dev.netdevs[1] as Netdev).rings });
    await until(() => seen.some((p) => p.calls > 0n));
    stop();
    expect(dev.profiling).toBe(false);
    expect(errors).toEqual([]);
    const busy = seen.filter((p) => p.calls > 0n);
    expect(busy.reduce((sum, p) => sum + p.calls, 0n)).toBe(BigInt(N));
    expect(busy[0]?.weights).toEqual(new Map([[(progs[1] as RxqInfoProg).bpfFunc, N]]));
    expect(dev.xdpCall.dispatcher.livePlan()?.layout).toBe('profile');
    const count = seen.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.length).toBe(count); // stopped: no more profiles

    // a second trigger replaces the first; dispose stops it
    const a: DispatcherProfile[] = [];
    const b: DispatcherProfile[] = [];
    dev.profileDispatcherEvery(1, { onProfile: (p) => a.push(p) });
    dev.profileDispatcherEvery(1, { onProfile: (p) => b.push(p) });
    await until(() => b.length >= 2);
    const aCount = a.length;
    expect(b.length).toBeGreaterThanOrEqual(2);
    await until(() => b.length >= 4);
    expect(a.length).toBe(aCount);
    await dev.dispose();
    expect(dev.profiling).toBe(false);
    device = undefined;
  });
});

describe('profileDispatcher: errors', () => {
  it('typed errors: kernel layout, no dispatcher, bad options and intervals, after dispose', async () => {
    const arena = new SimulatedArena({ dataSize: 8 << 20 });
    expect(() => new I40eDevice(arena, { layout: 'fast' as never })).toThrow(
      expect.objectContaining({ name: 'I40eError', code: 'EINVAL' }),
    );
    const kernel = new I40eDevice(arena, { ringSize: 16 });
    await expect(kernel.profileDispatcher()).rejects.toMatchObject({
      name: 'I40eError',
      code: 'EINVAL',
      message: expect.stringMatching(/layout is 'kernel'/),
    });
    expect(() => kernel.profileDispatcherEvery(10)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const plain = new I40eDevice(arena, { ringSize: 16, dispatcher: false, layout: 'profile' });
    await expect(plain.profileDispatcher()).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/without a dispatcher/),
    });
    const device = new I40eDevice(arena, { ringSize: 16, layout: 'profile' });
    for (const bad of [0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, '10', 2 ** 31]) {
      expect(() => device.profileDispatcherEvery(bad as never), String(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => device.profileDispatcherEvery(10, null as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device.profileDispatcherEvery(10, { onProfile: 1 as never })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device.profileDispatcherEvery(10, { onError: 'x' as never })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(device.profiling).toBe(false);
    for (const d of [kernel, plain, device]) await d.dispose();
    await expect(device.profileDispatcher()).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => device.profileDispatcherEvery(10)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    arena.dispose();
  });

  it('a profile the dispatcher refuses (a poller stalled in the half to rewrite) changes nothing; the next measures from the last good one', async () => {
    const arena = new SimulatedArena({ dataSize: 8 << 20 });
    const device = new I40eDevice(arena, { ringSize: 16, netdevs: 2, layout: 'profile', syncTimeoutMs: 50 });
    const progs = await attachAll(arena, device); // two updates: half 0, then half 2048 (half 0 retired)
    const [eth0, eth1] = device.netdevs as [Netdev, Netdev];
    const reader = arena.registerReader('poller');
    device.run(40, { rings: eth0.rings });
    const live = device.xdpCall.dispatcher.liveImage();
    await expect(device.profileDispatcher()).rejects.toMatchObject({ code: 'SYNC_TIMEOUT' });
    expect(device.xdpCall.dispatcher.liveImage()).toEqual(live);
    expect(device.xdpCall.dispatcher.weights()).toEqual(new Map(progs.map((p) => [p.bpfFunc, 0])));
    reader.unregister();
    device.run(8, { rings: eth1.rings });
    const profile = await device.profileDispatcher();
    expect(profile.netdevs.map((n) => n.calls)).toEqual([40n, 8n]);
    expect(profile.outcome).toMatchObject({ regenerated: true, layout: 'profile', waitedForGrace: true });
    await device.dispose();
    arena.dispose();
  });
});
