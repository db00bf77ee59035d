/**
 * Nothing a caller does crashes the process: look-alike objects, bypassing the netdevs,
 * readers and devices of disposed arenas, bad numbers. Devices free what they allocate.
 */

import { runtimeOf } from '@bpf-dispatcher/runtime';
import { NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, NOP5 } from '@bpf-dispatcher/x86';
import { XdpAction, xdpCallUpdate, xdpDrop, xdpPass, xdpRecord } from '@bpf-dispatcher/xdp-call';
import { describe, expect, it } from 'vitest';
import { I40eDevice, Netdev } from './device.js';
import { emitDriverLoop } from './driver-loop.js';
import { emitNapiPoll } from './napi-poll.js';
import { RxRing } from './ring.js';
import { defaultFlows } from './traffic/flows.js';
import { i40eXdpSetup } from './xdp-setup.js';

const ARENAS: [string, () => TextArena, number][] = [
  ['simulated', () => new SimulatedArena({ textSize: 64 << 10, dataSize: 96 << 10, stackSize: 16 << 10 }), 10_000],
  ...(nativeSupported()
    ? ([['native', () => new NativeArena({ textSize: 64 << 10, dataSize: 96 << 10 }), 2_000]] as [string, () => TextArena, number][])
    : []),
];

describe.each(ARENAS)('i40e hardening on the %s arena', (_name, create, cycles) => {
  it("the device's xdp_call refuses to detach a netdev's program behind its back (EPERM); the netdev state stays right", async () => {
    const arena = create();
    const device = new I40eDevice(arena, { ringSize: 8 });
    const eth0 = device.netdevs[0] as Netdev;
    const prog = xdpDrop(arena);
    await i40eXdpSetup(eth0, prog);
    await expect(xdpCallUpdate(device.xdpCall, prog, null)).rejects.toMatchObject({ code: 'EPERM' });
    await expect(device.xdpCall.dispose()).rejects.toMatchObject({ code: 'EPERM' });
    expect(device.xdpCall.usersOf(prog)).toBe(1);
    // extra dispatcher entries (as the benchmark adds) are still allowed, and removable
    const extra = xdpPass(arena);
    await xdpCallUpdate(device.xdpCall, null, extra);
    expect(device.xdpCall.dispatcher.numProgs).toBe(2);
    await xdpCallUpdate(device.xdpCall, extra, null);
    await expect(xdpCallUpdate(device.xdpCall, prog, null)).rejects.toMatchObject({ code: 'EPERM' });
    expect(device.run(8)).toBe(8n);
    expect(device.totals().actions.DROP).toBe(8n);
    await i40eXdpSetup(eth0, null); // the netdev's own detach still works
    expect([...arena.read(device.xdpCall.trampoline.entry, 5)]).toEqual([...NOP5]);
    expect(eth0.xdpProg).toBeNull();
    await device.dispose();
    arena.dispose();
  });

  it('look-alike programs and netdevs are typed errors; attached programs cannot be disposed', async () => {
    const arena = create();
    const device = new I40eDevice(arena, { ringSize: 8, dispatcher: false });
    const eth0 = device.netdevs[0] as Netdev;
    const prog = xdpDrop(arena);
    const lookAlike = { arena, bpfFunc: 0x1000n, struct: 0x1000n, insnsi: 0n, name: 'fake', id: 1 };
    await expect(i40eXdpSetup(eth0, lookAlike as never)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(i40eXdpSetup(eth0, { ...prog } as never)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(i40eXdpSetup(Object.create(Netdev.prototype), prog)).rejects.toMatchObject({ code: 'UNKNOWN_NETDEV' });
    await expect(i40eXdpSetup({ ...eth0 } as never, prog)).rejects.toMatchObject({ code: 'UNKNOWN_NETDEV' });
    expect(() => new Netdev(device, 9, 'eth9')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => new RxRing(eth0, 0, arena, { address: 0x1000n, size: 256, kind: 'data' } as never, 8)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => device.napiPoll({ ...device.rings[0] } as never)).toThrow(expect.objectContaining({ code: 'UNKNOWN_NETDEV' }));
    const gone = xdpPass(arena);
    await gone.dispose();
    await expect(i40eXdpSetup(eth0, gone)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(device.rings[0]?.progStruct()).toBe(0n);
    // without the dispatcher the rings alone hold the program: it is retained all the same
    await i40eXdpSetup(eth0, prog);
    await expect(prog.dispose()).rejects.toMatchObject({ code: 'EBUSY' });
    expect(device.run(8)).toBe(8n);
    await i40eXdpSetup(eth0, null);
    await prog.dispose();
    await device.dispose();
    arena.dispose();
  });

  it('bad packet counts, budgets, ring lists and readers are typed errors', async () => {
    const arena = create();
    // another arena at other addresses (two default simulated arenas share their addresses)
    const other = arena.kind === 'simulated' ? new SimulatedArena({ textBase: 0xffffffff80000000n }) : create();
    const device = new I40eDevice(arena, { ringSize: 8 });
    const otherReader = other.registerReader('x');
    const bad: [string, () => unknown, string][] = [
      ['NaN', () => device.run(Number.NaN), 'EINVAL'],
      ['Infinity', () => device.run(Number.POSITIVE_INFINITY), 'EINVAL'],
      ['1.5', () => device.run(1.5), 'EINVAL'],
      ['string', () => device.run('8' as never), 'EINVAL'],
      ['-1n', () => device.run(-1n), 'EINVAL'],
      ['2^64', () => device.run(1n << 64n), 'EINVAL'],
      ['null options', () => device.run(8, null as never), 'EINVAL'],
      ['budget NaN', () => device.run(8, { budget: Number.NaN }), 'EINVAL'],
      ['rings not an array', () => device.run(8, { rings: 'all' as never }), 'EINVAL'],
      ['fake reader', () => device.run(8, { reader: { counterAddress: 0x1000n } as never }), 'EINVAL'],
      ['reader of another arena', () => device.run(8, { reader: otherReader }), 'EINVAL'],
      ['napiPoll budget', () => device.napiPoll(device.rings[0] as RxRing, 0), 'EINVAL'],
      ['totals of a fake ring', () => device.totals([{} as never]), 'UNKNOWN_NETDEV'],
      ['totals not an array', () => device.totals(5 as never), 'EINVAL'],
    ];
    for (const [name, run, code] of bad) expect(run, name).toThrow(expect.objectContaining({ code }));
    const gone = arena.registerReader('gone');
    gone.unregister();
    expect(() => device.run(8, { reader: gone })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    const dead = create();
    const deadReader = dead.registerReader('dead');
    deadReader.offline();
    dead.dispose();
    expect(() => device.run(8, { reader: deadReader })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => device.napiPoll(device.rings[0] as RxRing, 8, { reader: deadReader })).toThrow(
      expect.objectContaining({ code: 'DISPOSED' }),
    );
    const reader = arena.registerReader('ok');
    expect(device.run(8n, { reader })).toBe(8n);
    expect(device.totals().packets).toBe(8n);
    reader.unregister();
    otherReader.unregister();
    await device.dispose();
    other.dispose();
    arena.dispose();
  });

  it('after the arena is disposed: DISPOSED everywhere, no view of unmapped memory', async () => {
    const arena = create();
    const device = new I40eDevice(arena, { ringSize: 8 });
    const ring = device.rings[0] as RxRing;
    await i40eXdpSetup(device.netdevs[0] as Netdev, xdpPass(arena));
    device.run(8);
    const stack = ring.drainStack();
    expect(stack.length).toBe(8);
    const totals = device.totals();
    arena.dispose();
    expect(stack[0]?.frame.length).toBe(64); // copies, still readable
    expect(totals.actions.PASS).toBe(8n);
    const calls: [string, () => unknown][] = [
      ['run', () => device.run(8)],
      ['napiPoll', () => device.napiPoll(ring)],
      ['driverLoopCall', () => device.driverLoopCall(8)],
      ['totals', () => device.totals()],
      ['counters', () => ring.counters()],
      ['resetCounters', () => ring.resetCounters()],
      ['progStruct', () => ring.progStruct()],
      ['drainStack', () => ring.drainStack()],
      ['drainTx', () => ring.drainTx()],
      ['setStats', () => device.setStats(true)],
      ['new device', () => new I40eDevice(arena)],
    ];
    for (const [name, run] of calls) expect(run, name).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(i40eXdpSetup(device.netdevs[0] as Netdev, null)).rejects.toMatchObject({ code: 'DISPOSED' });
    await device.dispose();
    await device.dispose();
  });

  it('after the device is disposed its rings report DISPOSED (their memory was freed)', async () => {
    const arena = create();
    const device = new I40eDevice(arena, { ringSize: 8 });
    const ring = device.rings[0] as RxRing;
    device.run(8);
    await device.dispose();
    expect(() => ring.counters()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => device.totals()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    arena.dispose();
  });

  it(`I40eDevice: ${cycles} cycles of create, attach, run, dispose keep memory flat`, async () => {
    const arena = create();
    const prog = xdpRecord(arena, { verdict: XdpAction.DROP });
    runtimeOf(arena); // the arena's eBPF runtime lives as long as the arena
    const before = arena.usage();
    for (let i = 0; i < cycles; i++) {
      const device = new I40eDevice(arena, { ringSize: 8, mode: i % 2 === 0 ? 'copy' : 'zc', verifyHandlers: i % 3 === 0 });
      if (i % 50 === 0) {
        await i40eXdpSetup(device.netdevs[0] as Netdev, prog);
        expect(device.run(8, { budget: 4, rings: [device.rings[0] as RxRing] })).toBe(8n);
        expect(device.totals().misrouted).toBe(0n);
      }
      await device.dispose();
    }
    expect(arena.usage()).toEqual(before);
    await prog.dispose();
    arena.dispose();
  }, 600_000);

  it('a constructor that fails (bad option, or an arena too small) leaves nothing allocated', () => {
    const arena = create();
    const before = arena.usage();
    const bad = [
      { verifyHandlers: 1 },
      { stats: 'yes' },
      { dispatcher: 0 },
      { retpoline: 'no' },
      { maxProgs: 99 },
      { syncTimeoutMs: -5 },
      { flows: [{}] },
      { flows: 'x' },
    ];
    for (const options of bad)
      expect(() => new I40eDevice(arena, options as never), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(arena.usage()).toEqual(before);
    // 16 netdevs of 4096-descriptor rings do not fit: ENOMEM part-way, everything freed
    expect(() => new I40eDevice(arena, { netdevs: 16, ringSize: 4096 })).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(() => new I40eDevice(arena, { netdevs: 2, ringSize: 64 })).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  });
});

describe('i40e: bad arguments are typed EINVAL, never TypeError', () => {
  it('every public function validates its arguments', () => {
    const arena = new SimulatedArena();
    const cases: [string, () => unknown][] = [
      ['new I40eDevice(null)', () => new I40eDevice(null as never)],
      ['new I40eDevice({})', () => new I40eDevice({} as never)],
      ['new I40eDevice(arena, null)', () => new I40eDevice(arena, null as never)],
      ['defaultFlows(NaN)', () => defaultFlows(Number.NaN)],
      ['defaultFlows(1e9)', () => defaultFlows(1e9)],
      ['emitNapiPoll(null)', () => emitNapiPoll(null as never, 0n, { mode: 'copy', stats: false })],
      ['emitNapiPoll entry', () => emitNapiPoll(new CodeBuffer(0n), 'x' as never, { mode: 'copy', stats: false })],
      ['emitNapiPoll options', () => emitNapiPoll(new CodeBuffer(0n), 0n, null as never)],
      ['emitNapiPoll mode', () => emitNapiPoll(new CodeBuffer(0n), 0n, { mode: 'dma' as never, stats: false })],
      ['emitNapiPoll signatureOffset', () => emitNapiPoll(new CodeBuffer(0n), 0n, { mode: 'copy', stats: false, verifyHandlers: true })],
      [
        'emitNapiPoll signatureOffset range',
        () => emitNapiPoll(new CodeBuffer(0n), 0n, { mode: 'copy', stats: false, verifyHandlers: true, signatureOffset: 0 }),
      ],
      ['emitDriverLoop(null)', () => emitDriverLoop(null as never, 0n)],
      ['emitDriverLoop entry', () => emitDriverLoop(new CodeBuffer(0n), null as never)],
    ];
    for (const [name, run] of cases) expect(run, name).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    arena.dispose();
  });
});
