import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import type { CodeBuffer } from '@bpf-dispatcher/x86';
import { emitText } from '@bpf-dispatcher/text-poke';
import { ticksToNanoseconds } from './clock.js';
import { XdpError } from './errors.js';
import { BpfProgStruct } from './layout.js';
import { assertArena, assertName, describe, messageOf } from './validate.js';

/** Per-program statistics, as `bpf_prog_stats`. */
export interface XdpProgStats {
  /** Runs counted while stats were on. */
  readonly cnt: bigint;
  /** Time spent in the program, nanoseconds (from time-stamp-counter ticks). */
  readonly nsecs: bigint;
  /** The raw ticks behind `nsecs`. */
  readonly ticks: bigint;
}

/**
 * A loaded XDP program (`struct bpf_prog`): its JIT'd function `u32 bpf_func(ctx, insnsi)`
 * in arena text, and a `struct bpf_prog` in arena data that native call sites read
 * (`bpf_func`, `insnsi`, stats). Only objects made by this package are programs: the
 * functions that take one recognise it by identity ({@link isXdpProg}), not by shape.
 */
export interface XdpProg {
  readonly name: string;
  readonly arena: TextArena;
  /** Address of the JIT'd function (what the dispatcher compares rdx with). */
  readonly bpfFunc: bigint;
  /** Address of the program's "instructions" (an opaque data block, as `prog->insnsi`). */
  readonly insnsi: bigint;
  /** Address of the `struct bpf_prog` in data memory. */
  readonly struct: bigint;
  /** A small id, stored in the struct (for tests that record which program ran). */
  readonly id: number;
  /** True once {@link dispose} started (the program can no longer be attached or run). */
  readonly disposed: boolean;
  /** Current stats (a snapshot). @throws XdpError DISPOSED after dispose or once the arena is disposed. */
  stats(): XdpProgStats;
  /** Zero the stats. @throws XdpError DISPOSED like {@link stats}. */
  resetStats(): void;
  /**
   * Free the program (the kernel's `bpf_prog_put()` of the last reference): its text, its
   * `struct bpf_prog`, its instructions block and its own data (counters, config), after a
   * grace period (`arena.synchronize()`) so that no registered reader still runs it.
   * Idempotent; a no-op once the arena is disposed.
   * @throws XdpError EBUSY while it is attached (to an xdp_call or a driver's rings: detach
   *   it first); SYNC_TIMEOUT if a reader does not pass a quiescent state (it then stays
   *   allocated but unusable; call dispose() again).
   */
  dispose(): Promise<void>;
}

interface ProgState {
  readonly arena: TextArena;
  readonly regions: readonly Region[];
  /** Gives adopted code back to its owner once the program is freed (resolves once the owner freed it). */
  readonly release: (() => void | Promise<void>) | undefined;
  /**
   * The program's own reference count (the kernel's `bpf_prog->aux->refcnt` beyond the
   * loader's): one per xdp_call attachment (the xdp_call's book says which) and one per
   * {@link retainXdpProg} (a driver's rings, whose netdev owns its prog pointer).
   */
  holds: number;
  phase: 'live' | 'disposing' | 'disposed';
  pending: Promise<void> | null;
}

/** Programs made by this package, with what they own. */
const programs = new WeakMap<object, ProgState>();

let nextId = 1;

/** True if `value` is a live program made by this package (recognised by identity, not by shape). */
export function isXdpProg(value: unknown): value is XdpProg {
  return typeof value === 'object' && value !== null && programs.get(value)?.phase === 'live';
}

/**
 * Check a program argument: made by this package, not disposed, of `arena`.
 * @throws XdpError EINVAL for anything else (look-alikes, disposed programs, programs of
 *   another arena); DISPOSED once the program's arena is disposed.
 */
