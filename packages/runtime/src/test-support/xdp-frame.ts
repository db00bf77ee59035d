/**
 * Test support: an `xdp_buff` (the runtime's {@link XdpBuffStruct}) over a frame in arena
 * data memory, laid out by hand, for calling the XDP helpers with `runtime.cpuCall`.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { XDP_PACKET_HEADROOM, XdpBuffStruct } from '../xdp-context.js';

/** Where a frame's pointers are, relative to `data_hard_start`. */
export interface FrameState {
  /** `data - data_hard_start`. */
  readonly data: number;
  /** `data_end - data_hard_start`. */
  readonly dataEnd: number;
  /** `data_meta - data_hard_start`. */
  readonly dataMeta: number;
}

/** A frame and the `xdp_buff` describing it. */
export interface TestFrame {
  readonly frame: Region;
  readonly buff: Region;
  /** `data_hard_start`. */
  readonly start: bigint;
  /** The address of the `xdp_buff` (a helper's first argument). */
  readonly ctx: bigint;
  /** The pointers now, relative to `data_hard_start`. */
  state(): FrameState;
  /** Bytes of the frame from `offset` (relative to `data_hard_start`). */
  bytes(offset: number, length: number): Uint8Array;
  free(): void;
}

/** Options of {@link createFrame}. */
export interface FrameOptions {
  /** Bytes of the frame (and `frame_sz`), default 2048. */
  readonly frameSize?: number;
  /** `frame_sz` written into the buffer when it differs from the frame's size. */
  readonly frameSz?: number;
  /** Headroom before `data`, default {@link XDP_PACKET_HEADROOM}. */
  readonly headroom?: number;
  /** Packet bytes, default 64. */
  readonly length?: number;
  /** Metadata bytes in front of `data` (default 0); `'unsupported'` puts `data_meta` at `data + 1`. */
  readonly meta?: number | 'unsupported';
  /** Byte every frame byte starts with (default 0xa5). */
  readonly fill?: number;
}

/** A frame filled with `fill` and an `xdp_buff` for it; the packet bytes are 0, 1, 2, ... */
export function createFrame(arena: TextArena, options: FrameOptions = {}): TestFrame {
  const frameSize = options.frameSize ?? 2048;
  const headroom = options.headroom ?? XDP_PACKET_HEADROOM;
  const length = options.length ?? 64;
  const frame = arena.allocData(frameSize, 64);
  const buff = arena.allocData(XdpBuffStruct.size, 64);
  const start = frame.address;
  const fill = new Uint8Array(frameSize).fill(options.fill ?? 0xa5);
  for (let i = 0; i < length; i++) fill[headroom + i] = i & 0xff;
  arena.write(start, fill);
  const view = XdpBuffStruct.view(arena.memory(buff));
  const data = start + BigInt(headroom);
  view.set('data', data);
  view.set('dataEnd', data + BigInt(length));
  view.set('dataMeta', options.meta === 'unsupported' ? data + 1n : data - BigInt(options.meta ?? 0));
  view.set('dataHardStart', start);
  view.set('frameSize', options.frameSz ?? frameSize);
  return {
    frame,
    buff,
    start,
    ctx: buff.address,
    state: () => ({
      data: Number(view.get('data') - start),
      dataEnd: Number(view.get('dataEnd') - start),
      dataMeta: Number(view.get('dataMeta') - start),
    }),
    bytes: (offset, n) => arena.read(start + BigInt(offset), n),
    free() {
      arena.free(buff);
      arena.free(frame);
    },
  };
}
