import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { XdpError } from './errors.js';
import { XDP_PACKET_HEADROOM, XDP_TAILROOM } from '@bpf-dispatcher/runtime';
import { XDP_BUFF, XDP_RXQ, XdpBuffStruct, XdpRxqInfoStruct } from './layout.js';
import { assertArena, describe, optionsObject, u64 } from './validate.js';

/** Headroom in front of the packet, as XDP_PACKET_HEADROOM. */
export const XDP_HEADROOM = XDP_PACKET_HEADROOM;

/**
 * The buffer {@link createXdpBuff} gives each frame: one 4 KiB page, as the kernel's
 * `BPF_PROG_TEST_RUN` does (`frame_sz` 4096: headroom, packet, and the tailroom
 * `xdp_adjust_tail` never grows into).
 */
const PAGE = 4096;

/** The largest frame {@link createXdpBuff} takes (the kernel's test-run limit). */
const MAX_FRAME = PAGE - XDP_HEADROOM - XDP_TAILROOM;

/** An xdp_buff with its frame and rxq info, built from JS. */
export interface XdpBuffHandle {
  /** Address of the `struct xdp_buff` (the programs' ctx). */
  readonly ctx: bigint;
  /** Address of the frame's first byte (`data`). */
  readonly data: bigint;
  /**
   * The frame as it is now, copied: from `data_meta` to `data_end`, so metadata a program
   * added and head/tail adjustments show (programs such as xdp_tx modify it).
   * @throws XdpError DISPOSED after free() or once the arena is disposed.
   */
  frame(): Uint8Array;
  /** Free the buffer. Idempotent; a no-op once the arena is disposed. */
  free(): void;
}

/** Bytes {@link initXdpBuff} lays out: an xdp_buff followed by its xdp_rxq_info. */
export const XDP_BUFF_RXQ_SIZE = XDP_BUFF.size + XDP_RXQ.size;

/** What {@link initXdpBuff} writes. */
export interface XdpBuffInit {
  /** `frame_sz`: the bytes of the buffer the frame lives in, headroom included. */
  readonly frameSize: number;
  /** The receive queue's netdev (`rxq->dev->ifindex`, also `xdp_md.ingress_ifindex`). */
  readonly ifindex: number;
  /** The receive queue's index (`rxq->queue_index`, also `xdp_md.rx_queue_index`); default 0. */
  readonly queueIndex?: number;
  /**
   * The CPU (poller thread index) that runs programs on this buffer, 0..cpus-1 of the
   * arena's eBPF runtime: per-CPU maps and `bpf_get_smp_processor_id()` use it. Default 0.
   */
  readonly cpu?: number;
  /**
   * The frame, when it is known now (`xdp_prepare_buff`): `data_hard_start`, `data` (=
   * `data_meta`: no metadata yet) and `data_end = data + length`. Omitted by a driver whose
   * poll loop sets the data pointers per packet.
   */
  readonly packet?: { readonly hardStart: bigint; readonly data: bigint; readonly length: number };
}

function u32Of(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffff_ffff) throw new XdpError('EINVAL', `initXdpBuff: bad ${what} ${describe(value)}`);
  return value as number;
}

/**
 * The kernel's `xdp_init_buff()` (with `xdp_rxq_info_reg()`'s fields and, given a
 * `packet`, `xdp_prepare_buff()`): zero an `xdp_buff` at byte `offset` of the data
 * `region`, lay its `xdp_rxq_info` right after it, and fill in `rxq`, `frame_sz`, the
 * `xdp_md` fields and the data pointers. The one place an xdp_buff is initialised: used
 * by {@link createXdpBuff} and by drivers for their per-ring buffers.
 * Returns the addresses of the xdp_buff (the programs' ctx) and of the rxq info.
 * @throws XdpError EINVAL for bad values (checked before anything is written);
 *   TextPokeError EFAULT / EINVAL if {@link XDP_BUFF_RXQ_SIZE} bytes at `offset` are not an
 *   8-aligned part of the region, DISPOSED for a disposed arena.
 */
