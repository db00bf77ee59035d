/**
 * The AF_XDP poll loop over capture-fed rings, on both arenas: every frame processed once
 * and in order, each verdict carried out (DROP and ABORTED refill, PASS copies out with
 * head adjustments, TX goes to the tx ring and comes back through the completion ring),
 * against a model of the test program; frames too long for a chunk skipped; the rings'
 * frame accounting intact after many ring-fulls.
 */
import { readFileSync } from 'node:fs';
import { openObject } from '@bpf-dispatcher/bpf-object';
import { NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { type XdpProg, xdpProgFromObject } from '@bpf-dispatcher/xdp-call';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { I40eDevice } from '../device.js';
import { i40eXdpSetup } from '../xdp-setup.js';

const ARENAS: [string, () => TextArena, number][] = [
  ['simulated', () => new SimulatedArena({ dataSize: 16 << 20 }), 120],
  ...(nativeSupported()
    ? ([['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 64 << 20 }), 5_000]] as [string, () => TextArena, number][])
    : []),
];

const MIXED = new Uint8Array(readFileSync(new URL('../../fixtures/xdp_mixed.bpf.o', import.meta.url)));

/** Load fixtures/xdp_mixed.bpf.o into `arena` as an XdpProg. */
function mixedProg(arena: TextArena): XdpProg {
  const object = openObject(MIXED);
  object.load(arena);
  return xdpProgFromObject(object.program('xdp_mixed'), { onDispose: () => object.close() });
}

/** An output frame as one string (deep equality on thousands of byte arrays is slow). */
const text = (f: { index: number; frame: Uint8Array }): string => `${f.index}:${Buffer.from(f.frame).toString('base64')}`;

type Verdict = 'ABORTED' | 'DROP' | 'PASS' | 'TX';

/** What xdp_mixed does to `frame`: its verdict and, for PASS and TX, the bytes it leaves. */
function model(frame: Uint8Array): { verdict: Verdict; out?: Uint8Array } {
  if (frame.length < 14) return { verdict: 'ABORTED' };
  switch ((frame[0] as number) & 3) {
    case 0:
      return { verdict: 'DROP' };
    case 1:
      return { verdict: 'PASS', out: frame };
    case 2: {
      const out = frame.slice();
      out.set(frame.subarray(6, 12), 0);
      out.set(frame.subarray(0, 6), 6);
      return { verdict: 'TX', out };
    }
    default:
      // bpf_xdp_adjust_head refuses to leave less than an Ethernet header
      return frame.length - 14 < 14 ? { verdict: 'ABORTED' } : { verdict: 'PASS', out: frame.subarray(14) };
  }
}

/** `count` frames of pseudo-random bytes and lengths (0..maxLength), from `seed`. */
function frames(count: number, maxLength: number, seed: number): Uint8Array[] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return Array.from({ length: count }, () => {
    const length = next() % 8 === 0 ? next() % 14 : 14 + (next() % (maxLength - 13));
    return Uint8Array.from({ length }, () => next() & 0xff);
  });
}

describe.each(ARENAS)('capture-fed AF_XDP rings on the %s arena', (_name, create, N) => {
  let arena: TextArena;
  let device: I40eDevice | undefined;
  afterEach(async () => {
    await device?.dispose();
    device = undefined;
    arena?.dispose();
  });

  it('runs every frame once, in order, and carries out each verdict (against a model of the program)', async () => {
    arena = create();
    device = new I40eDevice(arena, { mode: 'capture', ringSize: 16 });
    const [eth0] = device.netdevs;
    await i40eXdpSetup(eth0 as never, mixedProg(arena));
    const input = frames(N, 1792, 7);
    // a few frames too long for a 2048-byte chunk behind the headroom
    input.splice(3, 0, new Uint8Array(1793).fill(1));
    input.push(new Uint8Array(4000).fill(1));
    const out = device.replay(input);
    const expected = input.map(model);
    const long = [3, input.length - 1];
    expect(out.skipped).toEqual(long);
    const pick = (v: Verdict) =>
      expected.flatMap((e, index) => (e.verdict === v && !long.includes(index) ? [{ index, frame: e.out as Uint8Array }] : []));
    expect(out.processed).toBe(input.length - long.length);
    expect(out.pass.map(text)).toEqual(pick('PASS').map(text));
    expect(out.tx.map(text)).toEqual(pick('TX').map(text));
    const count = (v: Verdict) => BigInt(expected.filter((e, i) => e.verdict === v && !long.includes(i)).length);
    const totals = device.totals();
    expect(totals.actions).toEqual({ ABORTED: count('ABORTED'), DROP: count('DROP'), PASS: count('PASS'), TX: count('TX'), REDIRECT: 0n });
    expect(totals.packets).toBe(BigInt(out.processed));
    expect(totals.bytes).toBe(BigInt(input.reduce((n, f, i) => n + (long.includes(i) ? 0 : f.length), 0)));
    expect([totals.stackDropped, totals.txDropped, totals.errors, totals.noProg]).toEqual([0n, 0n, 0n, 0n]);
    expect(totals.txPackets).toBe(count('TX'));
  });

  it('keeps every UMEM chunk accounted for: any verdict mix, any number of ring-fulls, the same results again', async () => {
    arena = create();
    device = new I40eDevice(arena, { mode: 'capture', ringSize: 8 });
    const [eth0] = device.netdevs;
    await i40eXdpSetup(eth0 as never, mixedProg(arena));
    const d = device;
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 80 }), { maxLength: 40 }), (input) => {
        const out = d.replay(input);
        const expected = input.map(model);
        const pick = (v: Verdict) => expected.flatMap((e, index) => (e.verdict === v ? [{ index, frame: e.out as Uint8Array }] : []));
        expect(out.processed).toBe(input.length);
        expect(out.pass.map((p) => ({ index: p.index, frame: p.frame }))).toEqual(pick('PASS'));
        expect(out.tx).toEqual(pick('TX'));
      }),
      { numRuns: _name === 'simulated' ? 15 : 200 },
    );
    expect(d.totals().actions.REDIRECT).toBe(0n);
  });

  it('frees everything it took: create, attach, replay, dispose 100 times leaves the arena as it was; a disposed device refuses replay', async () => {
    arena = create();
    const prog = mixedProg(arena); // (the arena's eBPF runtime, made by the first load, stays with the arena)
    const progUsage = arena.usage();
    for (let i = 0; i < 100; i++) {
      const d = new I40eDevice(arena, { mode: 'capture', ringSize: 8, queues: 1 + (i % 2), captureFrameSize: i % 3 === 0 ? 4096 : 2048 });
      await i40eXdpSetup(d.netdevs[0] as never, prog);
      expect(d.replay(frames(10, 200, i + 1)).processed).toBe(10);
      await d.dispose();
      expect(() => d.replay([])).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    }
    expect(arena.usage()).toEqual(progUsage);
    await prog.dispose();
  });

  it('replay is for capture mode, takes arrays of bytes, and nothing runs without a program (PASS, counted noProg)', async () => {
    arena = create();
    device = new I40eDevice(arena, { mode: 'capture', ringSize: 8 });
    expect(() => device?.replay('frames' as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => device?.replay([new Uint8Array(20), 'x' as never])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const input = frames(20, 100, 3);
    const out = device.replay(input);
    expect(out.pass.map((p) => p.index)).toEqual(input.map((_, i) => i));
    expect(device.totals().noProg).toBe(20n);
    const other = new I40eDevice(arena, { ringSize: 8 });
    try {
      expect(() => other.replay([])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => device?.replay([], { ring: other.rings[0] as never })).toThrow(expect.objectContaining({ code: 'UNKNOWN_NETDEV' }));
      expect(() => other.kick()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      await other.dispose();
    }
  });
});
