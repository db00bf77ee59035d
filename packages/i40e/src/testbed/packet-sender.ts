/**
 * A traffic generator for tests: an `AF_PACKET` raw socket bound to one netdev, sending
 * whole Ethernet frames with `sendmmsg` (one system call per batch, `MSG_DONTWAIT`). On a
 * veth, each frame goes straight to the peer's receive path (and its XDP program) inside
 * the send call, or on the peer's NAPI when softirqs are deferred.
 *
 * A frame the kernel did not take is not sent: `sendmmsg` stops at the first refusal and
 * reports how many went out, and the caller sends the rest again later. The refusals that
 * mean "later" are EAGAIN (the socket's send buffer is full of frames still in flight) and
 * ENOBUFS (veth's ring towards the peer was full and it dropped the frame); they are
 * counted, never thrown.
 */
import { type NativeBytes, type Sys, sys } from '../afxdp/sys.js';
import { XskError } from '../afxdp/xsk-error.js';
import { I40eError } from '../errors.js';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
/** `htons(ETH_P_ALL)`. */
const ETH_P_ALL_BE = 0x0300;
const MSG_DONTWAIT = 0x40;
/** `struct mmsghdr`: `struct msghdr` (56 bytes) + `msg_len`, padded to 64. */
const MMSGHDR = 64;
const MSGHDR = { iov: 16, iovlen: 24 } as const;
const IOVEC = 16;
/** Largest frame (Ethernet, FCS excluded, no VLAN). */
const MAX_FRAME = 1514;

/** Counters of a {@link PacketSender}. */
export interface PacketSenderStats {
  /** Frames the kernel accepted. */
  readonly sent: number;
  /** sendmmsg calls. */
  readonly calls: number;
  /** Calls refused with EAGAIN (send buffer full). */
  readonly eagain: number;
  /** Calls whose first frame veth dropped (ENOBUFS: its ring to the peer was full). */
  readonly enobufs: number;
}

/** An AF_PACKET sender on one netdev (of the calling thread's network namespace). */
export class PacketSender {
  readonly #s: Sys;
  #fd: number;
  readonly #buffer: NativeBytes;
  readonly batch: number;
  #stats = { sent: 0, calls: 0, eagain: 0, enobufs: 0 };

  private constructor(s: Sys, fd: number, buffer: NativeBytes, batch: number) {
    this.#s = s;
    this.#fd = fd;
    this.#buffer = buffer;
    this.batch = batch;
  }

  /**
   * `socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))` bound to `ifindex`, with native room
   * for `batch` frames per call.
   * @throws I40eError EINVAL for a bad batch; XskError when the kernel refuses (the call and errno named).
   */
  static open(ifindex: number, batch = 64): PacketSender {
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024)
      throw new I40eError('EINVAL', `PacketSender: batch must be 1..1024, got ${String(batch)}`);
    const s = sys();
    const fd = s.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, ETH_P_ALL_BE);
    if (fd < 0) throw new XskError('socket(AF_PACKET)', -fd, s.errnoName(-fd));
    const buffer = s.alloc(batch * (MMSGHDR + IOVEC + MAX_FRAME));
    // struct sockaddr_ll: family, protocol (big endian), ifindex
    const sll = s.alloc(20);
    try {
      sll.view.setUint16(0, AF_PACKET, true);
      sll.view.setUint16(2, ETH_P_ALL_BE, true);
      sll.view.setInt32(4, ifindex, true);
      const ret = s.bind(fd, sll.address, 20);
      if (ret < 0) throw new XskError(`bind(AF_PACKET, ifindex ${ifindex})`, -ret, s.errnoName(-ret));
    } catch (error) {
      s.close(fd);
      s.free(buffer);
      throw error;
    } finally {
      s.free(sll);
    }
    return new PacketSender(s, fd, buffer, batch);
  }

  /**
   * Send `frames[from]`, `frames[from + 1]`, … (at most `count`, at most `batch`) with one
   * `sendmmsg`. Returns how many the kernel took (0 when it refused the first with
   * EAGAIN or ENOBUFS: send them again later).
   * @throws I40eError EINVAL for a frame over 1514 bytes, DISPOSED once closed; XskError for an errno other than EAGAIN or ENOBUFS.
   */
  send(frames: readonly Uint8Array[], from: number, count: number): number {
    if (this.#fd < 0) throw new I40eError('DISPOSED', 'PacketSender: closed');
    const n = Math.min(count, this.batch, frames.length - from);
    if (n <= 0) return 0;
    const { bytes, view, address } = this.#buffer;
    const iovBase = this.batch * MMSGHDR;
    const dataBase = iovBase + this.batch * IOVEC;
    for (let i = 0; i < n; i++) {
      const frame = frames[from + i] as Uint8Array;
      if (frame.length > MAX_FRAME)
        throw new I40eError('EINVAL', `PacketSender: frame ${from + i} has ${frame.length} bytes (at most ${MAX_FRAME})`);
      const data = dataBase + i * MAX_FRAME;
      bytes.set(frame, data);
      const iov = iovBase + i * IOVEC;
      view.setBigUint64(iov, address + BigInt(data), true);
      view.setBigUint64(iov + 8, BigInt(frame.length), true);
      const hdr = i * MMSGHDR;
      bytes.fill(0, hdr, hdr + MMSGHDR);
      view.setBigUint64(hdr + MSGHDR.iov, address + BigInt(iov), true);
      view.setBigUint64(hdr + MSGHDR.iovlen, 1n, true);
    }
    this.#stats.calls += 1;
    const ret = this.#s.sendmmsg(this.#fd, address, n, MSG_DONTWAIT);
    if (ret < 0) {
      const name = this.#s.errnoName(-ret);
      if (name === 'EAGAIN' || name === 'EWOULDBLOCK') this.#stats.eagain += 1;
      else if (name === 'ENOBUFS') this.#stats.enobufs += 1;
      else throw new XskError(`sendmmsg(AF_PACKET, ${n} frames)`, -ret, name);
      return 0;
    }
    this.#stats.sent += ret;
    return ret;
  }

  /** A snapshot of the counters. */
  stats(): PacketSenderStats {
    return { ...this.#stats };
  }

  /** Close the socket and free the buffer (idempotent). */
  close(): void {
    if (this.#fd < 0) return;
    this.#s.close(this.#fd);
    this.#fd = -1;
    this.#s.free(this.#buffer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
