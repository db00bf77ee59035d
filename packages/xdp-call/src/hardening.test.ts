/**
 * Nothing a caller passes crashes the process: look-alike objects, stray ctx addresses,
 * objects of a disposed arena. Owner objects free what they allocate.
 */
import { NativeArena, SimulatedArena, type TextArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { CodeBuffer } from '@bpf-dispatcher/x86';
import { runtimeOf } from '@bpf-dispatcher/runtime';
import { describe, expect, it } from 'vitest';
import { XdpAction } from './actions.js';
import { emitXdpCallRun } from './call-site.js';
import { emitReadTsc, nsPerTick, ticksToNanoseconds } from './clock.js';
import { XDP_BUFF, XDP_RXQ } from './layout.js';
import { xdpRecord } from './programs/record.js';
import { xdpRxqInfo } from './programs/rxq-info.js';
import { emitReturn, xdpConstant, xdpDrop, xdpPass, xdpTx } from './programs/simple.js';
import { xdpUdpFilter } from './programs/udp-filter.js';
import { udpFrame } from './test-support/udp-frame.js';
import { XDP_HEADROOM, createXdpBuff } from './xdp-buff.js';
import { claimXdpCall, defineXdpCall, isXdpCall, xdpCallRun, xdpCallUpdate } from './xdp-call.js';
import { createXdpProg, isXdpProg } from './xdp-prog.js';


const ARENAS: [string, () => TextArena, number][] = [
  ['simulated', () => new SimulatedArena({ textSize: 64 << 10, dataSize: 64 << 10, stackSize: 16 << 10 }), 10_000],
  ...(nativeSupported() ? ([['native', () => new NativeArena({ textSize: 64 << 10, dataSize: 64 << 10 }), 2_000]] as [string, () => TextArena, number][]) : []),
];

describe.each(ARENAS)('xdp-call hardening on the %s arena', (_name, create, cycles) => {
  it('xdpCallRun refuses a ctx that is not an xdp_buff with EINVAL (0, 0x1000, text, zeroed or forged data, freed buffs)', () => {
    const arena = create();
    const call = defineXdpCall(arena, 'ctx');
    const prog = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: 1 }); // reads ctx->ingress_ifindex
    const good = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    const zeroed = arena.allocData(XDP_BUFF.size);
    const forged = arena.allocData(XDP_BUFF.size);
    const bytes = new Uint8Array(XDP_BUFF.size);
    const v = new DataView(bytes.buffer);
    v.setBigUint64(XDP_BUFF.data, good.data, true);
    v.setBigUint64(XDP_BUFF.dataEnd, good.data + 64n, true);
    v.setBigUint64(XDP_BUFF.dataMeta, good.data, true);
    v.setBigUint64(XDP_BUFF.dataHardStart, good.data - BigInt(XDP_HEADROOM), true);
    v.setBigUint64(XDP_BUFF.rxq, 0x1000n, true); // rxq points nowhere
    v.setUint32(XDP_BUFF.frameSize, XDP_HEADROOM + 64, true);
    v.setUint32(XDP_BUFF.ingressIfindex, 1, true);
    arena.write(forged.address, bytes);
    const freed = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    freed.free();
    freed.free();
    for (const ctx of [0n, 0x1000n, prog.bpfFunc, call.trampoline.entry, zeroed.address, forged.address, freed.ctx, arena.dataRange[1] - 8n, -1n]) {
      expect(() => xdpCallRun(call, prog, ctx), `ctx 0x${ctx.toString(16)}`).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => freed.frame()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(prog.counters().processed).toBe(0n); // nothing ran
    // a well-formed xdp_buff the caller built in data memory is accepted
    const rxq = arena.allocData(XDP_RXQ.size);
    arena.write(rxq.address, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0));
    v.setBigUint64(XDP_BUFF.rxq, rxq.address, true);
    arena.write(forged.address, bytes);
    expect(xdpCallRun(call, prog, forged.address)).toBe(XdpAction.DROP);
    expect(xdpCallRun(call, prog, good.ctx)).toBe(XdpAction.DROP);
    // frame_sz beyond the buffer's region (xdp_adjust_tail could grow past it) is refused
    v.setUint32(XDP_BUFF.frameSize, 1 << 15, true);
    arena.write(forged.address, bytes);
    expect(() => xdpCallRun(call, prog, forged.address)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    // a buffer createXdpBuff made, overwritten with garbage, is refused as well
    arena.write(good.ctx + BigInt(XDP_BUFF.rxq), new Uint8Array(8));
    expect(() => xdpCallRun(call, prog, good.ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    arena.dispose();
  });

  it('look-alike, disposed and foreign programs and calls are typed errors (recognised by identity, not shape)', async () => {
    const arena = create();
    const other = create();
    const call = defineXdpCall(arena, 'brand');
    const prog = xdpDrop(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    const lookAlike = { arena, bpfFunc: 0x1000n, struct: 0x1000n, insnsi: 0n, name: 'fake', id: 1 };
    const copy = { ...prog };
    expect(isXdpProg(lookAlike)).toBe(false);
    expect(isXdpProg(copy)).toBe(false);
    expect(isXdpCall({ ...call })).toBe(false);
    for (const fake of [lookAlike, copy]) {
      expect(() => xdpCallRun(call, fake as never, buff.ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      await expect(xdpCallUpdate(call, null, fake as never)).rejects.toMatchObject({ code: 'EINVAL' });
    }
    expect(() => xdpCallRun({ ...call } as never, prog, buff.ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => xdpCallRun(Object.create(call), prog, buff.ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const foreign = xdpDrop(other);
    expect(() => xdpCallRun(call, foreign, buff.ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const gone = xdpPass(arena);
    await gone.dispose();
    expect(gone.disposed).toBe(true);
    expect(() => xdpCallRun(call, gone, buff.ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await expect(xdpCallUpdate(call, null, gone)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(() => gone.stats()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(xdpCallRun(call, prog, buff.ctx)).toBe(XdpAction.DROP);
    other.dispose();
    arena.dispose();
  });

  it('an attached program refuses to be disposed (EBUSY) until detached', async () => {
    const arena = create();
    const call = defineXdpCall(arena, 'hold');
    const prog = xdpDrop(arena);
    await xdpCallUpdate(call, null, prog);
    await xdpCallUpdate(call, null, prog);
    await expect(prog.dispose()).rejects.toMatchObject({ code: 'EBUSY' });
    await xdpCallUpdate(call, prog, null);
    await expect(prog.dispose()).rejects.toMatchObject({ code: 'EBUSY' });
    await xdpCallUpdate(call, prog, null);
    await prog.dispose();
    // disposing the xdp_call releases what it held
    const held = xdpPass(arena);
    await xdpCallUpdate(call, null, held);
    await call.dispose();
    await held.dispose();
    arena.dispose();
  });

  it("a claimed xdp_call refuses to undo the owner's attachments from outside (EPERM); others may add and remove their own", async () => {
    const arena = create();
    const call = defineXdpCall(arena, 'owned');
    const prog = xdpDrop(arena);
    const extra = xdpPass(arena);
    const claim = claimXdpCall(call, 'driver');
    expect(call.owner).toBe('driver');
    expect(() => claimXdpCall(call, 'another')).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    await claim.update(null, prog);
    await expect(xdpCallUpdate(call, prog, null)).rejects.toMatchObject({ code: 'EPERM' });
    await expect(xdpCallUpdate(call, prog, extra)).rejects.toMatchObject({ code: 'EPERM' });
    await expect(call.dispose()).rejects.toMatchObject({ code: 'EPERM' });
    expect(call.usersOf(prog)).toBe(1);
    // someone else's attachment of the same program is theirs to undo, once
    await xdpCallUpdate(call, null, prog);
    await xdpCallUpdate(call, prog, null);
    await expect(xdpCallUpdate(call, prog, null)).rejects.toMatchObject({ code: 'EPERM' });
    await xdpCallUpdate(call, null, extra);
    expect(call.dispatcher.numProgs).toBe(2);
    await xdpCallUpdate(call, extra, null);
    expect(call.usersOf(prog)).toBe(1);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    expect(xdpCallRun(call, prog, buff.ctx)).toBe(XdpAction.DROP); // running is unaffected
    await claim.dispose();
    expect(call.disposed).toBe(true);
    arena.dispose();
  });

  it('after the arena is disposed every entry point reports DISPOSED', async () => {
    const arena = create();
    const call = defineXdpCall(arena, 'late');
    const prog = xdpRxqInfo(arena, { action: XdpAction.PASS, ifindex: 1 });
    const filter = xdpUdpFilter(arena, { port: 9 });
    const rec = xdpRecord(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    await xdpCallUpdate(call, null, prog);
    arena.dispose();
    const sync: [string, () => unknown][] = [
      ['xdpCallRun', () => xdpCallRun(call, prog, buff.ctx)],
      ['stats', () => prog.stats()],
      ['resetStats', () => prog.resetStats()],
      ['counters', () => prog.counters()],
      ['resetCounters', () => prog.resetCounters()],
      ['setAction', () => prog.setAction(XdpAction.DROP)],
      ['filter counters', () => filter.counters()],
      ['perIfindex', () => rec.perIfindex()],
      ['frame', () => buff.frame()],
      ['defineXdpCall', () => defineXdpCall(arena, 'x')],
      ['xdpDrop', () => xdpDrop(arena)],
      ['createXdpBuff', () => createXdpBuff(arena, udpFrame(), { ifindex: 1 })],
      ['claimXdpCall', () => claimXdpCall(call, 'x')],
    ];
    for (const [name, run] of sync) expect(run, name).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(xdpCallUpdate(call, prog, null)).rejects.toMatchObject({ code: 'DISPOSED' });
    buff.free();
    await call.dispose();
    await prog.dispose();
  });

  it(`XdpCall: ${cycles} cycles of define, attach, run, detach, dispose keep memory flat`, async () => {
    const arena = create();
    const prog = xdpDrop(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    const before = arena.usage();
    for (let i = 0; i < cycles; i++) {
      const call = defineXdpCall(arena, 'loop', { retpoline: i % 2 === 0 });
      await xdpCallUpdate(call, null, prog);
      if (i % 100 === 0) expect(xdpCallRun(call, prog, buff.ctx)).toBe(XdpAction.DROP);
      await call.dispose();
    }
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  }, 180_000);

  it(`xdp programs: ${cycles} cycles of every built-in program and an xdp_buff, created and disposed, keep memory flat`, async () => {
    const arena = create();
    runtimeOf(arena); // the arena's eBPF runtime (helpers, clock) lives as long as the arena
    const before = arena.usage();
    const makers = [
      () => xdpDrop(arena),
      () => xdpPass(arena),
      () => xdpTx(arena),
      () => xdpConstant(arena, XdpAction.REDIRECT),
      () => xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: 1 }),
      () => xdpUdpFilter(arena, { port: 53 }),
      () => xdpRecord(arena),
      () => createXdpProg(arena, 'custom', 16, (b) => emitReturn(b, XdpAction.PASS)),
    ];
    for (let i = 0; i < cycles; i++) {
      const prog = (makers[i % makers.length] as () => { dispose(): Promise<void> })();
      const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
      buff.free();
      await prog.dispose();
    }
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  }, 180_000);

  it('failed constructions free what they allocated; bad options are refused before allocating', () => {
    const arena = create();
    const before = arena.usage();
    for (const options of [{ max: 99 }, { max: 0 }, { retpoline: 1 }, { syncTimeoutMs: -1 }, null]) {
      expect(() => defineXdpCall(arena, 'bad', options as never), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => createXdpProg(arena, 'big', 16, (b) => b.nops(64))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => createXdpProg(arena, 'boom', 16, () => {
      throw new Error('emitter failed');
    })).toThrow('emitter failed');
    expect(() => xdpRecord(arena, { name: '' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(arena.usage()).toEqual(before);
    // fill the text so that the xdp_call runs out part-way
    const hog = [];
    const probe = arena.usage().text.capacity - arena.usage().text.used;
    hog.push(arena.alloc(probe - 96, 16));
    expect(() => defineXdpCall(arena, 'full')).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    for (const region of hog) arena.free(region);
    expect(arena.usage()).toEqual(before);
    arena.dispose();
  });
});

describe('xdp-call: bad arguments are typed EINVAL, never TypeError', () => {
  it('every public function validates its arguments', () => {
    const arena = new SimulatedArena();
    const call = defineXdpCall(arena, 'args');
    const prog = xdpDrop(arena);
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 1 });
    const cases: [string, () => unknown][] = [
      ['defineXdpCall(null)', () => defineXdpCall(null as never, 'x')],
      ['defineXdpCall({})', () => defineXdpCall({} as never, 'x')],
      ['defineXdpCall name', () => defineXdpCall(arena, 5 as never)],
      ['createXdpProg(null)', () => createXdpProg(null as never, 'p', 16, () => {})],
      ['createXdpProg size', () => createXdpProg(arena, 'p', Number.NaN, () => {})],
      ['createXdpProg emit', () => createXdpProg(arena, 'p', 16, null as never)],
      ['createXdpBuff(null)', () => createXdpBuff(null as never, udpFrame(), { ifindex: 1 })],
      ['createXdpBuff options', () => createXdpBuff(arena, udpFrame(), null as never)],
      ['xdpConstant(null)', () => xdpConstant(null as never, XdpAction.DROP)],
      ['xdpDrop(null)', () => xdpDrop(null as never)],
      ['xdpTx(undefined)', () => xdpTx(undefined as never)],
      ['xdpRxqInfo options', () => xdpRxqInfo(arena, null as never)],
      ['xdpRxqInfo(null)', () => xdpRxqInfo(null as never, { action: XdpAction.DROP, ifindex: 1 })],
      ['xdpUdpFilter options', () => xdpUdpFilter(arena, null as never)],
      ['xdpRecord options', () => xdpRecord(arena, 'x' as never)],
      ['emitReturn(null)', () => emitReturn(null as never, XdpAction.DROP)],
      ['emitReturn action', () => emitReturn(new CodeBuffer(0n), 9 as never)],
      ['emitReadTsc(null)', () => emitReadTsc(null as never)],
      ['emitXdpCallRun(null)', () => emitXdpCallRun(null as never, 0n, { ctx: 'rbx', prog: 'r12' })],
      ['emitXdpCallRun entry', () => emitXdpCallRun(new CodeBuffer(0n), '0x10' as never, { ctx: 'rbx', prog: 'r12' })],
      ['emitXdpCallRun regs', () => emitXdpCallRun(new CodeBuffer(0n), 0n, null as never)],
      ['nsPerTick(null)', () => nsPerTick(null as never)],
      ['ticksToNanoseconds', () => ticksToNanoseconds(arena, 5 as never)],
      ['xdpCallRun options', () => xdpCallRun(call, prog, buff.ctx, null as never)],
      ['xdpCallRun stats', () => xdpCallRun(call, prog, buff.ctx, { stats: 1 as never })],
      ['xdpCallRun string ctx', () => xdpCallRun(call, prog, '0x1000' as never)],
      ['claimXdpCall(null)', () => claimXdpCall(null as never, 'x')],
      ['claimXdpCall owner', () => claimXdpCall(call, null as never)],
    ];
    for (const [name, run] of cases) expect(run, name).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    arena.dispose();
  });
});
