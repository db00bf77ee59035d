/**
 * The kernel side of an AF_XDP socket: `bpf/xsk_redirect.bpf.o` (an XSKMAP `xsks_map` and
 * a program redirecting each packet to the socket of its rx queue) loaded into the
 * running kernel, the socket's fd stored at its queue's index, and the program attached
 * to the netdev through a BPF link — what libxdp's `xsk_setup_xdp_prog` does.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type KernelObject, loadObjectIntoKernel, type ParsedObject, parseObject } from '@bpf-dispatcher/bpf-object';
import { EbpfError, KernelError, type KernelLink, kernelLinkCreate, XDP_FLAGS } from '@bpf-dispatcher/ebpf';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { I40eError } from '../errors.js';
import { describe } from '../validate.js';
import { Xsk } from './socket.js';
import { XskError } from './xsk-error.js';

/** The object's file name in the package's `bpf/` folder. */
export const XSK_REDIRECT_OBJECT = 'xsk_redirect.bpf.o';
/** Queues the object's XSKMAP has room for (`max_entries` of `xsks_map`). */
export const XSK_REDIRECT_MAX_QUEUES = 64;

/** Options of {@link attachXskRedirect}. */
export interface XskRedirectOptions {
  /**
   * `native` attaches in the driver (`XDP_FLAGS_DRV_MODE`), `generic` in the stack
   * (`XDP_FLAGS_SKB_MODE`), `auto` (default) tries native and falls back to generic
   * when the driver has no XDP support.
   */
  readonly mode?: 'auto' | 'native' | 'generic';
}

/** The redirect program attached for the sockets of one netdev. `close()` detaches it and frees the program and map. */
export interface XskRedirect {
  /** The netdev it is attached to. */
  readonly ifindex: number;
  /** The queues whose packets go to a socket (each to the socket bound to it). */
  readonly queues: readonly number[];
  /** Where the program runs: in the driver (`native`) or in the stack (`generic`). */
  readonly mode: 'native' | 'generic';
  /** The BPF link holding the attachment (detached when closed). */
  readonly link: KernelLink;
  /** The loaded object: program `xsk_redirect`, map `xsks_map`. */
  readonly object: KernelObject;
  /** True once closed. */
  readonly closed: boolean;
  /** Detach (close the link), then close the program and the map. Idempotent; never throws. */
  close(): void;
  [Symbol.dispose](): void;
}

let parsed: ParsedObject | undefined;

/** The path of `bpf/xsk_redirect.bpf.o` (from `src/afxdp/` and `dist/afxdp/` alike). */
export function xskRedirectObjectPath(): string {
  return fileURLToPath(new URL(`../../bpf/${XSK_REDIRECT_OBJECT}`, import.meta.url));
}

function object(): ParsedObject {
  parsed ??= parseObject(new Uint8Array(readFileSync(xskRedirectObjectPath())));
  return parsed;
}

/** Turn the kernel's refusal of `call` into an XskError; other typed errors keep their identity inside an I40eError. */
function rethrow(call: string, error: unknown): never {
  const kernel =
    error instanceof KernelError
      ? error
      : BpfDispatcherError.isInstance(error) && error.cause instanceof KernelError
        ? error.cause
        : undefined;
  if (kernel !== undefined)
    throw new XskError(
      call,
      kernel.errno,
      kernel.errno === 95 ? 'EOPNOTSUPP' : kernel.errnoName,
      kernel.log.length > 0 ? 'see cause for the verifier log' : '',
    );
  if (EbpfError.hasCode(error, 'UNSUPPORTED')) throw new I40eError('UNSUPPORTED', `${call}: ${(error as Error).message}`, { cause: error });
  throw error;
}

/**
 * Load the redirect program into the kernel, store each socket's fd in its XSKMAP at the
 * socket's queue, and attach it to `ifindex` (the netdev the sockets are bound to) through
 * `BPF_LINK_CREATE` — native mode, else (mode `auto`, a driver without XDP) generic. From
 * then on packets of those queues reach their socket's rx ring; packets of queues without
 * a socket go on to the stack (XDP_PASS). On failure everything loaded is closed again.
 * @throws I40eError EINVAL for a closed or foreign socket, sockets of other netdevs than
 *   `ifindex` or two on one queue, a queue beyond the map, or bad options; UNSUPPORTED
 *   without `bpf()`; XskError naming the step and the kernel's errno
 *   (`BPF_LINK_CREATE(…): EBUSY` when another program is attached in that mode).
 */
