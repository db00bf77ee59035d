/**
 * A private network namespace with a veth pair, for tests that need real netdevs: made
 * with iproute2 (`ip netns add`, `ip -n <ns> link add … type veth peer …`), entered by
 * the test's thread with `setns()`, and removed afterwards — also after a failed test
 * (`close()` in `afterEach`), at process exit, and, for namespaces of processes that died
 * without cleaning up, by the next run.
 *
 * Both veth ends live only inside the namespace, so the test bed never touches the host's
 * interfaces and names cannot clash between concurrent runs. IPv6 is disabled in the
 * namespace before the links come up, so the kernel sends nothing of its own (router
 * solicitations, DAD, MLD) through them: the only frames on the wire are the test's.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { sys } from '../afxdp/sys.js';
import { XskError } from '../afxdp/xsk-error.js';
import { I40eError } from '../errors.js';

/** `CLONE_NEWNET`, the namespace type for `setns()`. */
const CLONE_NEWNET = 0x4000_0000;
/** Where `ip netns add` bind-mounts named namespaces. */
const NETNS_DIR = '/var/run/netns';
/** Prefix of the namespaces made here: `bpfd-<pid>-<n>`. */
const PREFIX = 'bpfd';

/** One end of the veth pair. */
export interface VethEnd {
  readonly name: string;
  /** Its ifindex inside the namespace. */
  readonly ifindex: number;
  /** Its MAC address, 6 bytes. */
  readonly mac: readonly number[];
}

/** A namespace made by {@link createTestNetns}. */
export interface TestNetns {
  /** The namespace's name (`ip netns list`). */
  readonly name: string;
  /** The end the test receives on (where an AF_XDP socket binds): `pairs[0].rx`. */
  readonly rx: VethEnd;
  /** The other end, where traffic is sent from: `pairs[0].peer`. */
  readonly peer: VethEnd;
  /** Every veth pair: `xsk<i>` (receiving) and `peer<i>`. */
  readonly pairs: readonly { readonly rx: VethEnd; readonly peer: VethEnd }[];
  /** Packets and bytes `ifname` has received and sent (`ip -s link`). */
  linkStats(ifname: string): { readonly rxPackets: number; readonly txPackets: number; readonly rxDropped: number };
  /** True while this thread is inside the namespace. */
  readonly entered: boolean;
  /** Move this thread into the namespace (`setns`); sockets, `bpf()` ifindexes and links then refer to it. Idempotent. */
  enter(): void;
  /** Move this thread back to the namespace it came from. Idempotent. */
  leave(): void;
  /**
   * Run `ifname`'s NAPI in a kernel thread of its own (`/sys/class/net/<ifname>/threaded`)
   * instead of in the softirq of the sender's system call: frames then arrive
   * asynchronously. A veth has NAPI only while an XDP program is attached to it.
   * @throws I40eError UNSUPPORTED when the kernel refuses (`ip` fails).
   */
  threadedNapi(ifname: string, on: boolean): void;
  /** Leave, then delete the namespace (the veth pair goes with it). Idempotent; never throws. */
  close(): void;
  [Symbol.dispose](): void;
}

/** Whether the test bed can be made here, and if not, why. */
export type NetnsSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

let support: NetnsSupport | undefined;
let counter = 0;
const live = new Set<TestNetns>();

function ip(args: readonly string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  const ok = r.error === undefined && r.status === 0;
  return { ok, stdout: r.stdout ?? '', stderr: r.error !== undefined ? String(r.error) : (r.stderr ?? '') };
}

function ipOrThrow(args: readonly string[], input?: string): string {
  const r = ip(args, input);
  if (!r.ok) throw new I40eError('UNSUPPORTED', `ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The most veth pairs {@link createTestNetns} makes in one namespace. */
const MAX_TEST_PAIRS = 32;

/**
 * Whether namespaces and veth pairs can be made here: x86-64 Linux, root, iproute2's `ip`
 * runnable, `setns` bound through koffi, and a namespace actually made (and deleted)
 * once. Never throws; the answer is cached.
 */
export function netnsSupport(): NetnsSupport {
  if (support !== undefined) return support;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    support = { ok: false, reason: `needs x86-64 Linux, this is ${process.platform}/${process.arch}` };
  else if (process.getuid?.() !== 0) support = { ok: false, reason: 'needs root (network namespaces, veth, XDP and AF_XDP)' };
  else {
    const version = ip(['-V']);
    if (!version.ok) support = { ok: false, reason: `iproute2's ip is not runnable: ${version.stderr.trim() || 'not found'}` };
    else {
      try {
        sys();
        // root is not always allowed to make namespaces (containers): try once
        const probe = `${PREFIX}-${process.pid}-0`;
        const made = ip(['netns', 'add', probe]);
        ip(['netns', 'del', probe]);
        support = made.ok ? { ok: true } : { ok: false, reason: `ip netns add failed: ${made.stderr.trim()}` };
      } catch (error) {
        support = { ok: false, reason: (error as Error).message };
      }
    }
  }
  return support;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Delete namespaces left behind by test processes that died before cleaning up. */
function sweepStale(): void {
  if (!existsSync(NETNS_DIR)) return;
  for (const name of readdirSync(NETNS_DIR)) {
    const m = /^bpfd-(\d+)-\d+$/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) ip(['netns', 'del', name]);
  }
}

