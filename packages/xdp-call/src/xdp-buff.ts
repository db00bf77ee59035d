import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { XdpError } from './errors.js';
import { XDP_BUFF, XDP_RXQ } from './layout.js';

/** Headroom in front of the packet, as XDP_PACKET_HEADROOM. */
export const XDP_HEADROOM = 256;

/** An xdp_buff with its frame and rxq info, built from JS. */
export interface XdpBuffHandle {
  /** Address of the `struct xdp_buff` (the programs' ctx). */
  readonly ctx: bigint;
  /** Address of the frame's first byte (`data`). */
  readonly data: bigint;
  /** The frame's bytes as they are now (programs such as xdp_tx modify them). */
  frame(): Uint8Array;
  free(): void;
}

/**
 * Build an xdp_buff around a copy of `frame` in arena data memory, with an rxq info of
 * `ifindex`/`queueIndex` — for running a program once from JS.
 * @throws XdpError EINVAL for an empty or oversized frame or bad indexes.
 */
export function createXdpBuff(arena: TextArena, frame: Uint8Array, options: { ifindex: number; queueIndex?: number }): XdpBuffHandle {
  if (!(frame instanceof Uint8Array) || frame.length === 0 || frame.length > 4096 - XDP_HEADROOM) {
    throw new XdpError('EINVAL', 'createXdpBuff: frame must be 1 to 3840 bytes');
  }
  const queueIndex = options.queueIndex ?? 0;
  for (const [name, v] of [['ifindex', options.ifindex], ['queueIndex', queueIndex]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new XdpError('EINVAL', `createXdpBuff: bad ${name} ${String(v)}`);
  }
  const buffer: Region = arena.allocData(XDP_HEADROOM + frame.length);
  const meta: Region = arena.allocData(XDP_BUFF.size + XDP_RXQ.size);
  const data = buffer.address + BigInt(XDP_HEADROOM);
  arena.write(data, frame);
  const bytes = arena.dataView(meta);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const rxq = meta.address + BigInt(XDP_BUFF.size);
  v.setBigUint64(XDP_BUFF.data, data, true);
  v.setBigUint64(XDP_BUFF.dataEnd, data + BigInt(frame.length), true);
  v.setBigUint64(XDP_BUFF.dataMeta, data, true);
  v.setBigUint64(XDP_BUFF.dataHardStart, buffer.address, true);
  v.setBigUint64(XDP_BUFF.rxq, rxq, true);
  v.setUint32(XDP_BUFF.frameSize, XDP_HEADROOM + frame.length, true);
  v.setUint32(XDP_BUFF.ingressIfindex, options.ifindex, true);
  v.setUint32(XDP_BUFF.rxQueueIndex, queueIndex, true);
  v.setUint32(XDP_BUFF.size + XDP_RXQ.ifindex, options.ifindex, true);
  v.setUint32(XDP_BUFF.size + XDP_RXQ.queueIndex, queueIndex, true);
  return {
    ctx: meta.address,
    data,
    frame: () => arena.read(data, frame.length),
    free: () => {
      arena.free(buffer);
      arena.free(meta);
    },
  };
}