export function checkXdpProg(value: unknown, arena: TextArena, what: string): XdpProg {
  const state = typeof value === 'object' && value !== null ? programs.get(value) : undefined;
  if (state === undefined) throw new XdpError('EINVAL', `${what} must be an XdpProg made by this package, got ${value === undefined ? 'undefined' : describe(value)}`);
  const prog = value as XdpProg;
  if (state.arena.disposed) throw new XdpError('DISPOSED', `${what} (${prog.name}): its arena was disposed`);
  if (state.phase !== 'live') throw new XdpError('EINVAL', `${what} (${prog.name}) was disposed`);
  if (state.arena !== arena) throw new XdpError('EINVAL', `${what} (${prog.name}) lives in another arena`);
  return prog;
}

/**
 * Keep a program alive while native code can reach it: a driver that stores
 * `prog.struct` where its poll loops read it (rx rings) retains the program, and
 * `prog.dispose()` refuses with EBUSY until every retention is released (the kernel's
 * `bpf_prog_inc()` / `bpf_prog_put()` pair). xdp_call attachments retain their programs
 * themselves. Returns the release function (idempotent).
 * @throws XdpError EINVAL for a value that is not a live XdpProg; DISPOSED once its arena is.
 */
export function retainXdpProg(prog: XdpProg): () => void {
  const state = typeof prog === 'object' && prog !== null ? programs.get(prog) : undefined;
  if (state === undefined || state.phase !== 'live') throw new XdpError('EINVAL', `retainXdpProg: not a live XdpProg, got ${describe(prog)}`);
  if (state.arena.disposed) throw new XdpError('DISPOSED', 'retainXdpProg: the program\'s arena was disposed');
  state.holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    state.holds--;
  };
}

/**
 * Assemble a program into the arena and create its `struct bpf_prog`; `dispose()` frees
 * both. Validates before allocating and frees what it allocated if a step fails.
 * @param emit writes the function body; the buffer's base is the function's address;
 *   `info.id` is the program's id (also stored in its struct).
 * @throws XdpError EINVAL for a bad arena, name, size or emitter; DISPOSED for a disposed
 *   arena; TextPokeError EINVAL if the code does not fit `size`, or ENOMEM when the arena
 *   is full (nothing stays allocated).
 */
export function createXdpProg(arena: TextArena, name: string, size: number, emit: (buf: CodeBuffer, info: { readonly id: number }) => void): XdpProg {
  return buildXdpProg(arena, name, size, emit, [], () => ({}));
}

/**
 * @internal The builder behind every program: `owned` are data regions the program's
 * extras use (freed with it, and on failure); `extras(base, live)` adds methods, where
 * `live(what)` throws DISPOSED once the program or its arena is gone. `size` is the
 * caller's upper bound (createXdpProg's contract: `emit` runs once); without it the text
 * is sized from the code (`emit` then runs more than once and must emit the same code).
 */
export function buildXdpProg<T extends object>(
  arena: TextArena,
  name: string,
  size: number | undefined,
  emit: (buf: CodeBuffer, info: { readonly id: number }) => void,
  owned: Region[],
  extras: (base: XdpProg, live: (what: string) => void) => T,
): XdpProg & T {
  try {
    assertArena(arena, 'createXdpProg');
    assertName(name, 'createXdpProg');
    if (size !== undefined && (!Number.isSafeInteger(size) || size <= 0 || size > 1 << 20)) throw new XdpError('EINVAL', `createXdpProg: size must be an integer from 1 to ${1 << 20}, got ${describe(size)}`);
    if (typeof emit !== 'function') throw new XdpError('EINVAL', 'createXdpProg: emit must be a function');
  } catch (error) {
    freeRegions(arena, owned);
    throw error;
  }
  const id = nextId++;
  let text: Region;
  try {
    text = size === undefined ? emitText(arena, (buf) => emit(buf, { id }), { align: 16 }) : emitText(arena, size, (buf) => emit(buf, { id }), { align: 16 });
  } catch (error) {
    freeRegions(arena, owned);
    throw error;
  }
  return assembleXdpProg(arena, name, id, text.address, [...owned, text], undefined, extras);
}

/**
 * @internal A program around code that already exists (a JIT'd eBPF program): `release`
 * runs once the program is disposed, after its grace period (it gives the code back to its
 * owner). On failure `release` runs at once.
 */
