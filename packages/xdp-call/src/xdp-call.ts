import {
  type ChangeOutcome,
  Dispatcher,
  type DispatcherLayout,
  HALF_SIZE,
  Mutex,
  type Trampoline,
  createTrampoline,
  maxProgsForHalf,
} from '@bpf-dispatcher/dispatcher';
import { type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { mov, pop, push, ret } from '@bpf-dispatcher/x86';
import { emitXdpCallRun } from './call-site.js';
import { XdpError } from './errors.js';
import { checkXdpBuff } from './xdp-buff.js';
import { type XdpProg, checkXdpProg, freeRegions, holdProg } from './xdp-prog.js';
import { assertArena, assertName, describe, optionsObject } from './validate.js';

/** Options of {@link defineXdpCall}. */
export interface XdpCallOptions {
  /** Reach programs through the retpoline thunk when no entry matches (default true). */
  readonly retpoline?: boolean;
  /** Dispatcher slots (default 16). */
  readonly max?: number;
  /** Grace-period timeout of the dispatcher, ms. */
  readonly syncTimeoutMs?: number;
  /**
   * The dispatcher's image layout (default `kernel`, the kernel's image byte for byte);
   * `profile` orders it by the weights given to `call.dispatcher.setWeights()` (goes beyond
   * the kernel; see the dispatcher's `DispatcherOptions.layout`).
   */
  readonly layout?: DispatcherLayout;
}

/**
 * What the owner of a claimed xdp_call uses to change it (see {@link claimXdpCall}): the
 * driver's private access to its own `DEFINE_XDP_CALL`. Attachments made through the claim
 * can be undone only through it.
 */
export interface XdpCallClaim {
  /** The claimed xdp_call. */
  readonly call: XdpCall;
  /** Who claimed it (for error messages). */
  readonly owner: string;
  /** `xdp_call_update(call, from, to)` on behalf of the owner; like {@link xdpCallUpdate}. */
  update(from: XdpProg | null, to: XdpProg | null): Promise<ChangeOutcome>;
  /** Dispose the xdp_call on behalf of the owner; like {@link XdpCall.dispose}. */
  dispose(): Promise<void>;
  /**
   * Free the xdp_call at once, without grace periods — only for an owner whose constructor
   * failed before any code could call the trampoline (nothing attached, no image).
   * @throws XdpError EBUSY if a program is attached or an image was installed.
   */
  discard(): void;
}

/** xdp_calls made by {@link defineXdpCall}. */
const calls = new WeakSet<object>();

/** True if `value` is an xdp_call made by {@link defineXdpCall} (recognised by identity, not by shape). */
export function isXdpCall(value: unknown): value is XdpCall {
  return typeof value === 'object' && value !== null && calls.has(value);
}

/** One attached program's entry in an xdp_call's book of attachments. */
interface Attachment {
  /** Attachments of the program (each one an xdp_call_update that brought it in). */
  users: number;
  /** Of {@link users}, those the claim's owner made (see {@link claimXdpCall}). */
  byOwner: number;
}

/**
 * An xdp_call (`DEFINE_XDP_CALL(name)`): a trampoline — a 5-byte nop at an 8-aligned
 * entry, then the tail call of `bpf_func` through the retpoline thunk (or `jmp rdx`) — and
 * the dispatcher that owns its nop.
 *
 * Who owns which count, as in the kernel: the dispatcher's slots own the users of each
 * *slotted program address* (`bpf_dispatcher_prog.users`; they regenerate the image); the
 * xdp_call owns its *attachments*: which XdpProg objects were attached through it, how
 * often and by whom, those that found no slot and run through the fallback included (the
 * slots do not record them). Each attachment holds a reference on its program (the
 * kernel's `bpf_prog_inc` by whoever stores the program pointer, as a netdev does): the
 * program's `dispose()` refuses with EBUSY while one is held. One private lock (the
 * dispatcher's {@link Mutex}) serialises the xdp_call's updates and dispose; the
 * dispatcher serialises its own changes with its own.
 */
export class XdpCall {
  readonly trampoline: Trampoline;
  readonly dispatcher: Dispatcher;
  /** JS entry points: `stub(ctx, prog_struct)` → verdict, without and with stats. */
  private readonly stubs: { plain: Region; stats: Region };
  /** The xdp_call's book of attachments (see the class comment for who owns which count). */
  private readonly attachments = new Map<XdpProg, Attachment>();
  /** Serialises update() and dispose of this xdp_call. */
  private readonly lock = new Mutex();
  private isDisposed = false;
  private claimedBy: symbol | null = null;
  private ownerName = '';

  /**
   * Use {@link defineXdpCall}. Validates everything before allocating; if a step fails,
   * what was allocated is freed.
   * @throws XdpError EINVAL for a bad arena, name or option; DISPOSED for a disposed arena;
   *   DispatcherError ENOMEM when the arena is full.
   */
  constructor(
    readonly arena: TextArena,
    readonly name: string,
    options: XdpCallOptions = {},
  ) {
    assertArena(arena, 'defineXdpCall');
    assertName(name, 'defineXdpCall');
    const opts = optionsObject(options, 'defineXdpCall');
    const retpoline = opts.retpoline ?? true;
    if (typeof retpoline !== 'boolean') throw new XdpError('EINVAL', `defineXdpCall: retpoline must be a boolean, got ${describe(retpoline)}`);
    const limit = maxProgsForHalf(HALF_SIZE, retpoline ? 'retpoline' : 'indirect');
    if (opts.max !== undefined && (!Number.isSafeInteger(opts.max) || opts.max < 1 || opts.max > limit)) {
      throw new XdpError('EINVAL', `defineXdpCall: max must be an integer from 1 to ${limit}, got ${describe(opts.max)}`);
    }
    if (opts.syncTimeoutMs !== undefined && !(typeof opts.syncTimeoutMs === 'number' && opts.syncTimeoutMs >= 0)) {
      throw new XdpError('EINVAL', `defineXdpCall: syncTimeoutMs must be a number >= 0, got ${describe(opts.syncTimeoutMs)}`);
    }
    if (opts.layout !== undefined && opts.layout !== 'kernel' && opts.layout !== 'profile') {
      throw new XdpError('EINVAL', `defineXdpCall: layout must be 'kernel' or 'profile', got ${describe(opts.layout)}`);
    }
    const trampoline = createTrampoline(arena, { fallback: retpoline ? 'retpoline' : 'indirect' });
    const stubs: Region[] = [];
    try {
      this.trampoline = trampoline;
      this.dispatcher = new Dispatcher(arena, trampoline, {
        ...(opts.max === undefined ? {} : { max: opts.max }),
        ...(opts.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: opts.syncTimeoutMs }),
        ...(opts.layout === undefined ? {} : { layout: opts.layout }),
      });
      stubs.push(this.emitStub(false));
      stubs.push(this.emitStub(true));
      this.stubs = { plain: stubs[0] as Region, stats: stubs[1] as Region };
    } catch (error) {
      // nothing was published: the text can go at once
      freeRegions(arena, [...stubs, ...trampoline.regions]);
      throw error;
    }
    calls.add(this);
  }

  private emitStub(stats: boolean): Region {
    return emitText(this.arena, (buf) => {
      push(buf, 'rbx');
      push(buf, 'r12');
      push(buf, 'r13');
      mov(buf, 'rbx', 'rdi');
      mov(buf, 'r12', 'rsi');
      emitXdpCallRun(buf, this.trampoline.entry, { ctx: 'rbx', prog: 'r12', ...(stats ? { statsScratch: 'r13' as const } : {}) });
      pop(buf, 'r13');
      pop(buf, 'r12');
      pop(buf, 'rbx');
      ret(buf);
    });
  }

  /** Whether retpolines are used for the fallback. */
  get retpoline(): boolean {
    return this.trampoline.fallback === 'retpoline';
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Who claimed this xdp_call with {@link claimXdpCall}, or null. */
  get owner(): string | null {
    return this.claimedBy === null ? null : this.ownerName;
  }

  /**
   * Attached programs and their users (one per attachment, those running through the
   * fallback included; the dispatcher's `entries()` lists the slotted addresses only).
   */
  attached(): { prog: XdpProg; users: number }[] {
    return [...this.attachments].map(([prog, a]) => ({ prog, users: a.users }));
  }

  /** Users of one program: its attachments to this xdp_call (0 when not attached). */
  usersOf(prog: XdpProg): number {
    return this.attachments.get(prog)?.users ?? 0;
  }

  /** @internal @throws XdpError DISPOSED after dispose() or once the arena is disposed. */
  check(): void {
    if (this.isDisposed) throw new XdpError('DISPOSED', `xdp_call ${this.name} used after dispose()`);
    if (this.arena.disposed) throw new XdpError('DISPOSED', `xdp_call ${this.name} used after its arena was disposed`);
  }

  /** @internal @throws XdpError EPERM unless `key` is the claim's key (or the call is unclaimed). */
  checkOwner(key: symbol | null, what: string): void {
    if (this.claimedBy !== null && this.claimedBy !== key) {
      throw new XdpError('EPERM', `${what}(${this.name}): this xdp_call belongs to ${this.ownerName}; change it through its owner (e.g. i40eXdpSetup for a device's netdevs)`);
    }
  }

  /** Count one attachment of `prog` in or out (`asOwner`: made by the claim's owner); it holds a reference on the program. */
  private book(prog: XdpProg, delta: 1 | -1, asOwner: boolean): void {
    const entry = this.attachments.get(prog) ?? { users: 0, byOwner: 0 };
    entry.users += delta;
    if (asOwner) entry.byOwner += delta;
    if (entry.users > 0) this.attachments.set(prog, entry);
    else this.attachments.delete(prog);
    holdProg(prog, delta);
  }

  /** @internal */
  claim(owner: string): symbol {
    if (this.claimedBy !== null) throw new XdpError('EBUSY', `claimXdpCall(${this.name}): already claimed by ${this.ownerName}`);
    this.claimedBy = Symbol(owner);
    this.ownerName = owner;
    return this.claimedBy;
  }

  /**
   * @internal serialised update; `key` is the claim's key when the owner calls. On a claimed
   * xdp_call others may attach programs and detach what they attached, never what the
   * owner attached (EPERM).
   */
  update(from: XdpProg | null, to: XdpProg | null, key: symbol | null = null): Promise<ChangeOutcome> {
    return this.lock.run(async () => {
      this.check();
      const asOwner = this.claimedBy !== null && key === this.claimedBy;
      if (from !== null && from !== to) {
        if (this.usersOf(from) === 0) throw new XdpError('NOT_ATTACHED', `xdp_call_update(${this.name}): ${from.name} is not attached`);
        if (this.claimedBy !== null && !asOwner && this.usersOf(from) - (this.attachments.get(from)?.byOwner ?? 0) <= 0) {
          throw new XdpError('EPERM', `xdp_call_update(${this.name}): ${from.name} was attached by ${this.ownerName}; detach it through its owner (e.g. i40eXdpSetup for a device's netdevs)`);
        }
      }
      const outcome = await this.dispatcher.changeProg(from?.bpfFunc ?? null, to?.bpfFunc ?? null);
      if (from !== to) {
        if (from !== null) this.book(from, -1, asOwner);
        if (to !== null) this.book(to, 1, asOwner);
      }
      return outcome;
    });
  }

  /** @internal */
  stub(stats: boolean): bigint {
    return stats ? this.stubs.stats.address : this.stubs.plain.address;
  }

  /**
   * Detach everything (trampoline back to the nop), then free all the text the xdp_call
   * allocated — the dispatcher image, the trampoline and its thunk, the JS entry stubs —
   * after grace periods. The attached programs are released (they can be disposed).
   * Idempotent; once the arena is disposed there is nothing left to free.
   * @throws XdpError EPERM for an xdp_call claimed by a driver (dispose the driver's
   *   object instead); DispatcherError SYNC_TIMEOUT / POKE_FAILED (nothing changes; retry).
   */
  dispose(): Promise<void> {
    try {
      this.checkOwner(null, 'dispose');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.disposeAs();
  }

  /** @internal see {@link XdpCallClaim.discard} */
  discard(): void {
    if (this.isDisposed) return;
    if (this.attachments.size > 0 || this.dispatcher.imageRegion !== null) throw new XdpError('EBUSY', `discard(${this.name}): programs were attached; use dispose()`);
    freeRegions(this.arena, [this.stubs.plain, this.stubs.stats, ...this.trampoline.regions]);
    this.isDisposed = true;
  }

  /** @internal */
  disposeAs(): Promise<void> {
    if (this.isDisposed) return Promise.resolve();
    return this.lock.run(async () => {
      if (this.isDisposed) return;
      await this.dispatcher.dispose();
      if (!this.arena.disposed) {
        await this.trampoline.dispose({ syncTimeoutMs: this.dispatcher.syncTimeout });
        freeRegions(this.arena, [this.stubs.plain, this.stubs.stats]);
      }
      for (const [prog, a] of this.attachments) for (let i = 0; i < a.users; i++) holdProg(prog, -1);
      this.attachments.clear();
      this.isDisposed = true;
    });
  }
}

/**
 * `DEFINE_XDP_CALL(name)`: emit a trampoline in `arena` and create its dispatcher.
 * @throws XdpError EINVAL for a bad arena, name or option; DISPOSED for a disposed arena;
 *   DispatcherError ENOMEM when the arena is full (nothing stays allocated).
 */
export function defineXdpCall(arena: TextArena, name: string, options: XdpCallOptions = {}): XdpCall {
  return new XdpCall(arena, name, options);
}

/**
 * Make `owner` the owner of `call` — as a driver's `DEFINE_XDP_CALL` is static and only the
 * driver changes what its netdevs run. Afterwards the attachments the owner makes through
 * the returned claim can only be undone through it: {@link xdpCallUpdate} may still attach
 * programs (e.g. extra entries for a benchmark) and detach what it attached, but detaching
 * or replacing a program the owner attached fails with EPERM, and so does `call.dispose()`.
 * Running programs ({@link xdpCallRun}) is unaffected.
 * @throws XdpError EINVAL for a value that is not an xdp_call or a bad owner name; EBUSY if
 *   it is already claimed; DISPOSED.
 */
export function claimXdpCall(call: XdpCall, owner: string): XdpCallClaim {
  if (!isXdpCall(call)) throw new XdpError('EINVAL', 'claimXdpCall: not an xdp_call (use defineXdpCall)');
  call.check();
  assertName(owner, 'claimXdpCall');
  const key = call.claim(owner);
  return Object.freeze({
    call,
    owner,
    update: (from: XdpProg | null, to: XdpProg | null) => updateAs(call, key, from, to),
    dispose: () => call.disposeAs(),
    discard: () => call.discard(),
  });
}

function checkProgArg(call: XdpCall, prog: unknown, what: string): XdpProg | null {
  if (prog === null) return null;
  return checkXdpProg(prog, call.arena, what);
}

function updateAs(call: XdpCall, key: symbol | null, from: XdpProg | null, to: XdpProg | null): Promise<ChangeOutcome> {
  try {
    if (!isXdpCall(call)) throw new XdpError('EINVAL', 'xdpCallUpdate: not an xdp_call (use defineXdpCall)');
    call.check();
    return call.update(checkProgArg(call, from, 'from'), checkProgArg(call, to, 'to'), key);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `xdp_call_update(name, from, to)` = `bpf_dispatcher_change_prog(tramp, from, to)`:
 * one user of `from` leaves, one of `to` arrives; the dispatcher regenerates when the set
 * of slotted programs changes. Serialised per xdp_call. Attached programs are retained.
 * @throws XdpError EINVAL for values that are not xdp_calls / programs made by this
 *   package, disposed programs or programs of another arena; EPERM to detach or replace a
 *   program the owner of a claimed xdp_call attached ({@link claimXdpCall}: use the
 *   driver's setup, e.g. i40eXdpSetup);
 *   NOT_ATTACHED if `from` is not attached; DISPOSED. DispatcherError from the dispatcher
 *   (nothing changes).
 */
export function xdpCallUpdate(call: XdpCall, from: XdpProg | null, to: XdpProg | null): Promise<ChangeOutcome> {
  return updateAs(call, null, from, to);
}

/**
 * `xdp_call_run(name, prog, ctx)` from JS: run `prog` on the xdp_buff at `ctx` through the
 * trampoline (and the dispatcher, when installed) and return the verdict. With
 * `stats: true` the program's `cnt`/time are updated, as the kernel does with stats on.
 * One JS→native call: for single runs and tests; per-packet work belongs in native loops
 * built with {@link emitXdpCallRun}.
 *
 * `ctx` must be an xdp_buff made by `createXdpBuff`, or one in this arena's data memory
 * whose pointers are consistent (see `checkXdpBuff`): anything else is refused before any
 * code runs.
 * @throws XdpError EINVAL for a value that is not an xdp_call, a program made by this
 *   package (of this arena, not disposed) or an xdp_buff; DISPOSED after dispose or once
 *   the arena is disposed.
 */
export function xdpCallRun(call: XdpCall, prog: XdpProg, ctx: bigint, options: { stats?: boolean } = {}): number {
  if (!isXdpCall(call)) throw new XdpError('EINVAL', 'xdpCallRun: not an xdp_call (use defineXdpCall)');
  call.check();
  const p = checkProgArg(call, prog, 'prog');
  if (p === null) throw new XdpError('EINVAL', 'xdpCallRun: prog must not be null');
  const opts = optionsObject(options, 'xdpCallRun');
  if (opts.stats !== undefined && typeof opts.stats !== 'boolean') throw new XdpError('EINVAL', `xdpCallRun: stats must be a boolean, got ${describe(opts.stats)}`);
  const buff = checkXdpBuff(call.arena, ctx, 'xdpCallRun');
  return Number(call.arena.call(call.stub(opts.stats === true), buff, p.struct) & 0xffff_ffffn);
}