let exitHook = false;

const macText = (mac: readonly number[]) => mac.map((b) => b.toString(16).padStart(2, '0')).join(':');

/**
 * Move the calling thread into the namespace `name` (one made by {@link createTestNetns},
 * from any thread of this process: a `worker_threads` Worker is a thread of its own, and
 * `setns()` moves only the thread that calls it) and return a function that moves it back
 * to the namespace it was in and closes the descriptors (idempotent; it throws only if
 * `setns` back is refused). Sockets, `bpf()` ifindexes and links made in between refer to
 * the namespace. The caller keeps the namespace alive (its `close()` deletes it) while a
 * thread is inside.
 * @throws I40eError EINVAL for a name that is not a test namespace's (`bpfd-<pid>-<n>`) or
 *   one that does not exist; XskError when `setns` is refused.
 */
export function joinTestNetns(name: string): () => void {
  if (typeof name !== 'string' || !/^bpfd-\d+-\d+$/.test(name))
    throw new I40eError('EINVAL', `joinTestNetns: ${JSON.stringify(name)} is not a test namespace's name (bpfd-<pid>-<n>)`);
  const s = sys();
  let nsFd: number;
  try {
    nsFd = openSync(`${NETNS_DIR}/${name}`, 'r');
  } catch (error) {
    throw new I40eError('EINVAL', `joinTestNetns: no namespace ${name} (${(error as NodeJS.ErrnoException).code ?? 'open failed'})`, {
      cause: error,
    });
  }
  const homeFd = openSync('/proc/thread-self/ns/net', 'r');
  const ret = s.setns(nsFd, CLONE_NEWNET);
  closeSync(nsFd);
  if (ret !== 0) {
    closeSync(homeFd);
    throw new XskError(`setns(${name})`, -ret, s.errnoName(-ret));
  }
  let inside = true;
  return () => {
    if (!inside) return;
    const back = s.setns(homeFd, CLONE_NEWNET);
    if (back !== 0) throw new XskError('setns(original network namespace)', -back, s.errnoName(-back));
    inside = false;
    closeSync(homeFd);
  };
}

/** Options of {@link createTestNetns}. */
export interface TestNetnsOptions {
  /** Enter the namespace from this thread (default true). */
  readonly enter?: boolean;
  /** Veth pairs, 1..32 (default 1); e.g. 24 pairs give 48 netdevs, one XDP program each. */
  readonly pairs?: number;
  /** Rx and tx queues of every veth end, 1..8 (default 1). */
  readonly queues?: number;
}

/**
 * Make a private namespace `bpfd-<pid>-<n>` holding veth pairs `xsk<i>` (MAC
 * 02:b0:f0:00:<i>:01, the receiving end) and `peer<i>` (02:b0:f0:00:<i>:02), all up, IPv6
 * off, each end with `queues` rx and tx queues; enter it from this thread unless
 * `enter: false`. The pairs are made by one `ip -batch` (32 pairs take well under a
 * second). On failure whatever was made is removed. Call `close()` when done (in
 * `afterEach`).
 * @throws I40eError EINVAL for bad options, UNSUPPORTED when `ip` fails (check {@link netnsSupport} first); XskError when `setns` is refused.
 */
