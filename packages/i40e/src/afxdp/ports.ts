/**
 * The AF_XDP side of an i40e device in `xsk` mode: one socket per (netdev, queue), the
 * kernel's redirect program per netdev, and what TypeScript does for them between native
 * polls — wake the kernel where a ring asks (need-wakeup), wait for packets, read the
 * kernel's counters — and, at the end, close them. Owned by the device.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import type { Netdev } from '../device.js';
import { I40eError } from '../errors.js';
import type { RxRing } from '../ring.js';
import { describe, optionsObject } from '../validate.js';
import { attachXskRedirect, XSK_REDIRECT_MAX_QUEUES, type XskRedirect } from './redirect.js';
import { openXsk, waitAnyReadable, type Xsk, type XskStats } from './socket.js';
import { XskError } from './xsk-error.js';
import { createXskRing, type XskRingCounters, xskRingCounters } from './xsk-ring.js';

/** One real interface of an `xsk` device. */
export interface XskInterface {
  /** Its ifindex in the calling thread's network namespace. */
  readonly ifindex: number;
  /** Its name (for messages and statistics; default `if<ifindex>`). */
  readonly name?: string;
  /** The rx queues to bind (default `[0]`), each 0..63. */
  readonly queues?: readonly number[];
}

/** `I40eDeviceOptions.xsk`: the sockets of an `xsk` device. */
export interface XskDeviceOptions {
  /** The interfaces, 1..16; each becomes a netdev with its real ifindex. */
  readonly interfaces: readonly XskInterface[];
  /** `copy` (default: every driver, veth among them) or `zc` (drivers with an AF_XDP zero-copy mode). */
  readonly bind?: 'copy' | 'zc';
  /** Entries of each socket's four rings, a power of two 64..32768 (default 2048); also the stack queue's. */
  readonly ringSize?: number;
  /** UMEM chunk size, 2048 (default) or 4096. */
  readonly frameSize?: 2048 | 4096;
  /** Bind with `XDP_USE_NEED_WAKEUP` (default true). */
  readonly needWakeup?: boolean;
  /**
   * The kernel program that feeds the sockets: `auto` (default; driver mode, else generic),
   * `native`, `generic`, or `none` (the caller attaches one, e.g. its own XSKMAP program).
   */
  readonly redirect?: 'auto' | 'native' | 'generic' | 'none';
}

/** Validated {@link XskDeviceOptions}. */
export interface XskPlan {
  readonly interfaces: readonly { readonly ifindex: number; readonly name: string; readonly queues: readonly number[] }[];
  readonly bind: 'copy' | 'zc';
  readonly ringSize: number;
  readonly frameSize: 2048 | 4096;
  readonly needWakeup: boolean;
  readonly redirect: 'auto' | 'native' | 'generic' | 'none';
}

const bad = (message: string) => new I40eError('EINVAL', `I40eDevice: xsk.${message}`);

/** @internal Check an `xsk` device's options before anything is made. @throws I40eError EINVAL. */
export function planXsk(options: XskDeviceOptions | undefined): XskPlan {
  if (options === undefined) throw new I40eError('EINVAL', "I40eDevice: mode 'xsk' needs options.xsk with the interfaces to bind");
  const o = optionsObject(options, 'I40eDevice: xsk');
  const list = o.interfaces;
  if (!Array.isArray(list) || list.length < 1 || list.length > 16)
    throw bad(`interfaces must be an array of 1 to 16 interfaces, got ${describe(list)}`);
  const seen = new Set<number>();
  const interfaces = list.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) throw bad(`interfaces[${i}] must be an object, got ${describe(entry)}`);
    const e = entry as XskInterface;
    if (!Number.isInteger(e.ifindex) || e.ifindex < 1 || e.ifindex > 0x7fff_ffff)
      throw bad(`interfaces[${i}].ifindex must be a positive integer, got ${describe(e.ifindex)}`);
    if (seen.has(e.ifindex)) throw bad(`interfaces[${i}]: ifindex ${e.ifindex} is given twice`);
    seen.add(e.ifindex);
    const name = e.name ?? `if${e.ifindex}`;
    if (typeof name !== 'string' || name.length === 0 || name.length > 15)
      throw bad(`interfaces[${i}].name must be an interface name (1..15 characters), got ${describe(name)}`);
    const queues = e.queues ?? [0];
    if (!Array.isArray(queues) || queues.length < 1 || queues.length > XSK_REDIRECT_MAX_QUEUES)
      throw bad(`interfaces[${i}].queues must be an array of 1 to ${XSK_REDIRECT_MAX_QUEUES} queue indexes`);
    for (const q of queues)
      if (!Number.isInteger(q) || q < 0 || q >= XSK_REDIRECT_MAX_QUEUES)
        throw bad(`interfaces[${i}].queues: ${describe(q)} is not a queue index 0..${XSK_REDIRECT_MAX_QUEUES - 1}`);
    if (new Set(queues).size !== queues.length) throw bad(`interfaces[${i}].queues lists a queue twice`);
    return Object.freeze({ ifindex: e.ifindex, name, queues: Object.freeze([...queues]) });
  });
  const bind = o.bind ?? 'copy';
  if (bind !== 'copy' && bind !== 'zc') throw bad(`bind must be 'copy' or 'zc', got ${describe(bind)}`);
  const ringSize = o.ringSize ?? 2048;
  if (!Number.isInteger(ringSize) || ringSize < 64 || ringSize > 32768 || (ringSize & (ringSize - 1)) !== 0)
    throw bad(`ringSize must be a power of two from 64 to 32768, got ${describe(ringSize)}`);
  const frameSize = o.frameSize ?? 2048;
  if (frameSize !== 2048 && frameSize !== 4096) throw bad(`frameSize must be 2048 or 4096, got ${describe(frameSize)}`);
  const needWakeup = o.needWakeup ?? true;
  if (typeof needWakeup !== 'boolean') throw bad(`needWakeup must be a boolean, got ${describe(needWakeup)}`);
  const redirect = o.redirect ?? 'auto';
  if (!['auto', 'native', 'generic', 'none'].includes(redirect as string))
    throw bad(`redirect must be 'auto', 'native', 'generic' or 'none', got ${describe(redirect)}`);
  return Object.freeze({ interfaces: Object.freeze(interfaces), bind, ringSize, frameSize, needWakeup, redirect });
}

