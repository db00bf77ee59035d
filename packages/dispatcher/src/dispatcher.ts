import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { type Address, BpfDispatcherError } from '@bpf-dispatcher/x86';
import { listing } from '@bpf-dispatcher/x86/disasm';
import { type Fallback, HALF_SIZE, IMAGE_SIZE, generateImage, maxProgsForHalf } from './emit-dispatcher.js';
import { DispatcherError } from './errors.js';
import { Mutex } from './mutex.js';
import { ProgSlots, type Slot } from './slots.js';
import { type Trampoline, isTrampoline } from './trampoline.js';
import { assertArena, describe, optionsObject } from './validate.js';

/** Default number of slots: v1's maximum of 16. */
export const DEFAULT_MAX_PROGS = 16;

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  /** Slots, 1 up to what fits in a 2048-byte half (52 with retpolines); default 16. */
  readonly max?: number;
  /** Place the image page here (e.g. the reference addresses on a simulated arena). */
  readonly imageAddress?: Address;
  /** Give up waiting for a grace period after this many ms (default 5000). */
  readonly syncTimeoutMs?: number;
}

/** What one {@link Dispatcher.changeProg} did. */
export interface ChangeOutcome {
  /** Slots changed, so a new image was generated and installed (or the trampoline reset to the nop). */
  readonly regenerated: boolean;
  /** What happened to `to`: a new slot, a shared slot (users + 1), no free slot (it runs through the fallback), or none. */
  readonly placement: 'new-slot' | 'shared' | 'fallback' | 'none';
  /** `from`'s slot was freed (its last user left). */
  readonly removed: boolean;
  /** The live half after the change (0 or 2048), or null when the trampoline holds the nop. */
  readonly liveOffset: number | null;
  /** The update had to wait for a grace period before rewriting a half. */
  readonly waitedForGrace: boolean;
}

/** Counters of a dispatcher's life. */
export interface DispatcherStats {
  /** Successful image installs (including resets to the nop). */
  readonly updates: number;
  /** changeProg calls that failed and changed nothing. */
  readonly failures: number;
  /** Grace periods waited for before rewriting a half. */
  readonly graceWaits: number;
}

const NO_CHANGE = Object.freeze({ regenerated: false, placement: 'none', removed: false, waitedForGrace: false } as const);

function progAddress(value: Address | null, what: string): bigint | null {
  if (value === null) return null;
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  throw new DispatcherError('EINVAL', `changeProg: ${what} must be a program address (bigint or safe integer) or null, got ${describe(value)}`);
}

/**
 * The BPF dispatcher for one trampoline (the kernel's `struct bpf_dispatcher` and
 * `bpf_dispatcher_change_prog()`): refcounted slots, a lazily allocated 4096-byte image
 * used as two 2048-byte halves, and updates that generate the inactive half, poke the
 * trampoline's entry from the old image to the new one and flip the live offset — after a
 * grace period whenever the half being rewritten was live since the last one.
 *
 * Where the kernel is silent on failure, this class keeps the kernel's safe outcome (the
 * live image, its offset and the slots all stay as they were; traffic flows as before)
 * and throws a typed {@link DispatcherError}.
 */
export class Dispatcher {
  /** Number of slots. */
  readonly max: number;
  /** How the image's leaves fall back: `jmp thunk` (`retpoline`) or `jmp rdx` (`indirect`). */
  readonly fallback: Fallback;
  private readonly slots: ProgSlots;
  private readonly mutex = new Mutex();
  private readonly syncTimeoutMs: number;
  private image: Region | null = null;
  private imageOff = 0;
  private liveHalf: number | null = null;
  private liveSize = 0;
  /** Halves that were live since the last grace period. */
  private readonly retired = new Set<number>();
  private counters = { updates: 0, failures: 0, graceWaits: 0 };
  private isDisposed = false;

  private readonly options: DispatcherOptions;

