/**
 * `bpf-dispatcher run --dev` as a user runs it: the built CLI (dist/cli.js; turbo builds
 * the app before its tests) in its own process inside a private network namespace
 * (`ip netns exec`), on the veth end `xsk0`, while this process sends frames from the
 * peer; then Ctrl-C (SIGINT). xdp_mixed picks each frame's verdict, so the totals are
 * known exactly. Root only: skipped, with the reason printed, where namespaces, bpf() or
 * AF_XDP are refused. Every wait is bounded by a count of polls, generously: no result
 * depends on the machine's speed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelBpfAvailable } from '@bpf-dispatcher/ebpf';
import { buildUdpFrame } from '@bpf-dispatcher/i40e';
import { createTestNetns, netnsSupport, PacketSender, type TestNetns } from '@bpf-dispatcher/i40e/testbed';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIXED_OBJECT, scratchDirs } from '../test-support/run-fixtures.js';
import type { LiveReport } from './live.js';

const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const dirs = scratchDirs('run-dev-');
afterAll(() => dirs.removeAll());

/** Why these tests cannot run here, or undefined. */
function whyNot(): string | undefined {
  const netns = netnsSupport();
  if (!netns.ok) return netns.reason;
  const bpf = kernelBpfAvailable();
  if (!bpf.ok) return `bpf(): ${bpf.reason}`;
  if (!existsSync(cliPath)) return `${cliPath} is missing: build the app first (pnpm turbo build --filter=@bpf-dispatcher/conformance...)`;
  return undefined;
}
const skipReason = whyNot();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A running CLI: its process and everything it printed so far. */
interface Cli {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly err: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

/** Start `bpf-dispatcher run ...` inside `ns`. */
function startCli(ns: TestNetns, args: readonly string[]): Cli {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, cliPath, 'run', ...args], {
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const cli: Cli = {
    child,
    out: () => out,
    err: () => err,
    exit: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
    exited: false,
  };
  void cli.exit.then(() => {
    cli.exited = true;
  });
  return cli;
}

/** Poll `done` every 50 ms, at most `tries` times (or until the CLI exits); true once it holds. */
async function waitFor(cli: Cli, done: () => boolean, tries = 2400): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (done()) return true;
    if (cli.exited) return done();
    await sleep(50);
  }
  return done();
}

/** The running total of the last statistics block printed (0 before the first). */
function lastTotal(text: string): number {
  const totals = [...text.matchAll(/^Summary .* ([\d,]+) total$/gm)].map((m) => Number((m[1] as string).replaceAll(',', '')));
  return totals.at(-1) ?? 0;
}

/** Whether an XDP program is attached to `ifname` in `ns` (what `ip link` shows). */
function xdpAttached(ns: TestNetns, ifname: string): boolean {
  const r = spawnSync('ip', ['-n', ns.name, '-j', 'link', 'show', 'dev', ifname], { encoding: 'utf8' });
  const [link] = JSON.parse(r.stdout) as { xdp?: unknown }[];
  return link?.xdp !== undefined;
}