export function initXdpBuff(arena: TextArena, region: Region, init: XdpBuffInit, offset = 0): { ctx: bigint; rxq: bigint } {
  assertArena(arena, 'initXdpBuff');
  const opts = optionsObject(init, 'initXdpBuff');
  const frameSize = u32Of(opts.frameSize, 'frameSize');
  const ifindex = u32Of(opts.ifindex, 'ifindex');
  const queueIndex = u32Of(opts.queueIndex ?? 0, 'queueIndex');
  const cpu = u32Of(opts.cpu ?? 0, 'cpu');
  const packet = opts.packet;
  if (packet !== undefined) {
    const ok = typeof packet === 'object' && packet !== null && typeof packet.hardStart === 'bigint' && typeof packet.data === 'bigint' && packet.data >= packet.hardStart;
    if (!ok || !Number.isSafeInteger(packet.length) || packet.length < 0) throw new XdpError('EINVAL', `initXdpBuff: packet must be { hardStart, data >= hardStart, length >= 0 }, got ${describe(packet)}`);
  }
  const buff = XdpBuffStruct.view(arena, region, offset);
  const rxq = XdpRxqInfoStruct.view(arena, region, offset + XDP_BUFF.size);
  buff.clear();
  rxq.clear();
  rxq.set('ifindex', ifindex);
  rxq.set('queueIndex', queueIndex);
  buff.set('rxq', rxq.address);
  buff.set('frameSize', frameSize);
  buff.set('ingressIfindex', ifindex);
  buff.set('rxQueueIndex', queueIndex);
  buff.set('cpu', cpu);
  if (packet !== undefined) {
    buff.set('dataHardStart', packet.hardStart);
    buff.set('data', packet.data);
    buff.set('dataMeta', packet.data);
    buff.set('dataEnd', packet.data + BigInt(packet.length));
  }
  return { ctx: buff.address, rxq: rxq.address };
}

/**
 * Build an xdp_buff around a copy of `frame` in arena data memory, with an rxq info of
 * `ifindex`/`queueIndex` — for running a program once from JS. Validates before
 * allocating; nothing stays allocated if a step fails.
 * @throws XdpError EINVAL for a bad arena, an empty or oversized frame or bad indexes;
 *   DISPOSED for a disposed arena; TextPokeError ENOMEM when the arena is full.
 */
