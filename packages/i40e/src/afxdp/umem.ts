/**
 * The UMEM: the packet memory an AF_XDP socket shares with the kernel, `frames` chunks of
 * `frameSize` bytes. It is taken from the native arena's data memory (mapped below 2 GiB)
 * so that JIT'd code can address every frame, and registered with `XDP_UMEM_REG`, which
 * pins its pages for as long as the socket lives.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { I40eError } from '../errors.js';
import type { Sys } from './sys.js';
import { SOL_XDP, XDP_SOCKOPT, XDP_UMEM_REG } from './uapi.js';
import { XskError } from './xsk-error.js';

/** The UMEM of an {@link Xsk}. Descriptor addresses are offsets into it (aligned mode). */
export interface XskUmem {
  /** The arena region holding it (page-aligned). */
  readonly region: Region;
  /** Its virtual address (= `region.address`), below 2 GiB: frame `i` starts at `address + i * frameSize`. */
  readonly address: bigint;
  /** Bytes: `frames * frameSize`. */
  readonly size: number;
  readonly frames: number;
  /** Chunk size: 2048 or 4096. */
  readonly frameSize: number;
  /** Headroom the kernel leaves in front of each received frame beyond its own (`XDP_UMEM_REG` headroom): 0. */
  readonly headroom: number;
  /** The UMEM offset of frame `i` (what fill and tx descriptors carry). @throws I40eError EINVAL for an index out of range. */
  frameOffset(i: number): bigint;
}

/** Page size: the UMEM must start on a page. */
const PAGE = 4096;

/**
 * @internal Take `frames * frameSize` bytes of the arena's data memory, page-aligned.
 * @throws I40eError EINVAL when the arena has no room (`cause`: the arena's error).
 */
export function allocUmem(arena: TextArena, frames: number, frameSize: number): XskUmem {
  const size = frames * frameSize;
  let region: Region;
  try {
    region = arena.allocData(size, { align: PAGE });
  } catch (error) {
    throw new I40eError('EINVAL', `openXsk: the arena has no room for a UMEM of ${frames} frames of ${frameSize} bytes (${size} bytes)`, {
      cause: error,
    });
  }
  return Object.freeze({
    region,
    address: region.address,
    size,
    frames,
    frameSize,
    headroom: 0,
    frameOffset(i: number): bigint {
      if (!Number.isInteger(i) || i < 0 || i >= frames)
        throw new I40eError('EINVAL', `XskUmem.frameOffset: frame index must be an integer from 0 to ${frames - 1}, got ${String(i)}`);
      return BigInt(i * frameSize);
    },
  });
}

/**
 * @internal `setsockopt(XDP_UMEM_REG)`: register the UMEM with socket `fd` (aligned chunks, no headroom).
 * @throws XskError when the kernel refuses.
 */
export function registerUmem(s: Sys, fd: number, umem: XskUmem): void {
  const reg = s.alloc(XDP_UMEM_REG.size);
  try {
    reg.view.setBigUint64(XDP_UMEM_REG.addr, umem.address, true);
    reg.view.setBigUint64(XDP_UMEM_REG.len, BigInt(umem.size), true);
    reg.view.setUint32(XDP_UMEM_REG.chunkSize, umem.frameSize, true);
    reg.view.setUint32(XDP_UMEM_REG.headroom, umem.headroom, true);
    const ret = s.setsockopt(fd, SOL_XDP, XDP_SOCKOPT.UMEM_REG, reg.address, XDP_UMEM_REG.size);
    if (ret < 0)
      throw new XskError(
        `setsockopt(XDP_UMEM_REG, ${umem.frames} x ${umem.frameSize} bytes at 0x${umem.address.toString(16)})`,
        -ret,
        s.errnoName(-ret),
      );
  } finally {
    s.free(reg);
  }
}
