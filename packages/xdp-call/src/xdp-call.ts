import { type ChangeOutcome, Dispatcher, type Trampoline, createTrampoline } from '@bpf-dispatcher/dispatcher';
import { type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { mov, pop, push, ret } from '@bpf-dispatcher/x86';
import { emitXdpCallRun } from './call-site.js';
import { XdpError } from './errors.js';
import { type XdpProg, isXdpProg } from './xdp-prog.js';

/** Options of {@link defineXdpCall}. */
export interface XdpCallOptions {
  /** Reach programs through the retpoline thunk when no entry matches (default true). */
  readonly retpoline?: boolean;
  /** Dispatcher slots (default 16). */
  readonly max?: number;
  /** Grace-period timeout of the dispatcher, ms. */
  readonly syncTimeoutMs?: number;
}

/**
 * An xdp_call (`DEFINE_XDP_CALL(name)`): a trampoline — a 5-byte nop at an 8-aligned
 * entry, then the tail call of `bpf_func` through the retpoline thunk (or `jmp rdx`) — and
 * the dispatcher that owns its nop. Also keeps which programs are attached and how often,
 * those running through the fallback included.
 */
export class XdpCall {
  readonly trampoline: Trampoline;
  readonly dispatcher: Dispatcher;
  /** JS entry points: `stub(ctx, prog_struct)` → verdict, without and with stats. */
  private readonly stubs: { plain: bigint; stats: bigint };
  private readonly users = new Map<XdpProg, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private isDisposed = false;

  constructor(
    readonly arena: TextArena,
    readonly name: string,
    options: XdpCallOptions = {},
  ) {
    if (typeof name !== 'string' || name.length === 0) throw new XdpError('EINVAL', 'defineXdpCall: name must be a non-empty string');
    const retpoline = options.retpoline ?? true;
    if (typeof retpoline !== 'boolean') throw new XdpError('EINVAL', 'defineXdpCall: retpoline must be a boolean');
    this.trampoline = createTrampoline(arena, { fallback: retpoline ? 'retpoline' : 'indirect' });
    this.dispatcher = new Dispatcher(arena, this.trampoline, {
      ...(options.max === undefined ? {} : { max: options.max }),
      ...(options.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: options.syncTimeoutMs }),
    });
    this.stubs = { plain: this.emitStub(false), stats: this.emitStub(true) };
  }

  private emitStub(stats: boolean): bigint {
    return emitText(this.arena, 128, (buf) => {
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
    }).address;
  }

  /** Whether retpolines are used for the fallback. */
  get retpoline(): boolean {
    return this.trampoline.fallback === 'retpoline';
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Attached programs and their users (one per attachment). */
  attached(): { prog: XdpProg; users: number }[] {
    return [...this.users].map(([prog, users]) => ({ prog, users }));
  }

  /** Users of one program (0 when not attached). */
  usersOf(prog: XdpProg): number {
    return this.users.get(prog) ?? 0;
  }

  /** @internal */
  check(): void {
    if (this.isDisposed) throw new XdpError('DISPOSED', `xdp_call ${this.name} used after dispose()`);
  }

  /** @internal serialised update */
  update(from: XdpProg | null, to: XdpProg | null): Promise<ChangeOutcome> {
    const run = this.queue.then(async () => {
      this.check();
      if (from !== null && from !== to && this.usersOf(from) === 0) {
        throw new XdpError('NOT_ATTACHED', `xdp_call_update(${this.name}): ${from.name} is not attached`);
      }
      const outcome = await this.dispatcher.changeProg(from?.bpfFunc ?? null, to?.bpfFunc ?? null);
      if (from !== to) {
        if (from !== null) {
          const left = this.usersOf(from) - 1;
          if (left > 0) this.users.set(from, left);
          else this.users.delete(from);
        }
        if (to !== null) this.users.set(to, this.usersOf(to) + 1);
      }
      return outcome;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** @internal */
  stub(stats: boolean): bigint {
    return stats ? this.stubs.stats : this.stubs.plain;
  }

  /** Detach everything (trampoline back to the nop) and free the image. Idempotent. */
  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    await this.queue;
    await this.dispatcher.dispose();
    this.users.clear();
    this.isDisposed = true;
  }
}

/**
 * `DEFINE_XDP_CALL(name)`: emit a trampoline in `arena` and create its dispatcher.
 * @throws XdpError EINVAL for a bad name or option; DispatcherError for a bad max.
 */
export function defineXdpCall(arena: TextArena, name: string, options: XdpCallOptions = {}): XdpCall {
  return new XdpCall(arena, name, options);
}

function checkProg(call: XdpCall, prog: unknown, what: string): XdpProg | null {
  if (prog === null) return null;
  if (!isXdpProg(prog)) throw new XdpError('EINVAL', `${what} must be an XdpProg or null, got ${prog === undefined ? 'undefined' : typeof prog}`);
  if (prog.arena !== call.arena) throw new XdpError('EINVAL', `${what} (${prog.name}) lives in another arena`);
  return prog;
}

/**
 * `xdp_call_update(name, from, to)` = `bpf_dispatcher_change_prog(tramp, from, to)`:
 * one user of `from` leaves, one of `to` arrives; the dispatcher regenerates when the set
 * of slotted programs changes. Serialised per xdp_call.
 * @throws XdpError EINVAL for non-programs or programs of another arena; NOT_ATTACHED if
 *   `from` is not attached; DISPOSED. DispatcherError from the dispatcher (nothing changes).
 */
export function xdpCallUpdate(call: XdpCall, from: XdpProg | null, to: XdpProg | null): Promise<ChangeOutcome> {
  try {
    if (!(call instanceof XdpCall)) throw new XdpError('EINVAL', 'xdpCallUpdate: not an xdp_call (use defineXdpCall)');
    call.check();
    return call.update(checkProg(call, from, 'from'), checkProg(call, to, 'to'));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * `xdp_call_run(name, prog, ctx)` from JS: run `prog` on the xdp_buff at `ctx` through the
 * trampoline (and the dispatcher, when installed) and return the verdict. With
 * `stats: true` the program's `cnt`/time are updated, as the kernel does with stats on.
 * One JS→native call: for single runs and tests; per-packet work belongs in native loops
 * built with {@link emitXdpCallRun}.
 * @throws XdpError EINVAL / DISPOSED.
 */
export function xdpCallRun(call: XdpCall, prog: XdpProg, ctx: bigint, options: { stats?: boolean } = {}): number {
  if (!(call instanceof XdpCall)) throw new XdpError('EINVAL', 'xdpCallRun: not an xdp_call (use defineXdpCall)');
  call.check();
  const p = checkProg(call, prog, 'prog');
  if (p === null) throw new XdpError('EINVAL', 'xdpCallRun: prog must not be null');
  if (typeof ctx !== 'bigint') throw new XdpError('EINVAL', 'xdpCallRun: ctx must be the address of an xdp_buff (bigint)');
  return Number(call.arena.call(call.stub(options.stats === true), ctx, p.struct) & 0xffff_ffffn);
}
