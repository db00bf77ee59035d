import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import type { Address } from '@bpf-dispatcher/x86';
import { type EmitDispatcherOptions, HALF_SIZE, IMAGE_SIZE, generateImage } from './emit-dispatcher.js';
import { type ProfilePlan, generateProfileImage } from './emit-profile.js';

/**
 * The double-buffered dispatcher image of one {@link Dispatcher}: the kernel's
 * `d->image` page used as two 2048-byte halves, `d->image_off` and the flip between them
 * in `bpf_dispatcher_update()`. It owns
 *
 * - the image page (allocated with the first update, freed by {@link free});
 * - the live half (the one the trampoline jumps to) and its size;
 * - the retired halves: halves that were live since the last grace period, so that
 *   rewriting one must wait for `synchronize()` first (the kernel's `synchronize_rcu()`
 *   in `bpf_dispatcher_update()`, added after a reader was caught in a rewritten half);
 * - the staging buffer the next half is generated into (one per image, so the bytes it
 *   returns stay valid until this image's next {@link stage}, whatever other dispatchers do).
 *
 * It does not poke, wait or throw typed errors: the {@link Dispatcher} does, in the
 * kernel's order (prepare the inactive half, poke the trampoline, flip), and turns
 * arena failures into its typed error in one place.
 */
export class DispatcherImage {
  private page: Region | null = null;
  private live: number | null = null;
  private liveBytes = 0;
  private lastOffset = 0;
  private readonly retired = new Set<number>();
  private readonly staging = new Uint8Array(HALF_SIZE * 2);

  /** The image page, once allocated. */
  get region(): Region | null {
    return this.page;
  }

  /** The kernel's `image_off`: the half the last installed image went to (0 or 2048). */
  get offset(): number {
    return this.lastOffset;
  }

  /** The live half (0 or 2048), or null while the trampoline holds the nop. */
  get liveOffset(): number | null {
    return this.live;
  }

  /** Address of the live half, or null. */
  get liveAddress(): bigint | null {
    return this.page === null || this.live === null ? null : this.page.address + BigInt(this.live);
  }

  /** Bytes of the code in the live half (0 when none). */
  get liveSize(): number {
    return this.live === null ? 0 : this.liveBytes;
  }

  /**
   * Allocate the page (4096 bytes, 4096-aligned, at `at` if given) unless it exists.
   * @throws the arena's error (the caller types it).
   */
  allocate(arena: TextArena, at: Address | undefined): Region {
    if (this.page === null) this.page = arena.alloc(IMAGE_SIZE, at === undefined ? { align: IMAGE_SIZE } : { align: IMAGE_SIZE, at });
    return this.page;
  }

  /** The half the next update writes: the one that is not live (half 0 when none is). */
  nextOffset(): number {
    return this.live === null ? 0 : this.live ^ HALF_SIZE;
  }

  /** True if `offset` was live since the last grace period (rewriting it must wait for one). */
  isRetired(offset: number): boolean {
    return this.retired.has(offset);
  }

  /** A grace period elapsed: no reader is left in any retired half. */
  graceElapsed(): void {
    this.retired.clear();
  }

  /**
   * Generate the image of `progs` for the half at `offset` into the staging buffer; the
   * bytes are valid until the next call.
   * @throws the errors of `generateImage` (typed DispatcherErrors).
   */
  stage(offset: number, progs: readonly Address[], options: EmitDispatcherOptions): { address: bigint; bytes: Uint8Array } {
    const address = (this.page as Region).address + BigInt(offset);
    return { address, bytes: generateImage(address, progs, options, HALF_SIZE, this.staging) };
  }

  /**
   * {@link stage} with the layout chosen by `weights` (emit-profile.ts), with its plan.
   * @throws the errors of `generateProfileImage`.
   */
  stageProfile(
    offset: number,
    progs: readonly Address[],
    weights: ReadonlyMap<bigint, number>,
    options: EmitDispatcherOptions,
  ): { address: bigint; bytes: Uint8Array; plan: ProfilePlan } {
    const address = (this.page as Region).address + BigInt(offset);
    return { address, ...generateProfileImage(address, progs, weights, options, HALF_SIZE, this.staging) };
  }

  /**
   * The trampoline now jumps to the half at `offset` (`size` bytes of code), or to the nop
   * when `offset` is null: the half that was live becomes retired, and `image_off` follows.
   */
  flip(offset: number | null, size: number): void {
    if (this.live !== null) this.retired.add(this.live);
    this.live = offset;
    this.liveBytes = offset === null ? 0 : size;
    if (offset !== null) this.lastOffset = offset;
  }

  /** Put back a half {@link flip}(null) took down, when the trampoline jumps to it again (it was never rewritten). */
  restore(offset: number, size: number): void {
    this.live = offset;
    this.liveBytes = size;
    this.retired.delete(offset);
  }

  /** Free the page (after a grace period: no reader is in it). */
  free(arena: TextArena): void {
    if (this.page !== null && !arena.disposed) arena.free(this.page);
    this.page = null;
    this.live = null;
    this.retired.clear();
  }
}
