/**
 * An AF_XDP socket (`xsk_socket__create` of libxdp, reduced to one socket per UMEM): the
 * UMEM in the native arena, the four rings mapped into user space, bound to one queue of
 * one netdev. The poll loop that drives it is native code; this file only sets it up,
 * reads its statistics, wakes the kernel when asked and tears it down.
 */
import type { TextArena } from '@bpf-dispatcher/text-poke';
import { I40eError } from '../errors.js';
import { assertArena, describe, freeRegions, optionsObject } from '../validate.js';
import {
  mapRing,
  parseMmapOffsets,
  produceFill,
  type RingOffsets,
  ringWords,
  unmapRings,
  type XskRing,
  type XskRingKind,
} from './rings.js';
import { type NativeBytes, type Sys, sys } from './sys.js';
import {
  AF_XDP,
  MSG_DONTWAIT,
  POLLIN,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOCKADDR_XDP,
  SOL_XDP,
  XDP_BIND,
  XDP_MMAP_OFFSETS,
  XDP_OPTIONS_ZEROCOPY,
  XDP_RING_NEED_WAKEUP,
  XDP_SOCKOPT,
  XDP_STATISTICS_FIELDS,
} from './uapi.js';
import { allocUmem, registerUmem, type XskUmem } from './umem.js';
import { XskError } from './xsk-error.js';

/** Options of {@link openXsk}. */
export interface XskOptions {
  /** The netdev's ifindex, in the calling thread's network namespace. */
  readonly ifindex: number;
  /** The rx queue to bind (default 0). */
  readonly queue?: number;
  /** UMEM frames (default 4096; at least `ringSize`, so that the fill ring starts full). */
  readonly frames?: number;
  /** Bytes per frame: 2048 or 4096 (default 2048). */
  readonly frameSize?: 2048 | 4096;
  /** Entries of the rx and completion rings, a power of two from 2 to 32768 (default 2048). */
  readonly ringSize?: number;
  /**
   * Entries of the fill and tx rings, the rings the application produces: a power of two
   * from `ringSize` to 65536 (default `2 * ringSize`). The kernel publishes how far it has
   * read them only when it refreshes its cached view, so a ring no larger than the frames
   * in circulation can look full while it is not; twice that never does.
   */
  readonly producerRingSize?: number;
  /** `copy` (default, `XDP_COPY`) or `zc` (`XDP_ZEROCOPY`: refused by drivers without a zero-copy mode, veth among them). */
  readonly mode?: 'copy' | 'zc';
  /** `XDP_USE_NEED_WAKEUP` (default true): the kernel sets a ring's NEED_WAKEUP flag when it must be kicked. */
  readonly needWakeup?: boolean;
}

/** `XDP_STATISTICS`: the kernel's counters of one socket. */
export interface XskStats {
  /** Packets dropped for other reasons (in copy mode: no fill-ring frame, or a frame too large). */
  readonly rxDropped: bigint;
  /** Fill-ring entries the kernel found invalid. */
  readonly rxInvalidDescs: bigint;
  /** Tx-ring descriptors the kernel found invalid. */
  readonly txInvalidDescs: bigint;
  /** Packets dropped because the rx ring was full. */
  readonly rxRingFull: bigint;
  /** Times the kernel found the fill ring empty. */
  readonly rxFillRingEmptyDescs: bigint;
  /** Times the kernel found the tx ring empty when woken to send. */
  readonly txRingEmptyDescs: bigint;
}

/** What {@link Xsk.kick} did. */
export interface XskKick {
  /** The fill ring asked for a wakeup (or `force`) and `recvfrom(MSG_DONTWAIT)` was issued. */
  readonly fill: boolean;
  /** The tx ring asked for a wakeup (or `force`) and `sendto(MSG_DONTWAIT)` was issued. */
  readonly tx: boolean;
}

/** The rings of an {@link Xsk}. */
export interface XskRings {
  readonly rx: XskRing;
  readonly tx: XskRing;
  readonly fill: XskRing;
  readonly completion: XskRing;
}