describe('bpf-dispatcher run --dev on a veth pair (the built CLI, in a network namespace)', () => {
  let ns: TestNetns | undefined;
  let cli: Cli | undefined;
  let sender: PacketSender | undefined;

  beforeEach((ctx) => {
    if (skipReason !== undefined) {
      console.warn(`run --dev tests skipped: ${skipReason}`);
      ctx.skip();
    }
  });

  afterEach(async () => {
    if (cli !== undefined && !cli.exited) {
      cli.child.kill('SIGKILL');
      await cli.exit;
    }
    cli = undefined;
    sender?.close();
    sender = undefined;
    ns?.close();
    ns = undefined;
  });

  it('runs every frame through the program until Ctrl-C, prints statistics, detaches and writes exact totals', async (ctx) => {
    ns = createTestNetns();
    const env = ns;
    const json = join(dirs.make(), 'totals.json');
    cli = startCli(env, ['--dev', env.rx.name, '--prog', MIXED_OBJECT, '--interval', '0.2', '--json', json]);
    const running = cli;
    await waitFor(running, () => running.out().includes('attached'));
    if (running.exited && running.err().includes('AF_XDP refused: socket(AF_XDP)')) {
      console.warn(`run --dev tests skipped: ${running.err().trim()}`);
      ctx.skip();
    }
    expect(running.err()).toBe('');
    expect(running.out()).toMatch(
      /^attached xdp_mixed \(section xdp\) to xsk0 \(ifindex \d+\): queue 0, copy mode, kernel redirect native; /,
    );
    expect(xdpAttached(env, env.rx.name)).toBe(true);

    // N frames well under the socket's 2,048 ring entries: none can find the rings full, however slowly the CLI runs
    const N = 1000;
    const flow = {
      srcMac: [...env.peer.mac],
      dstMac: [...env.rx.mac],
      srcIp: 0x0a00_0002,
      dstIp: 0x0a00_0001,
      srcPort: 1000,
      dstPort: 2000,
    };
    const frames = Array.from({ length: N }, (_, i) => {
      const f = buildUdpFrame(flow, 64 + ((i * 7919) % 1437), i);
      f[0] = ((f[0] as number) & 0xfc) | (i & 3); // DROP, PASS, TX, PASS without the Ethernet header
      return f;
    });
    const peerBefore = env.linkStats(env.peer.name).rxPackets;
    sender = PacketSender.open(env.peer.ifindex, 64);
    let sent = 0;
    for (let i = 0; sent < N && i < 100_000; i++) {
      const n = sender.send(frames, sent, 64);
      sent += n;
      if (n === 0) await sleep(1); // veth's ring to the peer was full: send the rest again
    }
    expect(sent).toBe(N);
    // statistics blocks keep coming (every 0.2 s); wait until one has counted every frame
    expect(await waitFor(running, () => lastTotal(running.out()) >= N)).toBe(true);
    expect(lastTotal(running.out())).toBe(N);

    running.child.kill('SIGINT');
    const exit = await running.exit;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(running.err()).toBe('');
    const text = running.out();
    expect(text).toMatch(/^Summary .* rx\/s .* total$/m);
    expect(text).toMatch(/^ {2}queue 0 +[\d,]+ pkt\/s +1,000$/m);
    expect(text).toMatch(/^Totals after [\d.]+ s \(stopped by SIGINT\); xdp_mixed detached from xsk0$/m);
    const report = JSON.parse(readFileSync(json, 'utf8')) as LiveReport;
    expect(report).toMatchObject({ mode: 'dev', stoppedBy: 'SIGINT', interface: { name: 'xsk0', ifindex: env.rx.ifindex }, bind: 'copy' });
    expect(report.queues).toEqual([{ queue: 0, zeroCopy: false, redirect: 'native' }]);
    expect(report.totals).toMatchObject({
      packets: N,
      bytes: frames.reduce((n, f) => n + f.length, 0),
      verdicts: { ABORTED: 0, DROP: N / 4, PASS: N / 2, TX: N / 4, REDIRECT: 0 },
      invalidVerdicts: 0,
      kernelDrops: 0,
      kernel: { rxDropped: 0, rxRingFull: 0, rxInvalidDescs: 0, txInvalidDescs: 0 },
      txPackets: N / 4,
      txDropped: 0,
      noProg: 0,
    });
    expect(report.totals.perQueue).toEqual([expect.objectContaining({ queue: 0, packets: N })]);
    expect(report.intervals.length).toBeGreaterThan(0);
    // the TX frames left through xsk0 (MACs swapped) and reached the peer
    expect(env.linkStats(env.peer.name).rxPackets - peerBefore).toBe(N / 4);
    // detached: no XDP program on the interface any more
    expect(xdpAttached(env, env.rx.name)).toBe(false);
  });

  it('killed with SIGKILL while attached: the kernel detaches the program when the process dies, and the queue binds again', async (ctx) => {
    ns = createTestNetns();
    const env = ns;
    cli = startCli(env, ['--dev', env.rx.name, '--prog', MIXED_OBJECT, '--interval', '0.2']);
    const first = cli;
    await waitFor(first, () => first.out().includes('attached'));
    if (first.exited && first.err().includes('AF_XDP refused: socket(AF_XDP)')) {
      console.warn(`run --dev tests skipped: ${first.err().trim()}`);
      ctx.skip();
    }
    expect(first.err()).toBe('');
    expect(xdpAttached(env, env.rx.name)).toBe(true);
    // no cleanup code runs: only the kernel closing the process's fds (the link, the sockets) can detach
    first.child.kill('SIGKILL');
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(first.out()).not.toMatch(/^Totals/m);
    // the last fd's release may finish after the exit is reported: poll, bounded by a count
    let detached = false;
    for (let i = 0; i < 200 && !detached; i++) {
      detached = !xdpAttached(env, env.rx.name);
      if (!detached) await sleep(50);
    }
    expect(detached).toBe(true);
    // the queue is free again: a second run binds it and attaches
    cli = startCli(env, ['--dev', env.rx.name, '--prog', MIXED_OBJECT, '--seconds', '0.3', '--interval', '0.1']);
    const second = cli;
    expect(await second.exit).toEqual({ code: 0, signal: null });
    expect(second.err()).toBe('');
    expect(second.out()).toMatch(/^attached xdp_mixed \(section xdp\) to xsk0 /);
    expect(xdpAttached(env, env.rx.name)).toBe(false);
  });

  it('stops by itself at --seconds, and says why an interface or AF_XDP is refused', async (ctx) => {
    ns = createTestNetns();
    const env = ns;
    const json = join(dirs.make(), 'totals.json');
    cli = startCli(env, ['--dev', env.rx.name, '--prog', MIXED_OBJECT, '--seconds', '0.5', '--interval', '0.1', '--json', json]);
    const timed = cli;
    const exit = await timed.exit;
    if (timed.err().includes('AF_XDP refused: socket(AF_XDP)')) {
      console.warn(`run --dev tests skipped: ${timed.err().trim()}`);
      ctx.skip();
    }
    expect(exit).toEqual({ code: 0, signal: null });
    expect(timed.out()).toMatch(/^Totals after [\d.]+ s \(stopped by the --seconds limit\); xdp_mixed detached from xsk0$/m);
    const report = JSON.parse(readFileSync(json, 'utf8')) as LiveReport;
    expect(report).toMatchObject({ stoppedBy: 'seconds', maxSeconds: 0.5, totals: { packets: 0 } });
    expect(report.totals.seconds).toBeGreaterThanOrEqual(0.5);
    expect(xdpAttached(env, env.rx.name)).toBe(false);

    // an interface this namespace does not have
    cli = startCli(env, ['--dev', 'nosuch0', '--prog', MIXED_OBJECT]);
    const unknown = cli;
    expect(await unknown.exit).toEqual({ code: 2, signal: null });
    expect(unknown.err()).toBe('bpf-dispatcher: --dev nosuch0: no such interface in this network namespace\n');
    expect(unknown.out()).toBe('');

    // a queue the veth does not have: the kernel's refusal, named, and nothing left attached
    cli = startCli(env, ['--dev', env.rx.name, '--prog', MIXED_OBJECT, '--queues', '0,5']);
    const queue = cli;
    expect(await queue.exit).toEqual({ code: 2, signal: null });
    expect(queue.err()).toMatch(/^bpf-dispatcher: --dev xsk0: AF_XDP refused: bind\(ifindex \d+, queue 5, copy\): EINVAL .*\n$/);
    expect(xdpAttached(env, env.rx.name)).toBe(false);

    // without privileges (setpriv drops them): AF_XDP refused, and why
    const setpriv = spawnSync('setpriv', ['--version'], { encoding: 'utf8' });
    if (setpriv.status === 0) {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          env.name,
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          '--inh-caps=-all',
          '--bounding-set=-all',
        ].concat([process.execPath, cliPath, 'run', '--dev', env.rx.name, '--prog', MIXED_OBJECT]),
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect([r.status, r.stdout]).toEqual([2, '']);
      expect(r.stderr).toMatch(/^bpf-dispatcher: --dev xsk0: AF_XDP refused: socket\(AF_XDP\): EPERM .*\n$/);
    } else console.warn('run --dev: the unprivileged case skipped: setpriv is not installed');
  });
});
