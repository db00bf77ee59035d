import { createRequire } from 'node:module';
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { type Address, BpfDispatcherError, isAddress, toAddress } from '@bpf-dispatcher/x86';
import { type Fallback, HALF_SIZE, maxProgsForHalf } from './emit-dispatcher.js';
import {
  type DispatcherLayout,
  type ProfilePlan,
  type ProfileReason,
  type ProfileWeights,
  expectedInstructions,
  generateProfileImage,
  profileWeights,
} from './emit-profile.js';
import { DispatcherError, type DispatcherErrorCode } from './errors.js';
import { DispatcherImage } from './image.js';
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
  /**
   * How the image is laid out: `kernel` (default) — the kernel's binary search over the
   * addresses, byte for byte — or `profile`: ordered by the call frequencies given with
   * {@link Dispatcher.setWeights}, so that the programs carrying most calls are reached
   * first (the kernel's image while no weights tell the programs apart). `profile` goes
   * beyond the kernel.
   */
  readonly layout?: DispatcherLayout;
}

/** What one {@link Dispatcher.setWeights} did. */
export interface WeightsOutcome {
  /** A new image was generated and installed (false: the image the weights call for is the live one, byte for byte, or nothing is live). */
  readonly regenerated: boolean;
  /** The live image's layout afterwards, or null when the trampoline holds the nop. */
  readonly layout: DispatcherLayout | null;
  /** Why it has that layout (see ProfileReason), or null when nothing is live. */
  readonly reason: ProfileReason | null;
  /**
   * Instructions per call in the image, averaged by the new weights: with the image that
   * was live before, with the one live after, and with the kernel's layout. Null when
   * nothing is live.
   */
  readonly expectedInstructions: { readonly before: number; readonly after: number; readonly kernel: number } | null;
  /** The live half afterwards (0 or 2048), or null. */
  readonly liveOffset: number | null;
  /** The update had to wait for a grace period before rewriting a half. */
  readonly waitedForGrace: boolean;
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
  return toAddress(value, `changeProg: ${what} must be a program address or null;`, (message) => new DispatcherError('EINVAL', message));
}

/**
 * The steps of an update or a dispose that can fail in the arena or the generator, each
 * with its typed error: the code, and what the message says (`message` is the cause's,
 * `detail` what the caller adds).
 */
const STEPS = {
  allocate: { code: 'ENOMEM', says: (m: string) => `changeProg: cannot allocate the dispatcher image (${m}); nothing changed` },
  generate: {
    code: 'EINVAL',
    says: (m: string, _d: string, op: string) => `${op}: cannot generate the image (${m}); the live image is unchanged`,
  },
  grace: {
    code: 'SYNC_TIMEOUT',
    says: (m: string, half: string, op: string) =>
      `${op}: a reader may still execute the image half at +${half} (${m}); the live image is unchanged`,
  },
  write: {
    code: 'POKE_FAILED',
    says: (m: string, _d: string, op: string) => `${op}: cannot write the image (${m}); the live image is unchanged`,
  },
  poke: {
    code: 'POKE_FAILED',
    says: (m: string, cause: string, op: string) => `${op}: poking the trampoline failed (${cause}: ${m}); the live image is unchanged`,
  },
  reset: { code: 'POKE_FAILED', says: (m: string) => `dispose: cannot reset the trampoline (${m}); nothing changed` },
  'dispose-grace': {
    code: 'SYNC_TIMEOUT',
    says: (m: string, outcome: string) => `dispose: a reader may still execute the image (${m}); ${outcome}`,
  },
} as const satisfies Record<string, { code: DispatcherErrorCode; says: (message: string, detail: string, op: string) => string }>;

/** The operations that update the image (named in their errors). */
type UpdateOp = 'changeProg' | 'setWeights';

/**
 * The one place where arena and generator failures become a typed {@link DispatcherError}.
 * Errors that are already DispatcherErrors (the generator's NOT_SIMM32 / ERANGE /
 * IMAGE_TOO_LARGE) pass through unchanged; an allocation refused as EINVAL (a bad
 * `imageAddress`) stays EINVAL.
 */