/** Errnos of a wakeup that only mean "try again later" (libxdp ignores them too). */
const TRANSIENT = new Set(['EAGAIN', 'EWOULDBLOCK', 'EBUSY', 'ENOBUFS', 'ENETDOWN', 'EINTR']);

const POWERS = new Set(Array.from({ length: 15 }, (_, i) => 2 ** (i + 1)));

/** Validated options, with defaults. */
interface Plan {
  readonly ifindex: number;
  readonly queue: number;
  readonly frames: number;
  readonly frameSize: 2048 | 4096;
  readonly ringSize: number;
  readonly producerRingSize: number;
  readonly mode: 'copy' | 'zc';
  readonly needWakeup: boolean;
}

function plan(options: XskOptions): Plan {
  const o = optionsObject(options, 'openXsk');
  const u32 = (name: string, value: unknown, min: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 0xffff_ffff) {
      throw new I40eError('EINVAL', `openXsk: ${name} must be an integer from ${min} to 2^32-1, got ${describe(value)}`);
    }
    return value;
  };
  if (o.ifindex === undefined) throw new I40eError('EINVAL', 'openXsk: options.ifindex is required');
  const ifindex = u32('ifindex', o.ifindex, 1);
  const queue = u32('queue', o.queue ?? 0, 0);
  const ringSize = o.ringSize ?? 2048;
  if (typeof ringSize !== 'number' || !POWERS.has(ringSize))
    throw new I40eError('EINVAL', `openXsk: ringSize must be a power of two from 2 to 32768, got ${describe(ringSize)}`);
  const producerRingSize = o.producerRingSize ?? 2 * ringSize;
  if (typeof producerRingSize !== 'number' || !(POWERS.has(producerRingSize) || producerRingSize === 65536) || producerRingSize < ringSize) {
    throw new I40eError('EINVAL', `openXsk: producerRingSize must be a power of two from ringSize (${ringSize}) to 65536, got ${describe(producerRingSize)}`);
  }
  const frameSize = o.frameSize ?? 2048;
  if (frameSize !== 2048 && frameSize !== 4096)
    throw new I40eError('EINVAL', `openXsk: frameSize must be 2048 or 4096, got ${describe(frameSize)}`);
  const frames = o.frames ?? Math.max(4096, ringSize);
  if (typeof frames !== 'number' || !Number.isInteger(frames) || frames < ringSize || frames * frameSize > 1 << 30) {
    throw new I40eError(
      'EINVAL',
      `openXsk: frames must be an integer from ringSize (${ringSize}, the fill ring starts full) to ${(1 << 30) / frameSize} (1 GiB of UMEM), got ${describe(frames)}`,
    );
  }
  const mode = o.mode ?? 'copy';
  if (mode !== 'copy' && mode !== 'zc') throw new I40eError('EINVAL', `openXsk: mode must be 'copy' or 'zc', got ${describe(mode)}`);
  const needWakeup = o.needWakeup ?? true;
  if (typeof needWakeup !== 'boolean') throw new I40eError('EINVAL', `openXsk: needWakeup must be a boolean, got ${describe(needWakeup)}`);
  return { ifindex, queue, frames, frameSize, ringSize, producerRingSize, mode, needWakeup };
}

/** Hints for the errnos of `bind`. */
function bindHint(errnoName: string, p: Plan): string {
  switch (errnoName) {
    case 'ENODEV':
      return `no netdev with ifindex ${p.ifindex} in this thread's network namespace`;
    case 'EINVAL':
      return `queue ${p.queue} is not an rx queue of ifindex ${p.ifindex}, or the netdev refused the socket`;
    case 'EBUSY':
      return `queue ${p.queue} of ifindex ${p.ifindex} already has a socket or a zero-copy pool`;
    case 'EOPNOTSUPP':
      return p.mode === 'zc' ? 'the driver has no zero-copy AF_XDP mode' : 'the netdev does not support AF_XDP';
    default:
      return '';
  }
}