export function adoptXdpProg<T extends object>(
  arena: TextArena,
  name: string,
  bpfFunc: bigint,
  release: () => void | Promise<void>,
  extras: (base: XdpProg, live: (what: string) => void) => T,
): XdpProg & T {
  try {
    assertArena(arena, 'xdpProgFromObject');
    assertName(name, 'xdpProgFromObject');
  } catch (error) {
    void release();
    throw error;
  }
  return assembleXdpProg(arena, name, nextId++, bpfFunc, [], release, extras);
}

/** The common part: the instructions block and `struct bpf_prog`, the state, the object. */
function assembleXdpProg<T extends object>(
  arena: TextArena,
  name: string,
  id: number,
  bpfFunc: bigint,
  owned: Region[],
  release: (() => void | Promise<void>) | undefined,
  extras: (base: XdpProg, live: (what: string) => void) => T,
): XdpProg & T {
  const regions: Region[] = [...owned];
  try {
    const insns = arena.allocData(64);
    regions.push(insns);
    const struct = arena.allocData(BpfProgStruct.size, BpfProgStruct.align);
    regions.push(struct);
    const fields = BpfProgStruct.view(arena, struct);
    fields.clear();
    fields.set('bpfFunc', bpfFunc);
    fields.set('insnsi', insns.address);
    fields.set('id', id);
    const state: ProgState = { arena, regions, release, holds: 0, phase: 'live', pending: null };
    const live = (what: string) => {
      if (arena.disposed) throw new XdpError('DISPOSED', `${name}.${what}: the arena was disposed`);
      if (state.phase !== 'live') throw new XdpError('DISPOSED', `${name}.${what}: the program was disposed`);
    };
    const base = {
      name,
      arena,
      bpfFunc,
      insnsi: insns.address,
      struct: struct.address,
      id,
      get disposed() {
        return state.phase !== 'live';
      },
      stats: () => {
        live('stats');
        const ticks = fields.get('statsTicks');
        return { cnt: fields.get('statsCnt'), ticks, nsecs: ticksToNanoseconds(arena, ticks) };
      },
      resetStats: () => {
        live('resetStats');
        fields.set('statsCnt', 0n);
        fields.set('statsTicks', 0n);
      },
      dispose: () => disposeProg(state, name),
    };
    const prog = Object.freeze(Object.defineProperties(extras(base as XdpProg, live), Object.getOwnPropertyDescriptors(base))) as XdpProg & T;
    programs.set(prog, state);
    return prog;
  } catch (error) {
    freeRegions(arena, regions);
    void release?.();
    throw error;
  }
}

function disposeProg(state: ProgState, name: string): Promise<void> {
  if (state.phase === 'disposed') return Promise.resolve();
  if (state.pending !== null) return state.pending;
  const { arena } = state;
  if (arena.disposed) {
    state.phase = 'disposed';
    return Promise.resolve();
  }
  if (state.holds > 0) {
    return Promise.reject(new XdpError('EBUSY', `${name}.dispose: the program is attached (${state.holds} attachment${state.holds === 1 ? '' : 's'}); detach it first`));
  }
  state.phase = 'disposing';
  state.pending = (async () => {
    try {
      await arena.synchronize();
    } catch (error) {
      throw new XdpError('SYNC_TIMEOUT', `${name}.dispose: a reader may still run the program (${messageOf(error)}); it stays allocated, call dispose() again`, { cause: error });
    } finally {
      state.pending = null;
    }
    freeRegions(arena, state.regions);
    state.phase = 'disposed';
    await state.release?.();
  })();
  return state.pending;
}

/** Free regions, ignoring what is already gone (failure paths and dispose). */
export function freeRegions(arena: TextArena, regions: readonly Region[]): void {
  if (typeof arena !== 'object' || arena === null || arena.disposed) return;
  for (const region of regions) {
    try {
      arena.free(region);
    } catch {
      // already freed
    }
  }
}

/** @internal hold/release a program for an xdp_call attachment. */
export function holdProg(prog: XdpProg, delta: 1 | -1): void {
  const state = programs.get(prog);
  if (state !== undefined) state.holds = Math.max(0, state.holds + delta);
}
