import { type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, type Gp64, inc, indirectJump, mov, nop5, pop, push, qword, retpolineThunk } from '@bpf-dispatcher/x86';
import { DispatcherError } from './errors.js';
import type { Fallback } from './emit-dispatcher.js';

/** A trampoline whose entry nop a dispatcher pokes. */
export interface Trampoline {
  /** Entry address; also the 5-byte poke site (8-aligned). */
  readonly entry: bigint;
  /** How the trampoline reaches `bpf_func` (rdx) when no dispatcher is installed. */
  readonly fallback: Fallback;
  /**
   * Where the trampoline and the dispatcher image send calls that no entry matches: the
   * retpoline thunk for rdx, or the counting stub; null when they use a plain `jmp rdx`.
   */
  readonly thunk: bigint | null;
  /** The text regions it occupies. */
  readonly regions: readonly Region[];
  /**
   * Calls that went through the fallback path so far (not matched by a dispatcher entry);
   * null unless created with `countFallbacks`.
   */
  fallbacks(): bigint | null;
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

/** `jmp thunk` (the retpoline for rdx, or a stub before it), or `jmp rdx` without one. */
function jumpToRdx(buf: CodeBuffer, thunk: bigint | null): void {
  indirectJump(buf, 'rdx', thunk === null ? { retpoline: false } : { retpoline: true, thunk });
}

/**
 * Emit a retpoline thunk for `reg` into the arena (the kernel's
 * `__x86_indirect_thunk_<reg>`) and return its address and region.
 * @throws TextPokeError when the arena cannot allocate.
 */
export function createRetpolineThunk(arena: TextArena, reg: Gp64 = 'rdx'): { address: bigint; region: Region } {
  const region = emitText(arena, 32, (buf) => void retpolineThunk(buf, reg), { align: 32 });
  return { address: region.address, region };
}

/**
 * Emit a dispatcher trampoline, the kernel's `bpf_dispatcher_<name>_func(ctx, insnsi,
 * bpf_func)`: a 5-byte nop at an 8-aligned entry (the `__fentry__` site a dispatcher pokes
 * into `jmp image`), then the tail call of `bpf_func` (in rdx) — through the retpoline
 * thunk, or a plain `jmp rdx` when retpolines are off (with `countFallbacks`, through a
 * stub that counts each call first).
 * @throws DispatcherError EINVAL for an unknown fallback; TextPokeError when the arena cannot allocate.
 */
export function createTrampoline(arena: TextArena, options: TrampolineOptions = {}): Trampoline {
  const fallback = options.fallback ?? 'retpoline';
  if (fallback !== 'retpoline' && fallback !== 'indirect') throw new DispatcherError('EINVAL', `createTrampoline: unknown fallback ${String(fallback)}`);
  const regions: Region[] = [];
  let thunk: bigint | null = null;
  if (fallback === 'retpoline') {
    if (options.thunk !== undefined) thunk = options.thunk;
    else {
      const created = createRetpolineThunk(arena);
      thunk = created.address;
      regions.push(created.region);
    }
  }
  let fallbacks: () => bigint | null = () => null;
  if (options.countFallbacks === true) {
    // stub: count, then continue to the thunk (or jmp rdx)
    const counter = arena.allocData(64);
    const next = thunk;
    const stub = emitText(arena, 32, (buf) => {
      push(buf, 'rax');
      mov(buf, 'rax', counter.address);
      inc(buf, qword('rax'));
      pop(buf, 'rax');
      jumpToRdx(buf, next);
    });
    regions.push(stub);
    thunk = stub.address;
    fallbacks = () => new DataView(arena.read(counter.address, 8).buffer).getBigUint64(0, true);
  }
  const target = thunk;
  const region = emitText(arena, 16, (buf) => {
    nop5(buf);
    jumpToRdx(buf, target);
  });
  regions.push(region);
  return Object.freeze({ entry: region.address, fallback, thunk, regions: Object.freeze(regions), fallbacks });
}
