/**
 * The veth test bed: options are checked before anything is made, and (root only, with
 * iproute2 and namespaces; skipped with the reason printed otherwise) up to 32 pairs are
 * made in one private namespace — named, addressed, up and linked as documented — and go
 * away with it. Counts and names only: nothing here depends on the machine's speed.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { I40eError } from '../errors.js';
import { createTestNetns, netnsSupport, type TestNetns } from './netns.js';

function thrown(f: () => unknown): I40eError {
  try {
    f();
  } catch (error) {
    expect(I40eError.isInstance(error), String(error)).toBe(true);
    return error as I40eError;
  }
  throw new Error('expected an error');
}

/** The namespaces `ip netns list` shows. */
function namespaces(): string[] {
  const r = spawnSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' });
  const text = r.stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as { name: string }[]).map((n) => n.name);
}

interface IpLink {
  ifname: string;
  ifindex: number;
  address: string;
  flags: string[];
  link?: string;
  num_tx_queues?: number;
  num_rx_queues?: number;
}

describe('createTestNetns: options', () => {
  it('refuses pair and queue counts outside 1..32 and 1..8 with EINVAL before making anything', () => {
    for (const pairs of [0, -1, 33, 1.5, Number.NaN, '2']) {
      const error = thrown(() => createTestNetns({ pairs: pairs as number }));
      expect(error.code, String(pairs)).toBe('EINVAL');
      expect(error.message).toContain('1..32');
    }
    for (const queues of [0, 9, 2.5]) expect(thrown(() => createTestNetns({ queues })).code, String(queues)).toBe('EINVAL');
  });
});

describe('createTestNetns: many veth pairs in one namespace', () => {
  const support = netnsSupport();
  let ns: TestNetns | undefined;

  afterEach(() => {
    ns?.close();
    ns = undefined;
  });

  it('makes 32 pairs xsk<i> <-> peer<i> with the documented MACs and queues, all up; close() removes them with the namespace', (ctx) => {
    if (!support.ok) {
      console.warn(`test bed tests skipped: ${support.reason}`);
      ctx.skip();
    }
    const start = performance.now();
    ns = createTestNetns({ pairs: 32, queues: 2, enter: false });
    console.info(`createTestNetns({ pairs: 32 }): ${(performance.now() - start).toFixed(0)} ms`);
    const env = ns;
    expect(env.entered).toBe(false);
    expect(namespaces()).toContain(env.name);
    expect(env.pairs).toHaveLength(32);
    expect(env.rx).toBe(env.pairs[0]?.rx);
    expect(env.peer).toBe(env.pairs[0]?.peer);

    const shown = JSON.parse(spawnSync('ip', ['-n', env.name, '-d', '-j', 'link', 'show'], { encoding: 'utf8' }).stdout) as IpLink[];
    const byName = new Map(shown.map((l) => [l.ifname, l]));
    // lo and the 64 veth ends, nothing else
    expect(shown).toHaveLength(65);
    const ifindexes = new Set<number>();
    env.pairs.forEach(({ rx, peer }, i) => {
      expect([rx.name, peer.name]).toEqual([`xsk${i}`, `peer${i}`]);
      expect(rx.mac).toEqual([0x02, 0xb0, 0xf0, 0x00, i, 0x01]);
      expect(peer.mac).toEqual([0x02, 0xb0, 0xf0, 0x00, i, 0x02]);
      for (const [end, other] of [
        [rx, peer],
        [peer, rx],
      ] as const) {
        const link = byName.get(end.name);
        expect(link, end.name).toBeDefined();
        expect(link?.ifindex).toBe(end.ifindex);
        expect(link?.address).toBe(end.mac.map((b) => b.toString(16).padStart(2, '0')).join(':'));
        expect(link?.flags, end.name).toEqual(expect.arrayContaining(['UP', 'LOWER_UP']));
        // each end's peer is the other end of its pair
        expect(link?.link, end.name).toBe(other.name);
        expect([link?.num_rx_queues, link?.num_tx_queues], end.name).toEqual([2, 2]);
        ifindexes.add(end.ifindex);
      }
    });
    expect(ifindexes.size).toBe(64);

    env.close();
    expect(namespaces()).not.toContain(env.name);
    env.close(); // idempotent
  });

  it('enter() and leave() move this thread in and out; pairs: 1 is still the default', (ctx) => {
    if (!support.ok) {
      console.warn(`test bed tests skipped: ${support.reason}`);
      ctx.skip();
    }
    const home = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout;
    ns = createTestNetns();
    expect(ns.pairs).toHaveLength(1);
    expect(ns.entered).toBe(true);
    // a child inherits the calling thread's namespace: it sees the namespace's links
    const inside = JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout) as IpLink[];
    expect(inside.map((l) => l.ifname).sort()).toEqual(['lo', 'peer0', 'xsk0']);
    ns.leave();
    expect(ns.entered).toBe(false);
    expect(spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout).toBe(home);
  });
});
