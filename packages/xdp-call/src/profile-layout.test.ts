/** defineXdpCall's `layout` option reaches the dispatcher: the `profile` layout, driven by weights, on both arenas. */
import { NativeArena, SimulatedArena, type TextArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { afterEach, describe, expect, it } from 'vitest';
import { XdpAction } from './actions.js';
import { xdpConstant } from './programs/simple.js';
import { udpFrame } from './test-support/udp-frame.js';
import { createXdpBuff } from './xdp-buff.js';
import { defineXdpCall, xdpCallRun, xdpCallUpdate } from './xdp-call.js';

const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ...(nativeSupported()
    ? ([['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 })]] as [string, () => TextArena][])
    : []),
];

describe.each(ARENAS)('defineXdpCall layout option on the %s arena', (_name, create) => {
  let arena: TextArena;
  afterEach(() => arena?.dispose());

  it("passes 'profile' to the dispatcher; weights re-lay the image and every program still runs", async () => {
    arena = create();
    const call = defineXdpCall(arena, 'profiled', { layout: 'profile' });
    expect(call.dispatcher.layout).toBe('profile');
    const actions = [XdpAction.DROP, XdpAction.PASS, XdpAction.TX, XdpAction.ABORTED];
    const progs = actions.map((a, i) => xdpConstant(arena, a, `p${i}`));
    for (const p of progs) await xdpCallUpdate(call, null, p);
    const hot = progs[2] as (typeof progs)[number];
    const outcome = await call.dispatcher.setWeights([[hot.bpfFunc, 1]]);
    expect(outcome).toMatchObject({ regenerated: true, layout: 'profile', expectedInstructions: { after: 2 } });
    expect(call.dispatcher.disassemble().split('\n')[0]).toMatch(new RegExp(`cmp\\s+rdx,0x${hot.bpfFunc.toString(16)}$`));
    const buff = createXdpBuff(arena, udpFrame(), { ifindex: 2 });
    progs.forEach((p, i) => {
      expect(xdpCallRun(call, p, buff.ctx)).toBe(actions[i]);
    });
    await call.dispose();
  });

  it('defaults to the kernel layout; a bad layout is EINVAL before anything is allocated', () => {
    arena = create();
    expect(defineXdpCall(arena, 'plain').dispatcher.layout).toBe('kernel');
    expect(defineXdpCall(arena, 'kernel', { layout: 'kernel' }).dispatcher.layout).toBe('kernel');
    const before = arena.usage();
    for (const bad of ['profiled', 3, {}]) {
      expect(() => defineXdpCall(arena, 'bad', { layout: bad as never }), String(bad)).toThrow(
        expect.objectContaining({ name: 'XdpError', code: 'EINVAL' }),
      );
    }
    expect(arena.usage()).toEqual(before);
  });
});