  /**
   * Allocates nothing (the image page comes with the first update).
   * @throws DispatcherError EINVAL for a bad arena, a trampoline that createTrampoline() did
   *   not make for this arena, or a bad max, timeout or image address; DISPOSED for a
   *   disposed arena or trampoline.
   */
  constructor(
    readonly arena: TextArena,
    readonly trampoline: Trampoline,
    options: DispatcherOptions = {},
  ) {
    assertArena(arena, 'Dispatcher');
    if (!isTrampoline(trampoline)) {
      const disposed = typeof trampoline === 'object' && trampoline !== null && (trampoline as Trampoline).disposed === true;
      if (disposed) throw new DispatcherError('DISPOSED', 'Dispatcher: the trampoline was disposed');
      throw new DispatcherError('EINVAL', 'Dispatcher: trampoline must come from createTrampoline()');
    }
    if (trampoline.arena !== arena) throw new DispatcherError('EINVAL', 'Dispatcher: the trampoline lives in another arena');
    this.options = optionsObject(options, 'Dispatcher');
    options = this.options;
    if (options.imageAddress !== undefined && !(typeof options.imageAddress === 'bigint' || Number.isSafeInteger(options.imageAddress))) {
      throw new DispatcherError('EINVAL', `Dispatcher: imageAddress must be an address, got ${describe(options.imageAddress)}`);
    }
    // the image falls back to wherever the trampoline does: its thunk (or counting stub), else jmp rdx
    this.fallback = trampoline.thunk === null ? 'indirect' : 'retpoline';
    const limit = maxProgsForHalf(HALF_SIZE, this.fallback);
    const max = options.max ?? DEFAULT_MAX_PROGS;
    if (!Number.isSafeInteger(max) || max < 1 || max > limit) {
      throw new DispatcherError('EINVAL', `Dispatcher: max must be an integer from 1 to ${limit} (what fits in a ${HALF_SIZE}-byte half), got ${String(max)}`);
    }
    this.max = max;
    this.slots = new ProgSlots(max);
    const timeout = options.syncTimeoutMs ?? 5000;
    if (!(typeof timeout === 'number' && timeout >= 0)) throw new DispatcherError('EINVAL', `Dispatcher: syncTimeoutMs must be >= 0, got ${String(timeout)}`);
    this.syncTimeoutMs = timeout;
  }

  private check(): void {
    if (this.isDisposed) throw new DispatcherError('DISPOSED', 'Dispatcher used after dispose()');
    if (this.arena.disposed) throw new DispatcherError('DISPOSED', 'Dispatcher used after its arena was disposed');
    if (this.trampoline.disposed) throw new DispatcherError('DISPOSED', 'Dispatcher used after its trampoline was disposed');
  }

  /** Occupied slots (the kernel's `num_progs`). */
  get numProgs(): number {
    return this.slots.numProgs;
  }

  /** The kernel's `image_off`: the half the last installed image went to (0 or 2048). */
  get imageOffset(): number {
    return this.imageOff;
  }

  /** The image page, once allocated. */
  get imageRegion(): Region | null {
    return this.image;
  }

  /** Occupied slots with their users. */
  entries(): Slot[] {
    return this.slots.entries();
  }

  /** Counters. */
  get stats(): DispatcherStats {
    return { ...this.counters };
  }

  /** The grace-period timeout of this dispatcher, ms. */
  get syncTimeout(): number {
    return this.syncTimeoutMs;
  }

  /** Calls to changeProg queued or running. */
  get pendingChanges(): number {
    return this.mutex.pending;
  }

  /** The live image (address and bytes), or null while the trampoline holds the nop. */
  liveImage(): { address: bigint; bytes: Uint8Array } | null {
    this.check();
    if (this.image === null || this.liveHalf === null) return null;
    const address = this.image.address + BigInt(this.liveHalf);
    return { address, bytes: this.arena.read(address, this.liveSize) };
  }

  /** objdump-style listing of the live image ('' when none). */
  disassemble(): string {
    const live = this.liveImage();
    return live === null ? '' : listing(live.bytes, live.address);
  }

  /**
   * The kernel's `bpf_dispatcher_change_prog(d, from, to)`: drop one user of `from`, add one
   * of `to`; if that changed the set of slotted programs, regenerate and install the image.
   * Calls are serialised.
   *
   * @throws DispatcherError — nothing changes (slots, live image, offset):
   *   EINVAL for arguments that are not addresses; ENOMEM if the image page cannot be
   *   allocated; NOT_SIMM32 / ERANGE / IMAGE_TOO_LARGE if the image cannot be generated;
   *   SYNC_TIMEOUT if a reader still executes the half to be rewritten; POKE_FAILED if the
   *   trampoline does not hold what it should (EBUSY) or the poke fails; DISPOSED.
   */
  changeProg(from: Address | null, to: Address | null): Promise<ChangeOutcome> {
    let f: bigint | null;
    let t: bigint | null;
    try {
      this.check();
      f = progAddress(from, 'from');
      t = progAddress(to, 'to');
    } catch (error) {
      return Promise.reject(error);
    }
    if (f === t) return Promise.resolve({ ...NO_CHANGE, liveOffset: this.liveHalf });
    return this.mutex.run(() => this.change(f, t));
  }

  private async change(from: bigint | null, to: bigint | null): Promise<ChangeOutcome> {
    this.check();
    if (this.image === null) {
      try {
        const at = this.options.imageAddress;
        this.image = this.arena.alloc(IMAGE_SIZE, at === undefined ? { align: IMAGE_SIZE } : { align: IMAGE_SIZE, at });
      } catch (error) {
        this.counters.failures++;
        const code = BpfDispatcherError.hasCode(error, 'EINVAL') ? 'EINVAL' : 'ENOMEM';
        throw new DispatcherError(code, `changeProg: cannot allocate the dispatcher image (${messageOf(error)}); nothing changed`, { cause: error });
      }
    }
    const saved = this.slots.save();
    const removed = this.slots.remove(from);
    const added = this.slots.add(to);
    if (!removed && !added.changed) {
      return { regenerated: false, placement: added.placement, removed, liveOffset: this.liveHalf, waitedForGrace: false };
    }
    try {
      const waitedForGrace = await this.update();
      return { regenerated: true, placement: added.placement, removed, liveOffset: this.liveHalf, waitedForGrace };
    } catch (error) {
      this.slots.restore(saved);
      this.counters.failures++;
      throw error;
    }
  }