function failure(step: keyof typeof STEPS, error: unknown, detail = '', op: UpdateOp = 'changeProg'): DispatcherError {
  if (error instanceof DispatcherError) return error;
  const { code, says } = STEPS[step];
  const typed = step === 'allocate' && BpfDispatcherError.hasCode(error, 'EINVAL') ? 'EINVAL' : code;
  const cause = step === 'poke' ? (BpfDispatcherError.isInstance(error) ? error.code : 'unknown') : detail;
  return new DispatcherError(typed, says(messageOf(error), cause, op), { cause: error });
}

/** iced-x86 is loaded on the first {@link Dispatcher.disassemble}, never by importing this package. */
let listingOf: ((bytes: Uint8Array, address: bigint) => string) | undefined;
function listing(bytes: Uint8Array, address: bigint): string {
  if (listingOf === undefined) {
    try {
      // require(esm): synchronous, unflagged from Node 20.19 and 22.12
      const disasm = createRequire(import.meta.url)('@bpf-dispatcher/x86/disasm') as typeof import('@bpf-dispatcher/x86/disasm');
      listingOf = disasm.listing;
    } catch (error) {
      throw new DispatcherError('EINVAL', `disassemble: cannot load @bpf-dispatcher/x86/disasm (${messageOf(error)}); on this Node, import { listing } from it and pass liveImage()`, {
        cause: error,
      });
    }
  }
  return listingOf(bytes, address);
}

/**
 * The BPF dispatcher for one trampoline (the kernel's `struct bpf_dispatcher` and
 * `bpf_dispatcher_change_prog()`): refcounted slots, a lazily allocated 4096-byte image
 * used as two 2048-byte halves, and updates that generate the inactive half, poke the
 * trampoline's entry from the old image to the new one and flip the live offset — after a
 * grace period whenever the half being rewritten was live since the last one.
 *
 * Ownership, as in the kernel: the dispatcher's slots own the users of each slotted
 * program address (`bpf_dispatcher_prog.users`; a program that found no free slot runs
 * through the fallback and is counted by nobody here); its {@link DispatcherImage} owns
 * the halves, the staging buffer and the retired halves; its private lock (the kernel's
 * `d->mutex`) serialises every change and the dispose. The attachments of XdpProg objects
 * are counted by the xdp_call above, the program a netdev runs by the netdev.
 *
 * Where the kernel is silent on failure, this class keeps the kernel's safe outcome (the
 * live image, its offset and the slots all stay as they were; traffic flows as before)
 * and throws a typed {@link DispatcherError}.
 */
