/**
 * The kernel dispatcher cases, small: built with entries 1, 2 and 16 (plus full), each
 * case run twice with a small repeat; the others really are attached in driver mode (the
 * kernel's link info and `ip link` agree) as many as each case claims; every counter is
 * exact; and `dispose()` leaves nothing behind (namespace, links, programs). Counts only:
 * nothing here depends on how fast the machine is. Root only: skipped, with the reason
 * printed, where bpf() or network namespaces are refused.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CliError } from '../output.js';
import { kernelRxqInfoCase } from './kernel-case.js';
import { KERNEL_DISPATCHER_SLOTS, type KernelDispatcherBench, kernelDispatcherCases } from './kernel-dispatcher.js';

const REPEAT = 5_000;
const ROUNDS = 2;

/** This process's bpf() objects by kind (`bpf-prog`, `bpf-map`, `bpf_link`), from its open fds. */
function bpfFds(): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, gone by now
    }
    const m = /^anon_inode:(bpf.*)$/.exec(target);
    if (m !== null) kinds[m[1] as string] = (kinds[m[1] as string] ?? 0) + 1;
  }
  return kinds;
}

function namespaces(): string[] {
  const text = spawnSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as { name: string }[]).map((n) => n.name);
}

/** The XDP program ids `ip link` shows per netdev (of the namespace `ns`, or this thread's). */
function xdpProgs(ns?: string): Map<string, { mode: number; id: number }> {
  const args = [...(ns === undefined ? [] : ['-n', ns]), '-j', 'link', 'show'];
  const links = JSON.parse(spawnSync('ip', args, { encoding: 'utf8' }).stdout) as {
    ifname: string;
    xdp?: { mode: number; prog?: { id: number } };
  }[];
  const shown = new Map<string, { mode: number; id: number }>();
  for (const l of links) if (l.xdp?.prog !== undefined) shown.set(l.ifname, { mode: l.xdp.mode, id: l.xdp.prog.id });
  return shown;
}

/** The ids of the kernel's BPF links, system-wide (`bpftool link`), or undefined without bpftool. */
function kernelLinkIds(): Set<number> | undefined {
  const r = spawnSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return new Set((JSON.parse(r.stdout || '[]') as { id: number }[]).map((l) => l.id));
}

/** `XDP_ATTACHED_DRV`: `ip link`'s mode of a driver-mode program. */
const XDP_ATTACHED_DRV = 1;

/** Check that exactly the others the bench says are attached are, in driver mode, as `ip link` sees them. */
function expectAttached(bench: KernelDispatcherBench, count: number, where: string): void {
  expect(bench.attached(), where).toBe(count);
  const attachments = bench.attachments();
  expect(attachments, where).toHaveLength(count);
  const shown = xdpProgs(bench.namespace);
  expect(shown.size, where).toBe(count);
  for (const a of attachments) {
    expect(a.linkIfindex, `${where}: ${a.device}`).toBe(a.ifindex);
    expect(shown.get(a.device), `${where}: ${a.device}`).toEqual({ mode: XDP_ATTACHED_DRV, id: a.progId });
  }
  // distinct programs: each holds a slot of its own
  expect(new Set(attachments.map((a) => a.progId)).size, where).toBe(count);
  expect(new Set(attachments.map((a) => a.device)).size, where).toBe(count);
}