export function createTestNetns(options: TestNetnsOptions = {}): TestNetns {
  const pairCount = options.pairs ?? 1;
  const queues = options.queues ?? 1;
  if (!Number.isInteger(pairCount) || pairCount < 1 || pairCount > MAX_TEST_PAIRS)
    throw new I40eError('EINVAL', `createTestNetns: pairs must be 1..${MAX_TEST_PAIRS}, got ${String(pairCount)}`);
  if (!Number.isInteger(queues) || queues < 1 || queues > 8)
    throw new I40eError('EINVAL', `createTestNetns: queues must be 1..8, got ${String(queues)}`);
  const s = sys();
  sweepStale();
  counter += 1;
  const name = `${PREFIX}-${process.pid}-${counter}`;
  ipOrThrow(['netns', 'add', name]);
  let nsFd = -1;
  let homeFd = -1;
  let entered = false;
  let closed = false;
  const leave = () => {
    if (!entered) return;
    const ret = s.setns(homeFd, CLONE_NEWNET);
    if (ret !== 0) throw new XskError('setns(original network namespace)', -ret, s.errnoName(-ret));
    entered = false;
  };
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      leave();
    } catch {
      // nothing better to do: the namespace is deleted anyway
    }
    for (const fd of [nsFd, homeFd]) if (fd >= 0) closeSync(fd);
    nsFd = -1;
    homeFd = -1;
    ip(['netns', 'del', name]);
    live.delete(netns);
  };
  let netns: TestNetns;
  try {
    // IPv6 off before the links exist: the kernel then sends nothing of its own through them
    ip([
      'netns',
      'exec',
      name,
      'sh',
      '-c',
      'for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null; true',
    ]);
    // every pair in one `ip -batch` (one process, one netlink socket): `ip` stops at the first error
    const q = String(queues);
    const batch: string[] = [];
    for (let i = 0; i < pairCount; i++) {
      const rxMac = macText([0x02, 0xb0, 0xf0, 0x00, i, 0x01]);
      const peerMac = macText([0x02, 0xb0, 0xf0, 0x00, i, 0x02]);
      batch.push(
        `link add xsk${i} address ${rxMac} numtxqueues ${q} numrxqueues ${q} type veth peer name peer${i} address ${peerMac} numtxqueues ${q} numrxqueues ${q}`,
      );
    }
    for (let i = 0; i < pairCount; i++) batch.push(`link set xsk${i} up`, `link set peer${i} up`);
    ipOrThrow(['-n', name, '-batch', '-'], `${batch.join('\n')}\n`);
    const links = JSON.parse(ipOrThrow(['-n', name, '-j', 'link', 'show'])) as { ifname: string; ifindex: number; address: string }[];
    const end = (ifname: string): VethEnd => {
      const link = links.find((l) => l.ifname === ifname);
      if (link === undefined) throw new I40eError('UNSUPPORTED', `${ifname} is missing in namespace ${name}`);
      return Object.freeze({
        name: ifname,
        ifindex: link.ifindex,
        mac: Object.freeze(link.address.split(':').map((h) => Number.parseInt(h, 16))),
      });
    };
    const pairs = Object.freeze(Array.from({ length: pairCount }, (_, i) => Object.freeze({ rx: end(`xsk${i}`), peer: end(`peer${i}`) })));
    const { rx, peer } = pairs[0] as { rx: VethEnd; peer: VethEnd };
    nsFd = openSync(`${NETNS_DIR}/${name}`, 'r');
    homeFd = openSync('/proc/thread-self/ns/net', 'r');
    netns = {
      name,
      rx,
      peer,
      pairs,
      linkStats(ifname: string) {
        const [link] = JSON.parse(ipOrThrow(['-n', name, '-s', '-j', 'link', 'show', 'dev', ifname])) as {
          stats64: { rx: { packets: number; dropped: number }; tx: { packets: number } };
        }[];
        if (link === undefined) throw new I40eError('EINVAL', `linkStats: no link ${ifname} in ${name}`);
        return { rxPackets: link.stats64.rx.packets, txPackets: link.stats64.tx.packets, rxDropped: link.stats64.rx.dropped };
      },
      get entered() {
        return entered;
      },
      enter() {
        if (closed) throw new I40eError('DISPOSED', `namespace ${name} is closed`);
        if (entered) return;
        const ret = s.setns(nsFd, CLONE_NEWNET);
        if (ret !== 0) throw new XskError(`setns(${name})`, -ret, s.errnoName(-ret));
        entered = true;
      },
      leave,
      threadedNapi(ifname: string, on: boolean) {
        if (!/^[a-z0-9]+$/.test(ifname)) throw new I40eError('EINVAL', `threadedNapi: odd interface name ${JSON.stringify(ifname)}`);
        ipOrThrow(['netns', 'exec', name, 'sh', '-c', `echo ${on ? 1 : 0} > /sys/class/net/${ifname}/threaded`]);
      },
      close,
      [Symbol.dispose]: close,
    };
  } catch (error) {
    for (const fd of [nsFd, homeFd]) if (fd >= 0) closeSync(fd);
    ip(['netns', 'del', name]);
    throw error;
  }
  live.add(netns);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const ns of [...live]) ns.close();
    });
  }
  if (options.enter !== false) {
    try {
      netns.enter();
    } catch (error) {
      netns.close();
      throw error;
    }
  }
  return netns;
}