export class Dispatcher {
  /** Number of slots. */
  readonly max: number;
  /**
   * How the image's leaves fall back when no entry matches: the trampoline's fallback,
   * `retpoline` (`jmp` to the thunk for rdx) or `indirect` (`jmp rdx`). With
   * `countFallbacks` the leaves jump to the counting stub, which then does the same.
   */
  readonly fallback: Fallback;
  private readonly slots: ProgSlots;
  private readonly image = new DispatcherImage();
  /** The kernel's `d->mutex`: serialises changeProg and dispose of this dispatcher only. */
  private readonly mutex = new Mutex();
  private readonly syncTimeoutMs: number;
  private counters = { updates: 0, failures: 0, graceWaits: 0 };
  private isDisposed = false;
  private readonly imageAddress: Address | undefined;
  /**
   * How the image is laid out (see {@link DispatcherOptions.layout}). `profile` goes beyond
   * the kernel: {@link setWeights} orders the image by call frequencies.
   */
  readonly layout: DispatcherLayout;
  /** Profile layout: the weights of slotted programs (set by setWeights; others count 0). */
  #weights = new Map<bigint, number>();
  /** Profile layout: the plan of the live image (null while nothing is live). */
  #livePlan: ProfilePlan | null = null;

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
    const opts = optionsObject(options, 'Dispatcher');
    if (opts.imageAddress !== undefined && !isAddress(opts.imageAddress)) {
      throw new DispatcherError('EINVAL', `Dispatcher: imageAddress must be an address, got ${describe(opts.imageAddress)}`);
    }
    this.imageAddress = opts.imageAddress;
    // the image falls back exactly as the trampoline does: the one value it was created with
    this.fallback = trampoline.fallback;
    const limit = maxProgsForHalf(HALF_SIZE, trampoline.fallbackJump);
    const max = opts.max ?? DEFAULT_MAX_PROGS;
    if (!Number.isSafeInteger(max) || max < 1 || max > limit) {
      throw new DispatcherError('EINVAL', `Dispatcher: max must be an integer from 1 to ${limit} (what fits in a ${HALF_SIZE}-byte half), got ${String(max)}`);
    }
    this.max = max;
    this.slots = new ProgSlots(max);
    const timeout = opts.syncTimeoutMs ?? 5000;
    if (!(typeof timeout === 'number' && timeout >= 0)) throw new DispatcherError('EINVAL', `Dispatcher: syncTimeoutMs must be >= 0, got ${String(timeout)}`);
    this.syncTimeoutMs = timeout;
    const layout = opts.layout ?? 'kernel';
    if (layout !== 'kernel' && layout !== 'profile')
      throw new DispatcherError('EINVAL', `Dispatcher: layout must be 'kernel' or 'profile', got ${describe(layout)}`);
    this.layout = layout;
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
    return this.image.offset;
  }

  /** The image page, once allocated. */
  get imageRegion(): Region | null {
    return this.image.region;
  }

  /** Occupied slots with their users (the slots own these counts). */
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
    const address = this.image.liveAddress;
    if (address === null) return null;
    return { address, bytes: this.arena.read(address, this.image.liveSize) };
  }

  /**
   * objdump-style listing of the live image ('' when none); loads iced-x86 on first use.
   * @throws DispatcherError DISPOSED; EINVAL if the decoder cannot be loaded.
   */
  disassemble(): string {
    const live = this.liveImage();
    return live === null ? '' : listing(live.bytes, live.address);
  }

  /**
   * `bpf_dispatcher_prepare()`: wait for a grace period if the inactive half was live since
   * the last one, then generate the image of the slotted programs and write it there.
   * Returns the half's offset and size (null when no program is slotted: the trampoline
   * goes back to the nop) and whether it waited.
   */
  private async prepare(
    weights: ReadonlyMap<bigint, number>,
    op: UpdateOp,
  ): Promise<{ offset: number | null; size: number; waited: boolean; plan: ProfilePlan | null }> {
    const progs = this.slots.progs();
    if (progs.length === 0) return { offset: null, size: 0, waited: false, plan: null };
    const offset = this.image.nextOffset();
    let waited = false;
    if (this.image.isRetired(offset)) {
      try {
        await this.arena.synchronize({ timeoutMs: this.syncTimeoutMs });
      } catch (error) {
        throw failure('grace', error, String(offset), op);
      }
      this.image.graceElapsed();
      this.counters.graceWaits++;
      waited = true;
    }
    let staged: { address: bigint; bytes: Uint8Array; plan?: ProfilePlan };
    try {
      const options = { jump: this.trampoline.fallbackJump };
      staged =
        this.layout === 'profile' ? this.image.stageProfile(offset, progs, weights, options) : this.image.stage(offset, progs, options);
    } catch (error) {
      throw failure('generate', error, '', op);
    }
    try {
      this.arena.write(staged.address, staged.bytes);
    } catch (error) {
      throw failure('write', error, '', op);
    }
    return { offset, size: staged.bytes.length, waited, plan: staged.plan ?? null };
  }

  /**
   * `bpf_dispatcher_update()`: prepare the inactive half, poke the trampoline's entry from
   * the live half (or the nop) to it (or the nop), flip. Returns whether it waited for a
   * grace period. Throws with nothing live changed.
   */
  private async update(weights: ReadonlyMap<bigint, number>, op: UpdateOp): Promise<boolean> {
    const { offset, size, waited, plan } = await this.prepare(weights, op);
    const region = this.image.region as Region;
    const next = offset === null ? null : region.address + BigInt(offset);
    try {
      this.arena.textPoke(this.trampoline.entry, 'jump', this.image.liveAddress, next);
    } catch (error) {
      throw failure('poke', error, '', op);
    }
    this.image.flip(offset, size);
    this.#livePlan = plan;
    this.counters.updates++;
    return waited;
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
    if (f === t) return Promise.resolve({ ...NO_CHANGE, liveOffset: this.image.liveOffset });
    return this.mutex.run(() => this.change(f, t));
  }

  /** `bpf_dispatcher_change_prog()` under the lock: find/add/remove, then update. */
  private async change(from: bigint | null, to: bigint | null): Promise<ChangeOutcome> {
    this.check();
    try {
      this.image.allocate(this.arena, this.imageAddress);
    } catch (error) {
      this.counters.failures++;
      throw failure('allocate', error);
    }
    const saved = this.slots.save();
    const removed = this.slots.remove(from);
    const added = this.slots.add(to);
    if (!removed && !added.changed) {
      return { regenerated: false, placement: added.placement, removed, liveOffset: this.image.liveOffset, waitedForGrace: false };
    }
    try {
      const waitedForGrace = await this.update(this.#weights, 'changeProg');
      // a program that left its slot leaves its weight; a new one starts at 0
      if (this.#weights.size > 0) this.#weights = this.slottedWeights(this.#weights);
      return { regenerated: true, placement: added.placement, removed, liveOffset: this.image.liveOffset, waitedForGrace };
    } catch (error) {
      this.slots.restore(saved);
      this.counters.failures++;
      throw error;
    }
  }

  /**
   * Set the call frequencies the `profile` layout orders the image by, and regenerate the
   * image for them — through the same path as {@link changeProg}: serialised with it, the
   * inactive half prepared (after a grace period if it was live since the last one), the
   * trampoline poked, the halves flipped. No update is made when the image the weights
   * call for is byte-identical to the live one.
   *
   * `weights` are per program address (a Map or `[address, weight]` pairs): finite
   * numbers >= 0, only their ratios matter (e.g. calls per program since the last
   * measurement). Programs that are not slotted are ignored; slotted programs without a
   * weight count 0 (as do programs slotted later, until the next setWeights). Weights that
   * do not tell the programs apart (all equal, or all 0) give the kernel's image.
   *
   * Goes beyond the kernel (its `bpf_dispatcher_change_prog()` has no notion of traffic).
   * @throws DispatcherError — the live image and the weights stay as they were: EINVAL for
   *   bad weights or a dispatcher whose layout is `kernel`; SYNC_TIMEOUT if a reader still
   *   executes the half to be rewritten; POKE_FAILED; DISPOSED.
   */
  setWeights(weights: ProfileWeights): Promise<WeightsOutcome> {
    let given: Map<bigint, number>;
    try {
      this.check();
      if (this.layout !== 'profile')
        throw new DispatcherError('EINVAL', "setWeights: this dispatcher's layout is 'kernel' (create it with { layout: 'profile' })");
      given = profileWeights(weights, 'setWeights');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.mutex.run(() => this.reweigh(given));
  }

  /** setWeights under the lock: the image for the new weights, installed unless it is the live one. */
  private async reweigh(given: ReadonlyMap<bigint, number>): Promise<WeightsOutcome> {
    this.check();
    const weights = this.slottedWeights(given);
    const liveAddress = this.image.liveAddress;
    const live = this.#livePlan;
    if (liveAddress === null || live === null) {
      this.#weights = weights;
      return {
        regenerated: false,
        layout: null,
        reason: null,
        expectedInstructions: null,
        liveOffset: this.image.liveOffset,
        waitedForGrace: false,
      };
    }
    let wanted: { bytes: Uint8Array; plan: ProfilePlan };
    try {
      // generated for the live half's address, to compare byte for byte
      wanted = generateProfileImage(liveAddress, this.slots.progs(), weights, { jump: this.trampoline.fallbackJump });
    } catch (error) {
      this.counters.failures++;
      throw failure('generate', error, '', 'setWeights');
    }
    const before = expectedInstructions(live, weights);
    const plan = wanted.plan;
    const costs = { before, after: plan.expectedInstructions, kernel: plan.kernelInstructions };
    if (sameBytes(wanted.bytes, this.arena.read(liveAddress, this.image.liveSize))) {
      this.#weights = weights;
      this.#livePlan = plan;
      return {
        regenerated: false,
        layout: plan.layout,
        reason: plan.reason,
        expectedInstructions: { ...costs, after: before },
        liveOffset: this.image.liveOffset,
        waitedForGrace: false,
      };
    }
    try {
      const waitedForGrace = await this.update(weights, 'setWeights');
      this.#weights = weights;
      const now = this.#livePlan as ProfilePlan | null;
      return {
        regenerated: true,
        layout: now?.layout ?? null,
        reason: now?.reason ?? null,
        expectedInstructions: now === null ? null : { ...costs, after: now.expectedInstructions },
        liveOffset: this.image.liveOffset,
        waitedForGrace,
      };
    } catch (error) {
      this.counters.failures++;
      throw error;
    }
  }

  /** The weights of the slotted programs among `weights` (the others are ignored). */
  private slottedWeights(weights: ReadonlyMap<bigint, number>): Map<bigint, number> {
    const out = new Map<bigint, number>();
    for (const prog of this.slots.progs()) {
      const w = weights.get(prog);
      if (w !== undefined) out.set(prog, w);
    }
    return out;
  }

  /**
   * The weight of each slotted program, by address (0 for those without one): what the
   * `profile` layout orders the image by. Empty for the `kernel` layout. Goes beyond the kernel.
   * @throws DispatcherError DISPOSED.
   */
  weights(): Map<bigint, number> {
    this.check();
    if (this.layout !== 'profile') return new Map();
    return new Map(this.slots.progs().map((p) => [p, this.#weights.get(p) ?? 0]));
  }

  /**
   * The plan of the live image in the `profile` layout (its tree, layout, reason and
   * expected instructions per call under the weights it was made for); null while nothing
   * is live and always for the `kernel` layout. Goes beyond the kernel.
   * @throws DispatcherError DISPOSED.
   */
  livePlan(): ProfilePlan | null {
    this.check();
    return this.image.liveAddress === null ? null : this.#livePlan;
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
      if (!this.arena.disposed && this.image.region !== null) {
        const live = this.image.liveOffset;
        const liveAddress = this.image.liveAddress;
        const liveSize = this.image.liveSize;
        if (live !== null) {
          try {
            this.arena.textPoke(this.trampoline.entry, 'jump', liveAddress, null);
          } catch (error) {
            throw failure('reset', error);
          }
          // from here on readers may still run in the half: it is retired until a grace period
          this.image.flip(null, 0);
        }
        try {
          await this.arena.synchronize({ timeoutMs: this.syncTimeoutMs });
        } catch (error) {
          throw failure('dispose-grace', error, this.restoreAfterFailedDispose(live, liveAddress, liveSize));
        }
        this.image.graceElapsed();
      }
      this.image.free(this.arena);
      this.#livePlan = null;
      this.isDisposed = true;
    });
  }

  /** Re-install the image a failed dispose took down; says what happened. */
  private restoreAfterFailedDispose(live: number | null, liveAddress: bigint | null, liveSize: number): string {
    if (live === null || this.arena.disposed) return 'the image stays allocated';
    try {
      this.arena.textPoke(this.trampoline.entry, 'jump', null, liveAddress);
    } catch (error) {
      // the half stays retired: the next update waits for a grace period before rewriting it
      return `the image stays allocated; re-installing it failed (${messageOf(error)}), so the trampoline holds the nop and the next update waits for a grace period`;
    }
    this.image.restore(live, liveSize);
    return 'the live image was re-installed and nothing changed';
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