/**
 * An open AF_XDP socket: its fd, UMEM and rings (addresses for native code), statistics,
 * wakeups and `close()`.
 */
export class Xsk {
  readonly #s: Sys;
  readonly #arena: TextArena;
  #fd: number;
  readonly #scratch: NativeBytes;
  readonly #fillWords: ReturnType<typeof ringWords>;
  readonly #txWords: ReturnType<typeof ringWords>;

  /** @internal Use {@link openXsk}. */
  constructor(
    s: Sys,
    arena: TextArena,
    fd: number,
    scratch: NativeBytes,
    /** The netdev's ifindex. */
    readonly ifindex: number,
    /** The bound queue. */
    readonly queue: number,
    /** The mode asked for. */
    readonly mode: 'copy' | 'zc',
    /** True when the kernel runs the socket zero-copy (`XDP_OPTIONS`). */
    readonly zeroCopy: boolean,
    /** Whether the socket was bound with `XDP_USE_NEED_WAKEUP`. */
    readonly needWakeup: boolean,
    /** The UMEM. */
    readonly umem: XskUmem,
    /** The four rings. */
    readonly rings: XskRings,
  ) {
    this.#s = s;
    this.#arena = arena;
    this.#fd = fd;
    this.#scratch = scratch;
    this.#fillWords = ringWords(s, rings.fill);
    this.#txWords = ringWords(s, rings.tx);
  }

