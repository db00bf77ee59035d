import { createRuntime } from '@bpf-dispatcher/runtime';
import { NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { NOP5 } from '@bpf-dispatcher/x86';
import { RXQ_INFO_MAX_RXQS, XdpAction, xdpDrop, xdpPass, xdpRecord, xdpRxqInfo, xdpTx, xdpUdpFilter } from '@bpf-dispatcher/xdp-call';
import { afterEach, describe, expect, it } from 'vitest';
import { I40eDevice } from './device.js';
import type { RingCounters, RxRing } from './ring.js';
import { defaultFlows } from './traffic/flows.js';
import { parseUdpFrame } from './traffic/packet.js';
import { i40eXdpSetup } from './xdp-setup.js';

const ARENAS: [string, () => TextArena, number][] = [
  ['simulated', () => new SimulatedArena({ dataSize: 8 << 20 }), 96],
  ...(nativeSupported()
    ? ([['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 32 << 20 }), 200_000]] as [string, () => TextArena, number][])
    : []),
];

const zero = { ABORTED: 0n, DROP: 0n, PASS: 0n, TX: 0n, REDIRECT: 0n };
const actions = (partial: Partial<RingCounters['actions']>) => ({ ...zero, ...partial });

describe.each(ARENAS)('i40e shim on the %s arena', (_name, create, N) => {
  let arena: TextArena;
  let device: I40eDevice | undefined;
  afterEach(async () => {
    await device?.dispose();
    device = undefined;
    arena?.dispose();
  });

  it('xdp_drop: every packet dropped, counted once, through the dispatcher', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 32 });
    const [eth0] = device.netdevs;
    const drop = xdpDrop(arena);
    await i40eXdpSetup(eth0 as never, drop);
    expect(arena.read(device.xdpCall.trampoline.entry, 1)[0]).toBe(0xe9);
    expect(device.run(N)).toBe(BigInt(N));
    const c = device.totals();
    expect({ packets: c.packets, bytes: c.bytes, actions: c.actions, errors: c.errors, noProg: c.noProg }).toEqual({
      packets: BigInt(N),
      bytes: BigInt(N * 64),
      actions: actions({ DROP: BigInt(N) }),
      errors: 0n,
      noProg: 0n,
    });
  });

  it('the poller index reaches the programs as their CPU: per-CPU maps keep each poller apart, and an index beyond the runtime is EINVAL', async () => {
    arena = create();
    createRuntime(arena, { cpus: 2 });
    device = new I40eDevice(arena, { ringSize: 16 });
    const [eth0] = device.netdevs;
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: (eth0 as { ifindex: number }).ifindex });
    await i40eXdpSetup(eth0 as never, prog);
    const [first] = device.rings as [RxRing];
    expect(device.run(48, { rings: [first], cpu: 0 })).toBe(48n);
    expect(device.run(32, { rings: [first], cpu: 1 })).toBe(32n);
    expect(device.napiPoll(first, 8, { cpu: 1 })).toBe(8);
    const perCpu = prog.object
      .map('stats_global_map')
      .map.lookupPerCpu(0)
      ?.map((v) => new DataView(v.buffer, v.byteOffset).getBigUint64(0, true));
    expect(perCpu).toEqual([48n, 40n]);
    expect(prog.counters().processed).toBe(88n);
    expect(() => device?.run(8, { rings: [first], cpu: 2 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device?.napiPoll(first, 8, { cpu: -1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await i40eXdpSetup(eth0 as never, null);
    await prog.dispose();
  });

  it('no program: every packet goes to the stack', () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16 });
    expect(device.run(40)).toBe(40n);
    const c = device.totals();
    expect([c.noProg, c.actions.PASS, c.stackEnqueued + c.stackDropped]).toEqual([40n, 40n, 40n]);
    expect(c.stackEnqueued).toBe(16n); // the queue holds 16 until drained
    const frames = device.rings[0]?.drainStack() ?? [];
    expect(frames.length).toBe(16);
    expect(parseUdpFrame(arena.read(frames[0]?.data ?? 0n, frames[0]?.length ?? 0))).toMatchObject({
      ipChecksumOk: true,
      udpChecksumOk: true,
    });
    // a consumer that only counts: discardStack after each poll keeps the queue from filling
    const ring = device.rings[0] as RxRing;
    ring.resetCounters();
    for (let i = 0; i < 5; i++) {
      expect(device.napiPoll(ring, 12)).toBe(12);
      expect(ring.discardStack()).toBe(12);
    }
    expect(ring.drainStack()).toEqual([]);
    expect([ring.counters().stackEnqueued, ring.counters().stackDropped]).toEqual([60n, 0n]);
  });

  it.each(['copy', 'zc'] as const)('%s mode: verdicts for drop/pass/tx/udp_filter traffic are exact', async (mode) => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16, mode });
    const [eth0] = device.netdevs as [never];
    const ring = device.rings[0];
    if (!ring) throw new Error('no ring');
    const packets = 64;
    const filter = xdpUdpFilter(arena, { port: defaultFlows()[3]?.dstPort ?? 0 });
    const cases: [ReturnType<typeof xdpDrop>, Partial<RingCounters['actions']>][] = [
      [xdpDrop(arena), { DROP: 64n }],
      [xdpPass(arena), { PASS: 64n }],
      [xdpTx(arena), { TX: 64n }],
      [filter, { DROP: 8n, PASS: 56n }],
    ];
    for (const [prog, expected] of cases) {
      await i40eXdpSetup(eth0, prog);
      ring.resetCounters();
      let done = 0;
      while (done < packets) {
        done += device.napiPoll(ring, 16);
        ring.drainStack();
        for (const frame of ring.drainTx()) {
          const parsed = parseUdpFrame(frame);
          expect(parsed.srcMac).toEqual(defaultFlows()[0]?.dstMac);
          expect(parsed.udpChecksumOk).toBe(true);
        }
      }
      const c = ring.counters();
      expect(c.actions, prog.name).toEqual(actions(expected));
      expect([c.packets, c.polls, c.stackDropped, c.txDropped]).toEqual([64n, 4n, 0n, 0n]);
    }
    expect(filter.counters()).toEqual({ dropped: 8n, passed: 56n });
  });

  it('copy and zero-copy agree on the same program and traffic', async () => {
    arena = create();
    const results = [];
    for (const mode of ['copy', 'zc'] as const) {
      const d = new I40eDevice(arena, { ringSize: 16, mode, queues: 2 });
      const prog = xdpUdpFilter(arena, { port: 1005 });
      await i40eXdpSetup(d.netdevs[0] as never, prog);
      d.run(N);
      const t = d.totals();
      results.push({ actions: t.actions, packets: t.packets, bytes: t.bytes, filter: prog.counters() });
      await d.dispose();
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0]?.actions.DROP).toBe(BigInt(N / 8));
  });

  it('xdp_rxq_info over several netdevs and queues: per-queue counts and the ifindex check', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16, netdevs: 2, queues: 2 });
    const [eth0, eth1] = device.netdevs as [never, never];
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: device.netdevs[0]?.ifindex ?? 0 });
    await i40eXdpSetup(eth0, prog);
    await i40eXdpSetup(eth1, prog);
    expect(device.xdpCall.dispatcher.entries()).toEqual([{ prog: prog.bpfFunc, users: 2 }]);
    device.run(N, { budget: 8 }); // round robin in polls of 8: every ring gets N / 4
    const c = prog.counters();
    const perRing = N / 4;
    expect(c.processed).toBe(BigInt(N));
    expect(c.issue).toBe(BigInt(2 * perRing)); // eth1 is not the configured ifindex
    expect(c.perQueue[0]?.processed).toBe(BigInt(perRing));
    expect(c.perQueue[1]?.processed).toBe(BigInt(perRing));
    expect(c.perQueue[RXQ_INFO_MAX_RXQS]?.processed).toBe(0n);
    expect(device.totals(device.netdevs[0]?.rings).actions).toEqual(actions({ DROP: BigInt(2 * perRing) }));
    expect(device.totals(device.netdevs[1]?.rings).actions).toEqual(actions({ ABORTED: BigInt(2 * perRing) }));
  });

  it('attach, replace and detach on several netdevs: slots and users follow', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 8, netdevs: 3 });
    const [eth0, eth1, eth2] = device.netdevs as [never, never, never];
    const [a, b] = [xdpDrop(arena), xdpPass(arena)];
    const slots = () => (device as I40eDevice).xdpCall.dispatcher.entries().map((e) => [e.prog === a.bpfFunc ? 'a' : 'b', e.users]);
    await i40eXdpSetup(eth0, a);
    await i40eXdpSetup(eth1, a);
    await i40eXdpSetup(eth2, b);
    expect(slots()).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    await i40eXdpSetup(eth0, b); // replace
    expect(slots()).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    await i40eXdpSetup(eth0, null); // detach one; b stays dispatched for eth2
    expect(slots()).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    device.run(24, { budget: 8 });
    expect(device.totals(device.netdevs[1]?.rings).actions.DROP).toBe(8n);
    expect(device.totals(device.netdevs[2]?.rings).actions.PASS).toBe(8n);
    expect(device.totals(device.netdevs[0]?.rings).noProg).toBe(8n);
    await i40eXdpSetup(eth1, null);
    await i40eXdpSetup(eth2, null);
    expect(slots()).toEqual([]);
    expect([...arena.read(device.xdpCall.trampoline.entry, 5)]).toEqual([...NOP5]);
  });

  it('without the dispatcher (the baseline) programs run through the trampoline fallback', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16, dispatcher: false });
    const prog = xdpDrop(arena);
    await i40eXdpSetup(device.netdevs[0] as never, prog);
    expect([...arena.read(device.xdpCall.trampoline.entry, 5)]).toEqual([...NOP5]);
    expect(device.xdpCall.dispatcher.numProgs).toBe(0);
    device.run(32);
    expect(device.totals().actions.DROP).toBe(32n);
    await i40eXdpSetup(device.netdevs[0] as never, null);
    device.run(8);
    expect(device.totals().noProg).toBe(8n);
  });

  it('verifyHandlers: signed packets pass, packets of a program that does not sign count as misrouted', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16, netdevs: 2, verifyHandlers: true });
    const [eth0, eth1] = device.netdevs as [never, never];
    const rec = xdpRecord(arena);
    await i40eXdpSetup(eth0, rec);
    await i40eXdpSetup(eth1, xdpDrop(arena)); // does not sign
    device.run(64, { budget: 8 });
    expect(device.totals(device.netdevs[0]?.rings).misrouted).toBe(0n);
    expect(device.totals(device.netdevs[1]?.rings).misrouted).toBe(32n);
    expect(rec.perIfindex()[device.netdevs[0]?.ifindex ?? 0]).toBe(32n);
  });

  it('stats on and off', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 16 });
    const prog = xdpDrop(arena);
    await i40eXdpSetup(device.netdevs[0] as never, prog);
    device.run(32);
    expect(prog.stats().cnt).toBe(0n);
    device.setStats(true);
    device.run(48);
    expect(prog.stats().cnt).toBe(48n);
    expect(prog.stats().ticks).toBeGreaterThan(0n);
    device.setStats(false);
    device.run(16);
    expect(prog.stats().cnt).toBe(48n);
    expect(device.totals().actions.DROP).toBe(96n);
  });

  it('rejects bad input with typed errors and changes nothing', async () => {
    arena = create();
    device = new I40eDevice(arena, { ringSize: 8 });
    const eth0 = device.netdevs[0] as never;
    await expect(i40eXdpSetup(eth0, null)).rejects.toMatchObject({ code: 'NOT_ATTACHED' });
    await expect(i40eXdpSetup({} as never, null)).rejects.toMatchObject({ code: 'UNKNOWN_NETDEV' });
    await expect(i40eXdpSetup(eth0, {} as never)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(i40eXdpSetup(eth0, undefined as never)).rejects.toMatchObject({ code: 'EINVAL' });
    const other = new SimulatedArena();
    await expect(i40eXdpSetup(eth0, xdpDrop(other))).rejects.toMatchObject({ code: 'EINVAL' });
    other.dispose();
    expect(device.xdpCall.dispatcher.numProgs).toBe(0);
    for (const bad of [
      { ringSize: 12 },
      { ringSize: 4 },
      { netdevs: 0 },
      { queues: 65 },
      { mode: 'dma' },
      { frameLength: 200 },
      { flows: [] },
    ]) {
      expect(() => new I40eDevice(arena, bad as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => device?.napiPoll({} as never)).toThrow(expect.objectContaining({ code: 'UNKNOWN_NETDEV' }));
    expect(() => device?.run(8, { rings: [] })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device?.run(8, { budget: 0 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device?.run(-1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device?.setStats('yes' as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const drop = xdpDrop(arena);
    await i40eXdpSetup(eth0, drop);
    await i40eXdpSetup(eth0, null);
    await expect(i40eXdpSetup(eth0, null)).rejects.toMatchObject({ code: 'NOT_ATTACHED' });
    await device.dispose();
    await expect(i40eXdpSetup(eth0, drop)).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => device?.run(1)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });
});

describe.skipIf(!nativeSupported())('i40e native driver loop at scale', () => {
  it('processes 10^7 packets through xdp_rxq_info with the dispatcher installed; every counter exact', async () => {
    const arena = new NativeArena({ textSize: 1 << 20, dataSize: 32 << 20 });
    const device = new I40eDevice(arena, { ringSize: 512, queues: 2 });
    const eth0 = device.netdevs[0];
    if (!eth0) throw new Error('no netdev');
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: eth0.ifindex });
    // a few other programs in the dispatcher, so the image is a real tree
    for (const other of [xdpPass(arena), xdpTx(arena), xdpDrop(arena)]) await device.xdpCall.dispatcher.changeProg(null, other.bpfFunc);
    await i40eXdpSetup(eth0, prog);
    expect(device.xdpCall.dispatcher.numProgs).toBe(4);
    const N = 10_000_000;
    expect(device.run(N, { budget: 64 })).toBe(BigInt(N));
    const c = prog.counters();
    expect([c.processed, c.issue, c.perQueue[0]?.processed, c.perQueue[1]?.processed]).toEqual([
      BigInt(N),
      0n,
      BigInt(N / 2),
      BigInt(N / 2),
    ]);
    const t = device.totals();
    expect(t).toEqual({
      packets: BigInt(N),
      bytes: BigInt(N * 64),
      actions: actions({ DROP: BigInt(N) }),
      errors: 0n,
      stackEnqueued: 0n,
      stackDropped: 0n,
      txPackets: 0n,
      txDropped: 0n,
      noProg: 0n,
      polls: BigInt(N / 64),
      misrouted: 0n,
    });
    await device.dispose();
    arena.dispose();
  }, 60_000);
});
