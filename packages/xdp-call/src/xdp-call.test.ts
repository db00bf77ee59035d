import { NativeArena, SimulatedArena, type TextArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { CodeBuffer, NOP5 } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { XdpAction } from './actions.js';
import { emitXdpCallRun } from './call-site.js';
import { RXQ_INFO_MAX_RXQS, xdpRxqInfo } from './programs/rxq-info.js';
import { xdpDrop, xdpPass, xdpTx } from './programs/simple.js';
import { xdpUdpFilter } from './programs/udp-filter.js';
import { FRAME_MACS, udpFrame } from './test-support/udp-frame.js';
import { createXdpBuff } from './xdp-buff.js';
import { defineXdpCall, xdpCallRun, xdpCallUpdate } from './xdp-call.js';

const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ...(nativeSupported() ? ([['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 })]] as [string, () => TextArena][]) : []),
];

describe.each(ARENAS)('xdp_call on the %s arena', (_name, create) => {
  let arena: TextArena;
  afterEach(() => arena?.dispose());

  it('runs the built-in programs through the trampoline, with and without the dispatcher', async () => {
    arena = create();
    const call = defineXdpCall(arena, 'test_xdp_call');
    const drop = xdpDrop(arena);
    const pass = xdpPass(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 3 });
    expect(xdpCallRun(call, drop, buff.ctx)).toBe(XdpAction.DROP); // fallback: no dispatcher yet
    await xdpCallUpdate(call, null, drop);
    expect([...arena.read(call.trampoline.entry, 1)]).toEqual([0xe9]);
    expect(xdpCallRun(call, drop, buff.ctx)).toBe(XdpAction.DROP); // direct
    expect(xdpCallRun(call, pass, buff.ctx)).toBe(XdpAction.PASS); // not slotted: fallback
    await xdpCallUpdate(call, drop, pass);
    expect(call.dispatcher.entries().map((e) => e.prog)).toEqual([pass.bpfFunc]);
    await xdpCallUpdate(call, pass, null);
    expect([...arena.read(call.trampoline.entry, 5)]).toEqual([...NOP5]);
    await call.dispose();
  });

  it('xdp_tx swaps the Ethernet addresses; a runt frame is aborted', () => {
    arena = create();
    const call = defineXdpCall(arena, 'tx');
    const tx = xdpTx(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    expect(xdpCallRun(call, tx, buff.ctx)).toBe(XdpAction.TX);
    const sent = buff.frame();
    expect([...sent.subarray(0, 6)]).toEqual(FRAME_MACS.src);
    expect([...sent.subarray(6, 12)]).toEqual(FRAME_MACS.dst);
    expect([...sent.subarray(12)]).toEqual([...udpFrame().subarray(12)]); // headers and payload untouched
    const runt = createXdpBuff(arena, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), { ifindex: 1 });
    expect(xdpCallRun(call, tx, runt.ctx)).toBe(XdpAction.ABORTED);
    expect([...runt.frame()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('xdp_rxq_info counts globally and per queue, checks the ifindex, returns its action', () => {
    arena = create();
    const call = defineXdpCall(arena, 'rxq');
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: 7 });
    const frame = udpFrame();
    const runs: [number, number, number][] = [
      [7, 0, XdpAction.DROP],
      [7, 0, XdpAction.DROP],
      [7, 3, XdpAction.DROP],
      [7, RXQ_INFO_MAX_RXQS + 5, XdpAction.DROP],
      [8, 1, XdpAction.ABORTED],
    ];
    for (const [ifindex, queueIndex, verdict] of runs) {
      const buff = createXdpBuff(arena, frame, { ifindex, queueIndex });
      expect(xdpCallRun(call, prog, buff.ctx)).toBe(verdict);
    }
    const c = prog.counters();
    expect([c.processed, c.issue]).toEqual([5n, 1n]);
    expect(c.perQueue[0]).toEqual({ processed: 2n, issue: 0n });
    expect(c.perQueue[3]).toEqual({ processed: 1n, issue: 0n });
    expect(c.perQueue[RXQ_INFO_MAX_RXQS]).toEqual({ processed: 1n, issue: 1n });
    expect(c.perQueue[1]).toEqual({ processed: 0n, issue: 0n });
    prog.setAction(XdpAction.PASS);
    expect(xdpCallRun(call, prog, createXdpBuff(arena, frame, { ifindex: 7 }).ctx)).toBe(XdpAction.PASS);
    prog.resetCounters();
    expect(prog.counters().processed).toBe(0n);
    expect(() => xdpRxqInfo(arena, { action: 9 as never, ifindex: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('xdp_udp_filter drops its port and passes everything else, bounds-checked', () => {
    arena = create();
    const call = defineXdpCall(arena, 'udp');
    const prog = xdpUdpFilter(arena, { port: 53 });
    const run = (frame: Uint8Array) => xdpCallRun(call, prog, createXdpBuff(arena, frame, { ifindex: 1 }).ctx);
    expect(run(udpFrame(53))).toBe(XdpAction.DROP);
    expect(run(udpFrame(54))).toBe(XdpAction.PASS);
    expect(run(udpFrame(53 * 256))).toBe(XdpAction.PASS); // byte order matters
    const tcp = udpFrame(53);
    tcp[23] = 6;
    expect(run(tcp)).toBe(XdpAction.PASS);
    const arp = udpFrame(53);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(run(arp)).toBe(XdpAction.PASS);
    expect(run(udpFrame(53).subarray(0, 40))).toBe(XdpAction.PASS); // truncated UDP header
    expect(run(udpFrame(53).subarray(0, 30))).toBe(XdpAction.PASS); // truncated IP header
    // IP options: ihl = 6 moves the UDP header by 4 bytes
    const base = udpFrame(53);
    const withOptions = new Uint8Array(68);
    withOptions.set(base.subarray(0, 34), 0);
    withOptions.set([1, 1, 1, 1], 34);
    withOptions.set(base.subarray(34), 38);
    withOptions[14] = 0x46;
    expect(run(withOptions)).toBe(XdpAction.DROP);
    expect(prog.counters()).toEqual({ dropped: 2n, passed: 6n });
    expect(() => xdpUdpFilter(arena, { port: 70000 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('stats: cnt and time accumulate only when enabled', () => {
    arena = create();
    const call = defineXdpCall(arena, 'stats');
    const prog = xdpDrop(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    xdpCallRun(call, prog, buff.ctx);
    expect(prog.stats().cnt).toBe(0n);
    for (let i = 0; i < 5; i++) expect(xdpCallRun(call, prog, buff.ctx, { stats: true })).toBe(XdpAction.DROP);
    const stats = prog.stats();
    expect(stats.cnt).toBe(5n);
    expect(stats.ticks).toBeGreaterThan(0n);
    expect(stats.nsecs).toBeGreaterThan(0n);
    prog.resetStats();
    expect(prog.stats()).toEqual({ cnt: 0n, ticks: 0n, nsecs: 0n });
  });

  it('keeps users per program, refuses to detach what is not attached, validates input', async () => {
    arena = create();
    const call = defineXdpCall(arena, 'users');
    const [a, b] = [xdpDrop(arena), xdpPass(arena)];
    await xdpCallUpdate(call, null, a);
    await xdpCallUpdate(call, null, a);
    expect(call.usersOf(a)).toBe(2);
    expect(call.dispatcher.entries()).toEqual([{ prog: a.bpfFunc, users: 2 }]);
    await expect(xdpCallUpdate(call, b, null)).rejects.toMatchObject({ code: 'NOT_ATTACHED' });
    await expect(xdpCallUpdate(call, null, {} as never)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(xdpCallUpdate(call, undefined as never, a)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(xdpCallUpdate({} as never, null, a)).rejects.toMatchObject({ code: 'EINVAL' });
    const other = new SimulatedArena();
    await expect(xdpCallUpdate(call, null, xdpDrop(other))).rejects.toMatchObject({ code: 'EINVAL' });
    other.dispose();
    expect(call.usersOf(a)).toBe(2);
    await xdpCallUpdate(call, a, b);
    expect(call.attached().map((x) => [x.prog.name, x.users])).toEqual([
      ['xdp_drop', 1],
      ['xdp_pass', 1],
    ]);
    expect(() => xdpCallRun(call, null as never, 0n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => xdpCallRun(call, a, 5 as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => defineXdpCall(arena, '')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await call.dispose();
    await expect(xdpCallUpdate(call, a, null)).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => xdpCallRun(call, a, 0n)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('the call-site emitter insists on distinct callee-saved registers', () => {
    arena = create();
    const call = defineXdpCall(arena, 'site');
    const buf = new CodeBuffer(arena.textRange[0]);
    expect(() => emitXdpCallRun(buf, call.trampoline.entry, { ctx: 'rdi', prog: 'rbx' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => emitXdpCallRun(buf, call.trampoline.entry, { ctx: 'rbx', prog: 'rbx' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => emitXdpCallRun(buf, call.trampoline.entry, { ctx: 'rbx', prog: 'r12', statsScratch: 'r13' })).not.toThrow();
  });
});

describe.each(ARENAS)('xdp_record on the %s arena', (_name, create) => {
  it('signs the packet with its id in front of data and counts per ifindex', async () => {
    const arena = create();
    const { xdpRecord } = await import('./programs/record.js');
    const call = defineXdpCall(arena, 'rec');
    const prog = xdpRecord(arena, { verdict: XdpAction.PASS });
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 3 });
    expect(xdpCallRun(call, prog, buff.ctx)).toBe(XdpAction.PASS);
    expect(new DataView(arena.read(buff.data - 4n, 4).buffer).getUint32(0, true)).toBe(prog.id);
    const ctx = new DataView(arena.read(buff.ctx, 64).buffer);
    expect([ctx.getUint32(44, true), ctx.getUint32(48, true)]).toEqual([3, 0]); // xdp_md ingress_ifindex, rx_queue_index
    xdpCallRun(call, prog, createXdpBuff(arena, udpFrame(), { ifindex: 40 }).ctx);
    const counts = prog.perIfindex();
    expect([counts[3], counts[15], counts[0]]).toEqual([1n, 1n, 0n]);
    arena.dispose();
  });
});

describe('one lock per xdp_call', () => {
  it('updates and dispose queue on the same private lock: an update called after dispose() finds it disposed, and attachments are released', async () => {
    const arena = new SimulatedArena();
    const call = defineXdpCall(arena, 'lock');
    const drop = xdpDrop(arena);
    const attach = xdpCallUpdate(call, null, drop);
    const disposing = call.dispose();
    const late = xdpCallUpdate(call, null, drop);
    await attach;
    await disposing;
    await expect(late).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(call.attached()).toEqual([]);
    await drop.dispose(); // no attachment holds it any more
    expect(drop.disposed).toBe(true);
    arena.dispose();
  });
});