/** Kernel and ring counters of the sockets, summed. */
export interface XskDeviceStats extends XskStats, XskRingCounters {}

/** Binds a queue that is still EBUSY after a socket closed: the kernel frees it from a workqueue within milliseconds. */
const BUSY_ATTEMPTS = 2000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** {@link openXsk}, tried again (1 ms apart, bounded by a count) while the queue is still EBUSY. */
function openWhenFree(arena: TextArena, options: Parameters<typeof openXsk>[1]): Xsk {
  for (let attempt = 1; ; attempt++) {
    try {
      return openXsk(arena, options);
    } catch (error) {
      if (!(error instanceof XskError) || error.errnoName !== 'EBUSY' || attempt >= BUSY_ATTEMPTS) throw error;
    }
    Atomics.wait(sleeper, 0, 0, 1);
  }
}

/** @internal The sockets, redirects and rings of an `xsk` device. */
export class XskPorts {
  readonly #sockets: { readonly ring: RxRing; readonly socket: Xsk }[] = [];
  readonly #redirects: XskRedirect[] = [];

  /**
   * Open a socket for every queue of every netdev (their rings go into `netdev.rings`,
   * which the caller passes in), then attach the redirect program per netdev. On failure
   * the caller calls {@link close} (regions are the caller's).
   * @throws what openXsk / attachXskRedirect throw.
   */
  open(
    arena: TextArena,
    plan: XskPlan,
    netdevs: readonly { netdev: Netdev; rings: RxRing[] }[],
    alloc: (size: number, align: number) => Region,
  ): void {
    plan.interfaces.forEach((iface, n) => {
      const target = netdevs[n] as { netdev: Netdev; rings: RxRing[] };
      const sockets: Xsk[] = [];
      for (const queue of iface.queues) {
        const socket = openWhenFree(arena, {
          ifindex: iface.ifindex,
          queue,
          frames: plan.ringSize,
          frameSize: plan.frameSize,
          ringSize: plan.ringSize,
          mode: plan.bind,
          needWakeup: plan.needWakeup,
        });
        const ring = (() => {
          try {
            return createXskRing(target.netdev, queue, { arena, source: socket, stackSize: plan.ringSize, alloc });
          } catch (error) {
            socket.close();
            throw error;
          }
        })();
        this.#sockets.push({ ring, socket });
        sockets.push(socket);
        target.rings.push(ring);
      }
      if (plan.redirect !== 'none') this.#redirects.push(attachXskRedirect(sockets, iface.ifindex, { mode: plan.redirect }));
    });
  }

  /** The socket of each ring. */
  get sockets(): readonly { readonly ring: RxRing; readonly socket: Xsk }[] {
    return this.#sockets;
  }

  /** The redirect programs attached (one per netdev; none with `redirect: 'none'`). */
  get redirects(): readonly XskRedirect[] {
    return this.#redirects;
  }

  /** Wake the kernel where a ring asks for it; the number of system calls made. @throws XskError for a refusal that is not transient. */
  kick(): number {
    let calls = 0;
    for (const { socket } of this.#sockets) {
      const done = socket.kick();
      calls += (done.fill ? 1 : 0) + (done.tx ? 1 : 0);
    }
    return calls;
  }

  /** Wait up to `timeoutMs` until any socket's rx ring holds entries. */
  wait(timeoutMs: number): boolean {
    return waitAnyReadable(
      this.#sockets.map((s) => s.socket),
      timeoutMs,
    );
  }

  /** The kernel's counters and the rings' own, summed over `rings` (default all). */
  stats(rings?: readonly RxRing[]): XskDeviceStats {
    const chosen = rings === undefined ? this.#sockets : this.#sockets.filter((s) => rings.includes(s.ring));
    const sum: Record<string, bigint> = {};
    for (const { ring, socket } of chosen) {
      for (const [k, v] of Object.entries({ ...socket.stats(), ...xskRingCounters(ring) })) sum[k] = (sum[k] ?? 0n) + v;
    }
    const zero = {
      rxDropped: 0n,
      rxInvalidDescs: 0n,
      txInvalidDescs: 0n,
      rxRingFull: 0n,
      rxFillRingEmptyDescs: 0n,
      txRingEmptyDescs: 0n,
      completions: 0n,
      fillFull: 0n,
    };
    return Object.freeze({ ...zero, ...sum }) as XskDeviceStats;
  }

  /** Detach the redirect programs, then close the sockets (rings unmapped, UMEM back to the arena). Idempotent; never throws. */
  close(): void {
    for (const r of this.#redirects.splice(0)) r.close();
    for (const { socket } of this.#sockets.splice(0)) socket.close();
  }
}