export function createXdpBuff(arena: TextArena, frame: Uint8Array, options: { ifindex: number; queueIndex?: number; cpu?: number }): XdpBuffHandle {
  assertArena(arena, 'createXdpBuff');
  if (!(frame instanceof Uint8Array) || frame.length === 0 || frame.length > MAX_FRAME) {
    throw new XdpError('EINVAL', `createXdpBuff: frame must be a Uint8Array of 1 to ${MAX_FRAME} bytes`);
  }
  const opts = optionsObject(options, 'createXdpBuff');
  const ifindex = opts.ifindex as number;
  const queueIndex = opts.queueIndex ?? 0;
  const cpu = opts.cpu ?? 0;
  for (const [name, v] of [['ifindex', ifindex], ['queueIndex', queueIndex], ['cpu', cpu]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new XdpError('EINVAL', `createXdpBuff: bad ${name} ${describe(v)}`);
  }
  const buffer: Region = arena.allocData(PAGE);
  let meta: Region;
  try {
    meta = arena.allocData(XDP_BUFF_RXQ_SIZE);
  } catch (error) {
    arena.free(buffer);
    throw error;
  }
  const data = buffer.address + BigInt(XDP_HEADROOM);
  arena.write(data, frame);
  initXdpBuff(arena, meta, { frameSize: PAGE, ifindex, queueIndex, cpu, packet: { hardStart: buffer.address, data, length: frame.length } });
  let freed = false;
  const fields = XdpBuffStruct.view(arena, meta);
  return Object.freeze({
    ctx: meta.address,
    data,
    frame: () => {
      if (freed) throw new XdpError('DISPOSED', 'xdp_buff.frame: the buffer was freed');
      if (arena.disposed) throw new XdpError('DISPOSED', 'xdp_buff.frame: the arena was disposed');
      checkXdpBuff(arena, meta.address, 'xdp_buff.frame');
      // what the program left: from data_meta (metadata it added) to data_end, as the kernel's test-run returns it
      const start = fields.get('dataMeta');
      return arena.read(start, Number(fields.get('dataEnd') - start));
    },
    free: () => {
      if (freed) return;
      freed = true;
      if (arena.disposed) return;
      arena.free(buffer);
      arena.free(meta);
    },
  });
}

/** The most frame bytes a caller-built xdp_buff may describe. */
const MAX_SPAN = 1 << 16;

/**
 * Check that `ctx` is an xdp_buff a program can be run on without faulting: `XDP_BUFF.size`
 * bytes inside one allocated data region of `arena` (as {@link createXdpBuff} makes them)
 * whose pointers are consistent — `data_hard_start <= data_meta <= data <= data_end`
 * inside one allocated data region (at most 64 KiB) that also holds `frame_sz` bytes from
 * `data_hard_start` (what `xdp_adjust_tail` may grow into), `rxq` pointing at an xdp_rxq_info
 * inside allocated data. The fields are read and checked on every call, so a buffer
 * overwritten with garbage is refused too.
 * @throws XdpError EINVAL otherwise.
 */
export function checkXdpBuff(arena: TextArena, ctx: unknown, what: string): bigint {
  if (typeof ctx !== 'bigint') throw new XdpError('EINVAL', `${what}: ctx must be the address of an xdp_buff (bigint), got ${describe(ctx)}`);
  // even a buffer createXdpBuff made is checked again: its fields live in writable data memory
  const bad = (why: string) => new XdpError('EINVAL', `${what}: 0x${BigInt.asUintN(64, ctx).toString(16)} is not an xdp_buff (${why}); use createXdpBuff()`);
  const inData = (address: bigint, length: number): Uint8Array | undefined => {
    const [start, end] = arena.dataRange;
    if (address < start || address + BigInt(length) > end) return undefined;
    try {
      return arena.read(address, length);
    } catch {
      return undefined;
    }
  };
  const header = inData(ctx, XDP_BUFF.size);
  if (header === undefined) throw bad(`not ${XDP_BUFF.size} bytes inside one allocated data region of this arena`);
  const data = u64(header, XDP_BUFF.data);
  const dataEnd = u64(header, XDP_BUFF.dataEnd);
  const dataMeta = u64(header, XDP_BUFF.dataMeta);
  const hardStart = u64(header, XDP_BUFF.dataHardStart);
  const rxq = u64(header, XDP_BUFF.rxq);
  if (!(hardStart <= dataMeta && dataMeta <= data && data <= dataEnd) || dataEnd - hardStart > BigInt(MAX_SPAN) || dataEnd === hardStart) {
    throw bad('its data pointers are not ordered data_hard_start <= data_meta <= data <= data_end');
  }
  if (inData(hardStart, Number(dataEnd - hardStart)) === undefined) throw bad('its frame is not inside one allocated data region');
  // xdp_adjust_tail may grow the packet up to data_hard_start + frame_sz - tailroom
  const frameSize = new DataView(header.buffer, header.byteOffset).getUint32(XDP_BUFF.frameSize, true);
  if (frameSize > MAX_SPAN || BigInt(frameSize) < dataEnd - hardStart || inData(hardStart, frameSize) === undefined) {
    throw bad('its frame_sz does not cover the frame inside one allocated data region');
  }
  if (inData(rxq, XDP_RXQ.size) === undefined) throw bad('its rxq does not point at allocated data');
  return ctx;
}