describe('kernelDispatcherCases', () => {
  it('refuses entries outside 1..48, repeated ones and none with CliError INVALID_INPUT', () => {
    for (const entries of [[], [0], [49], [1.5], [2, 2], 'x', [Number.NaN]]) {
      let error: unknown;
      try {
        kernelDispatcherCases({ entries: entries as number[] });
      } catch (e) {
        error = e;
      }
      expect(CliError.isInstance(error), JSON.stringify(entries)).toBe(true);
      expect((error as CliError).code).toBe('INVALID_INPUT');
    }
  });

  it('measures 1, 2 and 16 entries and full with exactly the others each claims attached; every packet counted; dispose leaves nothing', (ctx) => {
    const fdsBefore = bpfFds();
    const start = performance.now();
    const bench = kernelDispatcherCases({ entries: [1, 2, 16] });
    if ('skipped' in bench) {
      console.warn(`kernel dispatcher test skipped: ${bench.skipped}`);
      ctx.skip();
      return;
    }
    const built = performance.now();
    let linkIds: number[] = [];
    let progIds: number[] = [];
    try {
      expect(bench.cases.map((c) => c.name)).toEqual(['kernel-dispatcher-1', 'kernel-dispatcher-2', 'kernel-dispatcher-16', 'kernel-full']);
      expect(bench.cases.map((c) => [c.entries, c.others])).toEqual([
        [1, 0],
        [2, 1],
        [16, 15],
        [null, KERNEL_DISPATCHER_SLOTS],
      ]);
      expect(namespaces()).toContain(bench.namespace);
      const full = bench.cases.at(-1);
      expect(() => full?.run(1)).toThrow(/repeat must be 2/);

      for (let round = 0; round < ROUNDS; round++) {
        for (const c of bench.cases) {
          const wall = c.run(REPEAT);
          const where = `${c.name}, round ${round}`;
          expect(Number.isFinite(wall) && wall > 0, where).toBe(true);
          expect(Number.isInteger(c.lastKernelNs()) && c.lastKernelNs() >= 0, where).toBe(true);
          expectAttached(bench, c.others, where);
          if (c.entries === null) {
            linkIds = bench.attachments().map((a) => a.linkId);
            progIds = bench.attachments().map((a) => a.progId);
          }
        }
      }
      for (const c of bench.cases) c.verify(BigInt(ROUNDS * REPEAT));
      expect(() => bench.cases[0]?.verify(BigInt(ROUNDS * REPEAT + 1))).toThrow(/counted/);
      expect(linkIds).toHaveLength(KERNEL_DISPATCHER_SLOTS);
      // from full back down: the others are detached again
      bench.cases[0]?.run(2);
      expectAttached(bench, 0, 'kernel-dispatcher-1 after kernel-full');
      bench.cases[0]?.verify(BigInt(ROUNDS * REPEAT + 2));
    } finally {
      bench.dispose();
    }
    const disposed = performance.now();
    bench.dispose();
    console.info(
      `kernel dispatcher bench: built in ${(built - start).toFixed(0)} ms, ${ROUNDS} rounds of ${bench.cases.length} cases ` +
        `(attaching 48 programs each) in ${(disposed - built).toFixed(0)} ms incl. dispose`,
    );

    // nothing left: the namespace, fds of programs, maps and links, the links in the kernel (so
    // the kernel's dispatcher holds none of our programs), none of them on the host's netdevs
    expect(namespaces()).not.toContain(bench.namespace);
    expect(bpfFds()).toEqual(fdsBefore);
    const ids = kernelLinkIds();
    if (ids !== undefined) for (const id of linkIds) expect(ids.has(id), `link ${id}`).toBe(false);
    const hostProgs = new Set([...xdpProgs().values()].map((p) => p.id));
    for (const id of progIds) expect(hostProgs.has(id), `program ${id} on a host netdev`).toBe(false);
    expect(() => bench.cases[0]?.run(REPEAT)).toThrow(CliError);
    expect(() => bench.attach(1)).toThrow(/after dispose/);
  });
});

describe('kernelRxqInfoCase (the set-up it shares with the dispatcher cases)', () => {
  it('runs xdp_rxq_info in the kernel and counts every run plus the checking one', (ctx) => {
    const fdsBefore = bpfFds();
    const c = kernelRxqInfoCase();
    if ('skipped' in c) {
      console.warn(`kernel-test-run test skipped: ${c.skipped}`);
      ctx.skip();
      return;
    }
    expect(c.name).toBe('kernel-test-run');
    for (let i = 0; i < 2; i++) expect(c.run(REPEAT)).toBeGreaterThan(0);
    expect(c.lastKernelNs()).toBeGreaterThanOrEqual(0);
    c.verify(BigInt(2 * REPEAT));
    expect(() => c.verify(BigInt(2 * REPEAT - 1))).toThrow(CliError);
    c.dispose();
    c.dispose();
    expect(bpfFds()).toEqual(fdsBefore);
  });
});
