import { type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { FALLBACK_INDIRECT, GP64, type Gp64, NOP5, emitFallbackJump, fallbackThunk, inc, mov, nop5, pop, push, qword, retpolineThunk } from '@bpf-dispatcher/x86';
import { DispatcherError } from './errors.js';
import type { Fallback, FallbackJump } from './emit-dispatcher.js';
import { addressOf, assertArena, describe, optionsObject } from './validate.js';

/** A trampoline whose entry nop a dispatcher pokes. */
export interface Trampoline {
  /** Entry address; also the 5-byte poke site (8-aligned). */
  readonly entry: bigint;
  /**
   * The fallback policy it was created with: `retpoline` (through the thunk for rdx) or
   * `indirect` (`jmp rdx`). A dispatcher on this trampoline reports the same.
   */
  readonly fallback: Fallback;
  /**
   * The one value saying how the trampoline and every dispatcher image on it reach `bpf_func`
   * (rdx) when no entry matches (the kernel's `emit_fallback_jump` / `emit_indirect_jump`):
   * a jump to a thunk at an address (the retpoline thunk for rdx, or the counting stub of
   * `countFallbacks`), or a plain `jmp rdx`. Created here once; the {@link Dispatcher}
   * passes it unchanged to the generator.
   */
  readonly fallbackJump: FallbackJump;
  /**
   * The thunk address of {@link fallbackJump}, null for `jmp rdx`.
   * @deprecated read `fallbackJump` (this is derived from it).
   */
  readonly thunk: bigint | null;
  /** The text regions it occupies. */
  readonly regions: readonly Region[];
  /** The arena it lives in. */
  readonly arena: TextArena;
  /** True once {@link dispose} has freed it. */
  readonly disposed: boolean;
  /**
   * Calls that went through the fallback path so far (not matched by a dispatcher entry);
   * null unless created with `countFallbacks`.
   * @throws DispatcherError DISPOSED after dispose() or once the arena is disposed.
   */
  fallbacks(): bigint | null;
  /**
   * Free everything {@link createTrampoline} allocated (its text, the thunk it emitted, the
   * counting stub and its counter) after a grace period (`arena.synchronize()`), so that no
   * registered reader still executes it. Idempotent; a no-op once the arena is disposed.
   * Like unloading a module whose trampoline no call site uses any more: callers must have
   * stopped calling it.
   * @param options `syncTimeoutMs`: how long to wait for the grace period (default 5000).
   * @throws DispatcherError EBUSY while a dispatcher image is installed (the entry is not
   *   the nop: dispose the Dispatcher first); SYNC_TIMEOUT if a reader does not pass a
   *   quiescent state (nothing is freed; retry later).
   */
  dispose(options?: { readonly syncTimeoutMs?: number }): Promise<void>;
}

/** Trampolines made by {@link createTrampoline} that are not disposed. */
const trampolines = new WeakSet<object>();

/**
 * True if `value` is a live trampoline made by {@link createTrampoline} (recognised by
 * identity, not by shape).
 */
export function isTrampoline(value: unknown): value is Trampoline {
  return typeof value === 'object' && value !== null && trampolines.has(value);
}

/** Options of {@link createTrampoline}. */
export interface TrampolineOptions {
  /** `retpoline` (default): `jmp __x86_indirect_thunk_rdx`; `indirect`: `jmp rdx`. */
  readonly fallback?: Fallback;
  /** Use this thunk instead of emitting one (e.g. shared by several trampolines). */
  readonly thunk?: bigint;
  /**
   * Count the calls that take the fallback path (a `lock`-free `inc` in a stub before the
   * thunk or `jmp rdx`; for introspection and tests — it adds a few instructions to the
   * slow path only). Read the count with `fallbacks()`.
   */
  readonly countFallbacks?: boolean;
}



/**
 * Emit a retpoline thunk for `reg` into the arena (the kernel's
 * `__x86_indirect_thunk_<reg>`) and return its address and region.
 * @throws TextPokeError when the arena cannot allocate.
 */
export function createRetpolineThunk(arena: TextArena, reg: Gp64 = 'rdx'): { address: bigint; region: Region } {
  assertArena(arena, 'createRetpolineThunk');
  if (!(GP64 as readonly unknown[]).includes(reg)) throw new DispatcherError('EINVAL', `createRetpolineThunk: ${describe(reg)} is not a 64-bit general-purpose register`);
  const region = emitText(arena, (buf) => void retpolineThunk(buf, reg), { align: 32 });
  return { address: region.address, region };
}

/**
 * Emit a dispatcher trampoline, the kernel's `bpf_dispatcher_<name>_func(ctx, insnsi,
 * bpf_func)`: a 5-byte nop at an 8-aligned entry (the `__fentry__` site a dispatcher pokes
 * into `jmp image`), then the tail call of `bpf_func` (in rdx) — through the retpoline
 * thunk, or a plain `jmp rdx` when retpolines are off (with `countFallbacks`, through a
 * stub that counts each call first). Everything is validated before anything is
 * allocated, and a failure part-way frees what was allocated; {@link Trampoline.dispose}
 * frees the rest.
 * @throws DispatcherError EINVAL for a bad arena, options, fallback or thunk address;
 *   DISPOSED for a disposed arena; ENOMEM when the arena cannot allocate.
 */
export function createTrampoline(arena: TextArena, options: TrampolineOptions = {}): Trampoline {
  assertArena(arena, 'createTrampoline');
  const opts = optionsObject(options, 'createTrampoline');
  const fallback = opts.fallback ?? 'retpoline';
  if (fallback !== 'retpoline' && fallback !== 'indirect') throw new DispatcherError('EINVAL', `createTrampoline: unknown fallback ${describe(fallback)}`);
  const given = opts.thunk === undefined ? undefined : addressOf(opts.thunk, 'createTrampoline: thunk');
  if (opts.countFallbacks !== undefined && typeof opts.countFallbacks !== 'boolean') {
    throw new DispatcherError('EINVAL', `createTrampoline: countFallbacks must be a boolean, got ${describe(opts.countFallbacks)}`);
  }
  const regions: Region[] = [];
  const owned: Region[] = [];
  try {
    // the fallback, decided once: the thunk (given or emitted here), else jmp rdx ...
    let jump: FallbackJump = FALLBACK_INDIRECT;
    if (fallback === 'retpoline') {
      if (given !== undefined) jump = fallbackThunk(given);
      else {
        const created = createRetpolineThunk(arena);
        jump = fallbackThunk(created.address);
        regions.push(created.region);
        owned.push(created.region);
      }
    }
    let counter: Region | null = null;
    if (opts.countFallbacks === true) {
      // ... or a stub that counts, then continues to it
      const data = arena.allocData(64);
      counter = data;
      owned.push(data);
      const next = jump;
      const stub = emitText(arena, (buf) => {
        push(buf, 'rax');
        mov(buf, 'rax', data.address);
        inc(buf, qword('rax'));
        pop(buf, 'rax');
        emitFallbackJump(buf, next);
      });
      regions.push(stub);
      owned.push(stub);
      jump = fallbackThunk(stub.address);
    }
    const target = jump;
    const region = emitText(arena, (buf) => {
      nop5(buf);
      emitFallbackJump(buf, target);
    });
    regions.push(region);
    owned.push(region);
    return makeTrampoline(arena, region.address, fallback, target, Object.freeze(regions), owned, counter);
  } catch (error) {
    freeAll(arena, owned);
    throw wrapAllocError(error, 'createTrampoline');
  }
}

function makeTrampoline(arena: TextArena, entry: bigint, fallback: Fallback, fallbackJump: FallbackJump, regions: readonly Region[], owned: Region[], counter: Region | null): Trampoline {
  let state: 'live' | 'disposing' | 'disposed' = 'live';
  let pending: Promise<void> | null = null;
  const live = (what: string) => {
    if (state === 'disposed' || arena.disposed) throw new DispatcherError('DISPOSED', `trampoline.${what}: the trampoline${state === 'disposed' ? '' : "'s arena"} was disposed`);
  };
  const trampoline: Trampoline = Object.freeze({
    entry,
    fallback,
    fallbackJump,
    thunk: fallbackJump.kind === 'thunk' ? fallbackJump.thunk : null,
    regions,
    arena,
    get disposed() {
      return state === 'disposed';
    },
    fallbacks: () => {
      live('fallbacks');
      if (counter === null) return null;
      return arena.memory(counter).getU64(0);
    },
    dispose: (options?: { readonly syncTimeoutMs?: number }) => {
      if (state === 'disposed') return Promise.resolve();
      const timeoutMs = options?.syncTimeoutMs ?? 5000;
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) return Promise.reject(new DispatcherError('EINVAL', `trampoline.dispose: syncTimeoutMs must be a number >= 0, got ${describe(timeoutMs)}`));
      if (pending !== null) return pending;
      if (arena.disposed) {
        state = 'disposed';
        trampolines.delete(trampoline);
        return Promise.resolve();
      }
      const site = arena.read(entry, NOP5.length);
      if (!site.every((b, i) => b === NOP5[i])) {
        return Promise.reject(new DispatcherError('EBUSY', 'trampoline.dispose: a dispatcher image is installed (the entry is not the nop); dispose the Dispatcher first'));
      }
      state = 'disposing';
      trampolines.delete(trampoline);
      pending = (async () => {
        try {
          await arena.synchronize({ timeoutMs });
        } catch (error) {
          state = 'live';
          trampolines.add(trampoline);
          throw new DispatcherError('SYNC_TIMEOUT', `trampoline.dispose: a reader may still execute the trampoline (${messageOf(error)}); nothing freed`, { cause: error });
        } finally {
          pending = null;
        }
        if (!arena.disposed) freeAll(arena, owned);
        state = 'disposed';
      })();
      return pending;
    },
  });
  trampolines.add(trampoline);
  return trampoline;
}

/** Free regions, ignoring what is already gone (used on failure paths and dispose). */
export function freeAll(arena: TextArena, regions: readonly Region[]): void {
  if (arena.disposed) return;
  for (const region of regions) {
    try {
      arena.free(region);
    } catch {
      // already freed: nothing to do
    }
  }
}

/** Allocation failures become DispatcherError ENOMEM; typed errors pass through. */
function wrapAllocError(error: unknown, what: string): unknown {
  if (error instanceof DispatcherError) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === 'ENOMEM') return new DispatcherError('ENOMEM', `${what}: the arena is full (${messageOf(error)})`, { cause: error });
  if (code === 'DISPOSED') return new DispatcherError('DISPOSED', `${what}: the arena was disposed`, { cause: error });
  return error;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
