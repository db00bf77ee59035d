import assert from 'node:assert/strict';
import { I40eDevice, buildUdpFrame, i40eXdpSetup, parseUdpFrame } from '@bpf-dispatcher/i40e';
import { XdpAction, createXdpBuff, defineXdpCall, xdpCallRun, xdpCallUpdate, xdpDrop, xdpPass, xdpRxqInfo, xdpTx, xdpUdpFilter } from '@bpf-dispatcher/xdp-call';
import type { Check } from '../suite.js';

const FLOW = { srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 4000, dstPort: 53 };

/** Checks of the xdp_call layer and the i40e shim. */
export const xdpChecks: readonly Check[] = [
  {
    id: 'xdp-call-flow',
    title: 'xdp_call attach/replace/detach',
    run: async (arena) => {
      const call = defineXdpCall(arena, 'conformance');
      const [drop, pass, tx] = [xdpDrop(arena), xdpPass(arena), xdpTx(arena)];
      const buff = createXdpBuff(arena, buildUdpFrame(FLOW), { ifindex: 2 });
      await xdpCallUpdate(call, null, drop);
      assert.equal(xdpCallRun(call, drop, buff.ctx), XdpAction.DROP);
      await xdpCallUpdate(call, drop, tx);
      assert.equal(xdpCallRun(call, tx, buff.ctx), XdpAction.TX);
      assert.deepEqual(parseUdpFrame(buff.frame()).dstMac, FLOW.srcMac, 'xdp_tx swapped the MACs');
      assert.equal(xdpCallRun(call, pass, buff.ctx), XdpAction.PASS, 'a program outside the dispatcher runs through the fallback');
      await xdpCallUpdate(call, tx, null);
      assert.equal(call.dispatcher.numProgs, 0);
      await call.dispose();
    },
  },
  {
    id: 'i40e-flow',
    title: 'i40e: eBPF xdp_rxq_info (C), shared slot',
    run: async (arena, kind) => {
      const packets = kind === 'native' ? 1_000_000 : 64;
      const device = new I40eDevice(arena, { netdevs: 2, queues: 2, ringSize: 16 });
      const [eth0, eth1] = device.netdevs;
      if (eth0 === undefined || eth1 === undefined) throw new Error('netdevs missing');
      const rxq = xdpRxqInfo(arena, { action: XdpAction.DROP, ifindex: eth0.ifindex });
      assert.equal(rxq.object.name, 'xdp_rxq_info.bpf.o', 'the program is the eBPF object compiled from bpf/xdp_rxq_info.bpf.c');
      await i40eXdpSetup(eth0, rxq);
      await i40eXdpSetup(eth1, rxq);
      assert.deepEqual(device.xdpCall.dispatcher.entries(), [{ prog: rxq.bpfFunc, users: 2 }], 'one slot shared by two netdevs');
      device.run(packets, { budget: 8 });
      const c = rxq.counters();
      assert.equal(c.processed, BigInt(packets));
      assert.equal(c.issue, BigInt(packets / 2), 'eth1 is not the configured ifindex');
      assert.equal(device.totals().actions.DROP, BigInt(packets / 2));
      assert.equal(device.totals().actions.ABORTED, BigInt(packets / 2));
      await i40eXdpSetup(eth1, null);
      assert.deepEqual(device.xdpCall.dispatcher.entries(), [{ prog: rxq.bpfFunc, users: 1 }], 'still dispatched for eth0');
      await device.dispose();
    },
  },
  {
    id: 'i40e-copy-zc',
    title: 'i40e: copy and zero-copy agree',
    run: async (arena, kind) => {
      const packets = kind === 'native' ? 1_000_000 : 64;
      const seen = [];
      for (const mode of ['copy', 'zc'] as const) {
        const device = new I40eDevice(arena, { mode, ringSize: 16 });
        const filter = xdpUdpFilter(arena, { port: 1002 });
        await i40eXdpSetup(device.netdevs[0] as never, filter);
        device.run(packets);
        seen.push({ actions: device.totals().actions, filter: filter.counters() });
        await device.dispose();
      }
      assert.deepEqual(seen[0], seen[1]);
      assert.equal(seen[0]?.actions.DROP, BigInt(packets / 8));
    },
  },
];