  /** The socket's fd (what goes into an XSKMAP). @throws I40eError DISPOSED after close(). */
  get fd(): number {
    if (this.#fd < 0) throw new I40eError('DISPOSED', 'Xsk: used after close()');
    return this.#fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * The kernel's counters (`getsockopt(XDP_STATISTICS)`).
   * @throws I40eError DISPOSED after close(); XskError if the kernel refuses.
   */
  stats(): XskStats {
    const fd = this.fd;
    const out = this.#scratch;
    out.bytes.fill(0);
    out.view.setUint32(48, 48, true);
    const ret = this.#s.getsockopt(fd, SOL_XDP, XDP_SOCKOPT.STATISTICS, out.address, out.address + 48n);
    if (ret < 0) throw new XskError('getsockopt(XDP_STATISTICS)', -ret, this.#s.errnoName(-ret));
    const stats: Record<string, bigint> = {};
    XDP_STATISTICS_FIELDS.forEach((name, i) => {
      stats[name] = out.view.getBigUint64(i * 8, true);
    });
    return Object.freeze(stats as unknown as XskStats);
  }

  /**
   * Wake the kernel where a ring asks for it (its `XDP_RING_NEED_WAKEUP` flag; the tx
   * ring only when it holds descriptors to send; both every time with `force`, or when
   * the socket was bound without need-wakeup): for the fill ring `recvfrom(fd, NULL, 0,
   * MSG_DONTWAIT)`, for the tx ring `sendto(fd, NULL, 0, MSG_DONTWAIT)` — libxdp's
   * convention. Transient refusals (EAGAIN, EBUSY, ENOBUFS, ENETDOWN) are not errors:
   * the caller kicks again on its next poll.
   * @throws I40eError DISPOSED after close(); XskError for any other errno.
   */
  kick(options: { readonly force?: boolean } = {}): XskKick {
    const fd = this.fd;
    const force = options?.force === true || !this.needWakeup;
    const asks = (w: ReturnType<typeof ringWords>) => (Atomics.load(w.words, w.flags) & XDP_RING_NEED_WAKEUP) !== 0;
    const txPending = () =>
      Atomics.load(this.#txWords.words, this.#txWords.producer) !== Atomics.load(this.#txWords.words, this.#txWords.consumer);
    const fill = force || asks(this.#fillWords);
    const tx = force || (asks(this.#txWords) && txPending());
    const check = (call: string, ret: number) => {
      if (ret >= 0) return;
      const name = this.#s.errnoName(-ret);
      if (!TRANSIENT.has(name)) throw new XskError(call, -ret, name);
    };
    if (fill) check('recvfrom(xsk, MSG_DONTWAIT)', this.#s.recvfrom(fd, 0n, 0, MSG_DONTWAIT, 0n, 0n));
    if (tx) check('sendto(xsk, MSG_DONTWAIT)', this.#s.sendto(fd, 0n, 0, MSG_DONTWAIT, 0n, 0));
    return { fill, tx };
  }

  /**
   * `poll(POLLIN)`: wait up to `timeoutMs` (0: just look) until the rx ring holds
   * entries. True when it does. (In copy mode the kernel's `xsk_poll` also drives the tx
   * ring, counting `txRingEmptyDescs` when it is empty.)
   * @throws I40eError EINVAL for a bad timeout, DISPOSED after close(); XskError if poll fails.
   */
  waitReadable(timeoutMs: number): boolean {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0x7fff_ffff)
      throw new I40eError('EINVAL', `Xsk.waitReadable: timeoutMs must be an integer from 0 to 2^31-1, got ${describe(timeoutMs)}`);
    const fd = this.fd;
    const pfd = this.#scratch;
    pfd.view.setInt32(64, fd, true);
    pfd.view.setInt16(68, POLLIN, true);
    pfd.view.setInt16(70, 0, true);
    const ret = this.#s.poll(pfd.address + 64n, 1, timeoutMs);
    if (ret < 0) {
      const name = this.#s.errnoName(-ret);
      if (name === 'EINTR') return false;
      throw new XskError('poll(xsk, POLLIN)', -ret, name);
    }
    return ret > 0 && (pfd.view.getInt16(70, true) & POLLIN) !== 0;
  }

  /**
   * Unmap the rings, close the socket and give the UMEM back to the arena. Idempotent;
   * never throws. Native code must have stopped using the rings and the UMEM first.
   *
   * When `close()` returns the kernel has unbound the socket (`xsk_unbind_dev` waits for
   * the receive path with `synchronize_net`) and removed it from every XSKMAP: no packet
   * is written into the UMEM any more. The queue itself is released a little later,
   * from a workqueue (`xp_release_deferred` clears the netdev's buffer pool): binding
   * the same queue at once can still meet EBUSY for a few milliseconds —
   * {@link openXskWhenFree} waits for it. A zero-copy socket's UMEM is not returned to
   * the arena (the driver may write into it until that deferred release; it goes with
   * the arena).
   */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    releaseXsk(this.#s, this.#arena, fd, Object.values(this.rings), this.zeroCopy ? undefined : this.umem, this.#scratch);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Undo what openXsk did, in reverse order, ignoring failures. */
function releaseXsk(
  s: Sys,
  arena: TextArena,
  fd: number,
  rings: readonly XskRing[],
  umem: XskUmem | undefined,
  scratch: NativeBytes | undefined,
): void {
  unmapRings(s, rings);
  if (fd >= 0) s.close(fd);
  if (umem !== undefined) freeRegions(arena, [umem.region]);
  if (scratch !== undefined) s.free(scratch);
}

/**
 * Open an AF_XDP socket on queue `queue` of netdev `ifindex` (the calling thread's
 * network namespace), the way libxdp's `xsk_socket__create` does: `socket(AF_XDP)`;
 * the UMEM (`frames * frameSize` bytes of the arena's data memory, page-aligned, below
 * 2 GiB) registered with `XDP_UMEM_REG`; the rx and completion rings sized `ringSize`,
 * the fill and tx rings `producerRingSize`, all mapped; the fill ring given frames `0..ringSize-1` (frames
 * `ringSize..frames-1` stay with the application, e.g. for tx); then `bind` with
 * `XDP_COPY` or `XDP_ZEROCOPY` (and `XDP_USE_NEED_WAKEUP`). Packets reach the socket only
 * through an XDP program redirecting into an XSKMAP ({@link attachXskRedirect}).
 * On failure everything taken so far is released.
 * @throws I40eError EINVAL for bad options (before anything is created) or an arena too
 *   small; UNSUPPORTED for a simulated arena or off x86-64 Linux; DISPOSED for a disposed
 *   arena; XskError (EINVAL or UNSUPPORTED, naming the call and the kernel's errno, e.g.
 *   `socket(AF_XDP): EAFNOSUPPORT`, `bind(…): EBUSY`) when the kernel refuses.
 */
export function openXsk(arena: TextArena, options: XskOptions): Xsk {
  assertArena(arena, 'openXsk');
  const p = plan(options);
  if (arena.kind !== 'native')
    throw new I40eError(
      'UNSUPPORTED',
      'openXsk: AF_XDP needs the native arena (the kernel writes packets into the UMEM), not the simulated one',
    );
  const s = sys();
  let fd = -1;
  let umem: XskUmem | undefined;
  let scratch: NativeBytes | undefined;
  const rings: XskRing[] = [];
  try {
    scratch = s.alloc(XDP_MMAP_OFFSETS.size + 8);
    fd = s.socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new XskError('socket(AF_XDP)', -fd, s.errnoName(-fd), 'AF_XDP sockets need CONFIG_XDP_SOCKETS and CAP_NET_RAW');
    umem = allocUmem(arena, p.frames, p.frameSize);
    registerUmem(s, fd, umem);
    const sizes: [number, string, number][] = [
      [XDP_SOCKOPT.UMEM_FILL_RING, 'XDP_UMEM_FILL_RING', p.producerRingSize],
      [XDP_SOCKOPT.UMEM_COMPLETION_RING, 'XDP_UMEM_COMPLETION_RING', p.ringSize],
      [XDP_SOCKOPT.RX_RING, 'XDP_RX_RING', p.ringSize],
      [XDP_SOCKOPT.TX_RING, 'XDP_TX_RING', p.producerRingSize],
    ];
    for (const [option, name, size] of sizes) {
      scratch.view.setUint32(0, size, true);
      const ret = s.setsockopt(fd, SOL_XDP, option, scratch.address, 4);
      if (ret < 0) throw new XskError(`setsockopt(${name}, ${size})`, -ret, s.errnoName(-ret));
    }
    scratch.bytes.fill(0);
    scratch.view.setUint32(XDP_MMAP_OFFSETS.size, XDP_MMAP_OFFSETS.size, true);
    const got = s.getsockopt(fd, SOL_XDP, XDP_SOCKOPT.MMAP_OFFSETS, scratch.address, scratch.address + BigInt(XDP_MMAP_OFFSETS.size));
    if (got < 0) throw new XskError('getsockopt(XDP_MMAP_OFFSETS)', -got, s.errnoName(-got));
    if (scratch.view.getUint32(XDP_MMAP_OFFSETS.size, true) !== XDP_MMAP_OFFSETS.size) {
      throw new I40eError('UNSUPPORTED', 'openXsk: the kernel reports ring offsets without the flags word (Linux < 5.4)');
    }
    const offsets: Record<XskRingKind, RingOffsets> = parseMmapOffsets(scratch.view);
    for (const kind of ['fill', 'completion', 'rx', 'tx'] as const) rings.push(mapRing(s, fd, kind, offsets[kind], kind === 'fill' || kind === 'tx' ? p.producerRingSize : p.ringSize));
    const [fill, completion, rx, tx] = rings as [XskRing, XskRing, XskRing, XskRing];
    produceFill(
      s,
      fill,
      Array.from({ length: p.ringSize }, (_, i) => BigInt(i * p.frameSize)),
    );

    const addr = scratch;
    addr.bytes.fill(0);
    addr.view.setUint16(SOCKADDR_XDP.family, AF_XDP, true);
    addr.view.setUint16(
      SOCKADDR_XDP.flags,
      (p.mode === 'zc' ? XDP_BIND.ZEROCOPY : XDP_BIND.COPY) | (p.needWakeup ? XDP_BIND.USE_NEED_WAKEUP : 0),
      true,
    );
    addr.view.setUint32(SOCKADDR_XDP.ifindex, p.ifindex, true);
    addr.view.setUint32(SOCKADDR_XDP.queueId, p.queue, true);
    const bound = s.bind(fd, addr.address, SOCKADDR_XDP.size);
    if (bound < 0) {
      const name = s.errnoName(-bound);
      throw new XskError(`bind(ifindex ${p.ifindex}, queue ${p.queue}, ${p.mode})`, -bound, name, bindHint(name, p));
    }
    addr.bytes.fill(0);
    addr.view.setUint32(8, 4, true);
    const opt = s.getsockopt(fd, SOL_XDP, XDP_SOCKOPT.OPTIONS, addr.address, addr.address + 8n);
    if (opt < 0) throw new XskError('getsockopt(XDP_OPTIONS)', -opt, s.errnoName(-opt));
    const zeroCopy = (addr.view.getUint32(0, true) & XDP_OPTIONS_ZEROCOPY) !== 0;
    addr.bytes.fill(0);
    return new Xsk(
      s,
      arena,
      fd,
      scratch,
      p.ifindex,
      p.queue,
      p.mode,
      zeroCopy,
      p.needWakeup,
      umem,
      Object.freeze({ rx, tx, fill, completion }),
    );
  } catch (error) {
    releaseXsk(s, arena, fd, rings, umem, scratch);
    throw error;
  }
}

/** Options of {@link openXskWhenFree}. */
export interface XskWaitOptions {
  /** Binds to try while the queue is EBUSY (default 10,000). */
  readonly attempts?: number;
  /** Milliseconds between them (default 1). */
  readonly intervalMs?: number;
}

/**
 * {@link openXsk}, tried again while the queue answers EBUSY — what it does for a few
 * milliseconds after the socket that held it was closed (the kernel frees the queue's
 * buffer pool from a workqueue). Bounded by a number of attempts, not by a deadline.
 * @throws what openXsk throws; the last EBUSY XskError when every attempt found the queue taken.
 */
export async function openXskWhenFree(arena: TextArena, options: XskOptions, wait: XskWaitOptions = {}): Promise<Xsk> {
  const o = optionsObject(wait, 'openXskWhenFree');
  const attempts = o.attempts ?? 10_000;
  const intervalMs = o.intervalMs ?? 1;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new I40eError('EINVAL', `openXskWhenFree: attempts must be a positive integer, got ${describe(attempts)}`);
  if (!Number.isInteger(intervalMs) || intervalMs < 0)
    throw new I40eError('EINVAL', `openXskWhenFree: intervalMs must be a non-negative integer, got ${describe(intervalMs)}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return openXsk(arena, options);
    } catch (error) {
      if (!(error instanceof XskError) || error.errnoName !== 'EBUSY' || attempt >= attempts) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * `poll(POLLIN)` over several sockets: wait up to `timeoutMs` (0: just look) until any of
 * them has rx entries. True when one does; false on timeout or EINTR.
 * @throws I40eError EINVAL for a bad timeout or a closed socket; XskError if poll fails.
 */
export function waitAnyReadable(sockets: readonly Xsk[], timeoutMs: number): boolean {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0x7fff_ffff)
    throw new I40eError('EINVAL', `waitAnyReadable: timeoutMs must be an integer from 0 to 2^31-1, got ${describe(timeoutMs)}`);
  if (sockets.length === 0) return false;
  const fds = sockets.map((x) => x.fd);
  const s = sys();
  const pfds = s.alloc(8 * fds.length);
  try {
    fds.forEach((fd, i) => {
      pfds.view.setInt32(i * 8, fd, true);
      pfds.view.setInt16(i * 8 + 4, POLLIN, true);
    });
    const ret = s.poll(pfds.address, fds.length, timeoutMs);
    if (ret < 0) {
      const name = s.errnoName(-ret);
      if (name === 'EINTR') return false;
      throw new XskError('poll(xsks, POLLIN)', -ret, name);
    }
    return ret > 0;
  } finally {
    s.free(pfds);
  }
}