  /** `bpf_dispatcher_update()`; returns whether it waited for a grace period. Throws with nothing live changed. */
  private async update(): Promise<boolean> {
    const image = this.image as Region;
    const old = this.liveHalf === null ? null : image.address + BigInt(this.liveHalf);
    const noff = this.liveHalf === null ? 0 : this.liveHalf ^ HALF_SIZE;
    const progs = this.slots.progs();
    const next = progs.length > 0 ? image.address + BigInt(noff) : null;
    let waited = false;
    let size = 0;
    if (next !== null) {
      if (this.retired.has(noff)) {
        try {
          await this.arena.synchronize({ timeoutMs: this.syncTimeoutMs });
        } catch (error) {
          throw new DispatcherError(
            'SYNC_TIMEOUT',
            `changeProg: a reader may still execute the image half at +${noff} (${messageOf(error)}); the live image is unchanged`,
            { cause: error },
          );
        }
        this.retired.clear();
        this.counters.graceWaits++;
        waited = true;
      }
      const thunk = this.trampoline.thunk;
      const bytes = generateImage(next, progs, thunk === null ? { fallback: 'indirect' } : { fallback: 'retpoline', thunk });
      size = bytes.length;
      try {
        this.arena.write(next, bytes);
      } catch (error) {
        throw new DispatcherError('POKE_FAILED', `changeProg: cannot write the image (${messageOf(error)}); the live image is unchanged`, { cause: error });
      }
    }
    try {
      this.arena.textPoke(this.trampoline.entry, 'jump', old, next);
    } catch (error) {
      const code = BpfDispatcherError.isInstance(error) ? error.code : 'unknown';
      throw new DispatcherError('POKE_FAILED', `changeProg: poking the trampoline failed (${code}: ${messageOf(error)}); the live image is unchanged`, { cause: error });
    }
    if (this.liveHalf !== null) this.retired.add(this.liveHalf);
    this.liveHalf = next === null ? null : noff;
    this.liveSize = size;
    if (next !== null) this.imageOff = noff;
    this.counters.updates++;
    return waited;
  }

  /**
   * Detach: reset the trampoline to the nop, wait for a grace period, free the image.
   * Idempotent; once the arena is disposed there is nothing left to free.
   *
   * A failed dispose leaves the dispatcher as it was: after a SYNC_TIMEOUT the trampoline
   * jumps to the live image again (the image was never touched), the slots are kept, and
   * the half that was live stays on the retired list if it cannot be re-installed, so the
   * next update still waits for a grace period before rewriting it.
   * @throws DispatcherError POKE_FAILED / SYNC_TIMEOUT (nothing is freed; retry later).
   */
  dispose(): Promise<void> {
    if (this.isDisposed) return Promise.resolve();
    return this.mutex.run(async () => {
      if (this.isDisposed) return;
      if (!this.arena.disposed && this.image !== null) {
        const image = this.image;
        const live = this.liveHalf;
        const liveAddress = live === null ? null : image.address + BigInt(live);
        if (live !== null) {
          try {
            this.arena.textPoke(this.trampoline.entry, 'jump', liveAddress, null);
          } catch (error) {
            throw new DispatcherError('POKE_FAILED', `dispose: cannot reset the trampoline (${messageOf(error)}); nothing changed`, { cause: error });
          }
          // from here on readers may still run in the half: it is retired until a grace period
          this.retired.add(live);
          this.liveHalf = null;
        }
        try {
          await this.arena.synchronize({ timeoutMs: this.syncTimeoutMs });
        } catch (error) {
          throw new DispatcherError('SYNC_TIMEOUT', `dispose: a reader may still execute the image (${messageOf(error)}); ${this.restoreAfterFailedDispose(live, liveAddress)}`, {
            cause: error,
          });
        }
        this.retired.clear();
        this.arena.free(image);
      }
      this.image = null;
      this.isDisposed = true;
    });
  }

  /** Re-install the image a failed dispose took down; says what happened. */
  private restoreAfterFailedDispose(live: number | null, liveAddress: bigint | null): string {
    if (live === null || this.arena.disposed) return 'the image stays allocated';
    try {
      this.arena.textPoke(this.trampoline.entry, 'jump', null, liveAddress);
    } catch (error) {
      // the half stays retired: the next update waits for a grace period before rewriting it
      return `the image stays allocated; re-installing it failed (${messageOf(error)}), so the trampoline holds the nop and the next update waits for a grace period`;
    }
    this.liveHalf = live;
    this.retired.delete(live);
    return 'the live image was re-installed and nothing changed';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
