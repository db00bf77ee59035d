/**
 * The native structs are defined once (text-poke's defineStruct) and the emitters use their
 * offsets: the layouts must stay byte for byte what the JIT'd code was written against, and
 * the one xdp_buff initialiser must produce buffers the programs and the checks accept.
 */
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { XdpAction } from './actions.js';
import { BPF_PROG, BpfProgStruct, XDP_BUFF, XDP_RXQ, XdpBuffStruct, XdpRxqInfoStruct } from './layout.js';
import { RxqInfoConfigStruct, RxqInfoRecordStruct, xdpRxqInfo } from './programs/rxq-info.js';
import { udpFrame } from './test-support/udp-frame.js';
import { XDP_BUFF_RXQ_SIZE, XDP_HEADROOM, checkXdpBuff, initXdpBuff } from './xdp-buff.js';
import { defineXdpCall, xdpCallRun, xdpCallUpdate } from './xdp-call.js';

describe('native struct layouts', () => {
  it('keep the offsets the emitted code was written against', () => {
    expect(XDP_BUFF).toEqual({ data: 0, dataEnd: 8, dataMeta: 16, dataHardStart: 24, rxq: 32, frameSize: 40, ingressIfindex: 44, rxQueueIndex: 48, cpu: 52, egressIfindex: 56, size: 64 });
    expect(XDP_RXQ).toEqual({ ifindex: 0, queueIndex: 4, size: 16 });
    expect(BPF_PROG).toEqual({ bpfFunc: 0, insnsi: 8, statsCnt: 16, statsTicks: 24, id: 32, size: 64 });
    // the C structs of bpf/xdp_rxq_info.bpf.c (the values of its maps)
    expect([RxqInfoConfigStruct.offsets, RxqInfoConfigStruct.size]).toEqual([{ action: 0, ifindex: 4, options: 8 }, 12]);
    expect([RxqInfoRecordStruct.offsets, RxqInfoRecordStruct.size]).toEqual([{ processed: 0, issue: 8 }, 16]);
    expect([XdpBuffStruct.align, XdpRxqInfoStruct.align, BpfProgStruct.align]).toEqual([8, 4, 8]);
  });
});

describe('initXdpBuff (xdp_init_buff + xdp_prepare_buff)', () => {
  it('lays out an xdp_buff and its rxq info that checkXdpBuff accepts and a program reads', async () => {
    const arena = new SimulatedArena();
    const frame = udpFrame();
    const buffer = arena.allocData(XDP_HEADROOM + frame.length);
    const data = buffer.address + BigInt(XDP_HEADROOM);
    arena.write(data, frame);
    const meta = arena.allocData(XDP_BUFF_RXQ_SIZE, 64);
    const { ctx, rxq } = initXdpBuff(arena, meta, { frameSize: XDP_HEADROOM + frame.length, ifindex: 7, queueIndex: 3, packet: { hardStart: buffer.address, data, length: frame.length } });
    expect(ctx).toBe(meta.address);
    expect(rxq).toBe(meta.address + BigInt(XDP_BUFF.size));
    const view = XdpBuffStruct.view(arena, meta);
    expect([view.get('data'), view.get('dataMeta'), view.get('dataEnd'), view.get('dataHardStart')]).toEqual([data, data, data + 64n, buffer.address]);
    expect([view.get('rxq'), view.get('frameSize'), view.get('ingressIfindex'), view.get('rxQueueIndex')]).toEqual([rxq, XDP_HEADROOM + 64, 7, 3]);
    expect(checkXdpBuff(arena, ctx, 'test')).toBe(ctx);

    const call = defineXdpCall(arena, 'init');
    const prog = xdpRxqInfo(arena, { action: XdpAction.PASS, ifindex: 7 });
    await xdpCallUpdate(call, null, prog);
    expect(xdpCallRun(call, prog, ctx)).toBe(XdpAction.PASS);
    const counters = prog.counters();
    expect([counters.processed, counters.issue, counters.perQueue[3]?.processed]).toEqual([1n, 0n, 1n]);
    arena.dispose();
  });

  it('without a packet it sets only the rxq side (a driver fills the data pointers per packet); bad values are EINVAL before any write', () => {
    const arena = new SimulatedArena();
    const meta = arena.allocData(XDP_BUFF_RXQ_SIZE, 64);
    arena.write(meta.address, new Uint8Array(XDP_BUFF_RXQ_SIZE).fill(0xaa));
    expect(() => initXdpBuff(arena, meta, { frameSize: 2048, ifindex: -1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => initXdpBuff(arena, meta, { frameSize: 2048, ifindex: 1, packet: { hardStart: 10n, data: 5n, length: 1 } })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(arena.read(meta.address, XDP_BUFF_RXQ_SIZE).every((b) => b === 0xaa)).toBe(true);
    initXdpBuff(arena, meta, { frameSize: 2048, ifindex: 2 });
    const view = XdpBuffStruct.view(arena, meta);
    expect([view.get('data'), view.get('dataEnd'), view.get('frameSize'), view.get('rxQueueIndex')]).toEqual([0n, 0n, 2048, 0]);
    expect(XdpRxqInfoStruct.view(arena, meta, XDP_BUFF.size).get('ifindex')).toBe(2);
    expect(() => initXdpBuff(arena, meta, { frameSize: 1, ifindex: 1 }, 8)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    arena.dispose();
  });
});