export function attachXskRedirect(xsks: Xsk | readonly Xsk[], ifindex?: number, options: XskRedirectOptions = {}): XskRedirect {
  const list: readonly unknown[] = Array.isArray(xsks) ? xsks : [xsks];
  if (list.length === 0) throw new I40eError('EINVAL', 'attachXskRedirect: no socket given');
  for (const xsk of list) {
    if (!(xsk instanceof Xsk)) throw new I40eError('EINVAL', `attachXskRedirect: expected an Xsk from openXsk, got ${describe(xsk)}`);
    if (xsk.closed) throw new I40eError('EINVAL', 'attachXskRedirect: the socket is closed');
  }
  const sockets = list as readonly Xsk[];
  const first = sockets[0] as Xsk;
  const target = ifindex ?? first.ifindex;
  for (const xsk of sockets) {
    if (xsk.ifindex !== target)
      throw new I40eError('EINVAL', `attachXskRedirect: a socket is bound to ifindex ${xsk.ifindex}, not ${describe(target)}`);
    if (xsk.queue >= XSK_REDIRECT_MAX_QUEUES)
      throw new I40eError('EINVAL', `attachXskRedirect: queue ${xsk.queue} is beyond the XSKMAP's ${XSK_REDIRECT_MAX_QUEUES} entries`);
  }
  const queues = sockets.map((x) => x.queue);
  if (new Set(queues).size !== queues.length) throw new I40eError('EINVAL', 'attachXskRedirect: two sockets are bound to the same queue');
  if (typeof options !== 'object' || options === null) throw new I40eError('EINVAL', 'attachXskRedirect: options must be an object');
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'native' && mode !== 'generic')
    throw new I40eError('EINVAL', `attachXskRedirect: mode must be 'auto', 'native' or 'generic', got ${describe(mode)}`);

  let loaded: KernelObject;
  try {
    loaded = loadObjectIntoKernel(object(), { name: 'xsk_redirect' });
  } catch (error) {
    rethrow(`loading ${XSK_REDIRECT_OBJECT} into the kernel`, error);
  }
  try {
    for (const xsk of sockets) {
      const key = new Uint8Array(4);
      const value = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, xsk.queue, true);
      new DataView(value.buffer).setUint32(0, xsk.fd, true);
      try {
        loaded.map('xsks_map').update(key, value);
      } catch (error) {
        rethrow(`xsks_map[${xsk.queue}] = xsk fd`, error);
      }
    }
    const prog = loaded.program('xsk_redirect');
    const attach = (flags: number, name: 'native' | 'generic'): KernelLink => {
      try {
        return kernelLinkCreate(prog, { targetIfindex: target, flags });
      } catch (error) {
        rethrow(`BPF_LINK_CREATE(xsk_redirect, ifindex ${target}, ${name})`, error);
      }
    };
    let link: KernelLink;
    let attached: 'native' | 'generic';
    if (mode === 'generic') {
      link = attach(XDP_FLAGS.SKB_MODE, 'generic');
      attached = 'generic';
    } else {
      try {
        link = attach(XDP_FLAGS.DRV_MODE, 'native');
        attached = 'native';
      } catch (error) {
        if (mode === 'native' || !(error instanceof XskError) || error.errnoName !== 'EOPNOTSUPP') throw error;
        link = attach(XDP_FLAGS.SKB_MODE, 'generic');
        attached = 'generic';
      }
    }
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      link.close();
      loaded.close();
    };
    return Object.freeze({
      ifindex: target,
      queues: Object.freeze(queues),
      mode: attached,
      link,
      object: loaded,
      get closed() {
        return closed;
      },
      close,
      [Symbol.dispose]: close,
    });
  } catch (error) {
    loaded.close();
    throw error;
  }
}
