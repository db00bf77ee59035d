import { TextPokeError } from './errors.js';

/** An allocated block, as offsets from the start of the managed range. */
export interface Block {
  readonly offset: number;
  readonly size: number;
}

/**
 * First-fit allocator over one contiguous range (offsets 0..capacity), the bookkeeping
 * behind both arenas' text and data memory. Blocks are kept sorted by offset, so lookups
 * of "which block holds this address" are binary searches.
 */
export class RegionAllocator {
  private readonly blocks: Block[] = [];
  private usedBytes = 0;

  constructor(readonly capacity: number) {}

  /**
   * Allocate `size` bytes aligned to `align` (relative to an aligned range start), or
   * exactly at `at` when given.
   * @throws TextPokeError EINVAL for a bad size, alignment or placement; ENOMEM when full.
   */
  alloc(size: number, align: number, at?: number): Block {
    if (!Number.isSafeInteger(size) || size <= 0) throw new TextPokeError('EINVAL', `alloc: size must be a positive integer, got ${size}`);
    if (!Number.isSafeInteger(align) || align < 1 || (align & (align - 1)) !== 0 || align > 1 << 20) {
      throw new TextPokeError('EINVAL', `alloc: alignment must be a power of two up to 1 MiB, got ${align}`);
    }
    if (at !== undefined) return this.place(at, size, align);
    let cursor = 0;
    for (let i = 0; i <= this.blocks.length; i++) {
      const next = this.blocks[i];
      const start = Math.ceil(cursor / align) * align;
      const limit = next === undefined ? this.capacity : next.offset;
      if (start + size <= limit) {
        const block = { offset: start, size };
        this.blocks.splice(i, 0, block);
        this.usedBytes += size;
        return block;
      }
      if (next !== undefined) cursor = next.offset + next.size;
    }
    throw new TextPokeError('ENOMEM', `alloc: no free block of ${size} bytes (aligned ${align}) in ${this.capacity} bytes`);
  }

  private place(at: number, size: number, align: number): Block {
    if (!Number.isSafeInteger(at) || at < 0 || at + size > this.capacity) {
      throw new TextPokeError('EINVAL', `alloc: placement at offset ${at} (+${size}) is outside the arena (${this.capacity} bytes)`);
    }
    if (at % align !== 0) throw new TextPokeError('EINVAL', `alloc: placement at offset ${at} is not aligned to ${align}`);
    const i = this.insertionIndex(at);
    const prev = this.blocks[i - 1];
    const next = this.blocks[i];
    if ((prev !== undefined && prev.offset + prev.size > at) || (next !== undefined && next.offset < at + size)) {
      throw new TextPokeError('ENOMEM', `alloc: placement at offset ${at} (+${size}) overlaps an allocated block`);
    }
    const block = { offset: at, size };
    this.blocks.splice(i, 0, block);
    this.usedBytes += size;
    return block;
  }

  /** Index of the first block whose offset is > offset. */
  private insertionIndex(offset: number): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.blocks[mid] as Block).offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The block that contains [offset, offset + length), if any. */
  blockContaining(offset: number, length: number): Block | undefined {
    const block = this.blocks[this.insertionIndex(offset) - 1];
    if (block === undefined || offset + length > block.offset + block.size) return undefined;
    return block;
  }

  /** Free the block starting at `offset` with `size`. @throws TextPokeError EINVAL if there is none. */
  free(offset: number, size: number): void {
    const i = this.insertionIndex(offset) - 1;
    const block = this.blocks[i];
    if (block === undefined || block.offset !== offset || block.size !== size) {
      throw new TextPokeError('EINVAL', `free: no allocated region at offset ${offset} of ${size} bytes (double free?)`);
    }
    this.blocks.splice(i, 1);
    this.usedBytes -= size;
  }

  /** Bytes in live blocks (alignment gaps not counted). */
  get used(): number {
    return this.usedBytes;
  }

  /** Number of live blocks. */
  get count(): number {
    return this.blocks.length;
  }
}
