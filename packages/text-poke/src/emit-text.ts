import { CodeBuffer } from '@bpf-dispatcher/x86';
import { toAddress } from './base-arena.js';
import { TextPokeError } from './errors.js';
import type { AllocOptions, Region, TextArena } from './types.js';

/** How often {@link emitText} re-allocates when the code grew at its real address. */
const MAX_ATTEMPTS = 4;

/** Write `code` into `region` and publish it. */
function install(arena: TextArena, region: Region, code: Uint8Array): Region {
  arena.write(region.address, code);
  if (code.length > 0) arena.publish(region.address, code.length);
  return region;
}

/** Run `emit` into a fresh buffer at `base`; the finished code. */
function assemble(base: bigint, emit: (buf: CodeBuffer) => void): Uint8Array {
  const buf = new CodeBuffer(base);
  emit(buf);
  return buf.finish();
}

/**
 * Emit code, then allocate text of exactly its size, emit it again at the region's address,
 * write and publish it (the usual way JIT'd code enters an arena: `bpf_jit_alloc_exec` +
 * emit + copy; sized from the code as AsmJit and iced do — emit, measure, allocate,
 * relocate). Returns the region; its address is the code's entry. The code is live from
 * then on: it changes only through `textPoke` until the region is freed.
 *
 * `emit` runs at least twice — first at a provisional address (`options.at`, else the
 * start of the arena's text), then at the region's — so it must emit the same code for
 * the same address and keep no state between runs other than what the last run leaves.
 * Should the code grow at the real address (an address-dependent encoding or alignment),
 * the region is freed and allocated again at the larger size (a few times at most).
 *
 * The legacy form `emitText(arena, size, emit, options)` allocates `size` bytes, emits
 * once, and fails if the code does not fit; prefer the form without a size.
 * @throws TextPokeError EINVAL if `arena`/`emit` are not an arena and a function, the code
 *   is empty, or it keeps growing (or, in the legacy form, does not fit `size`); the region
 *   is freed again on any failure; the errors of {@link TextArena.alloc} and of the emitter.
 */
export function emitText(arena: TextArena, emit: (buf: CodeBuffer) => void, options?: AllocOptions | number): Region;
/** @deprecated pass no size: `emitText(arena, emit, options)` sizes the region from the code. */
export function emitText(arena: TextArena, size: number, emit: (buf: CodeBuffer, region: Region) => void, options?: AllocOptions | number): Region;
export function emitText(
  arena: TextArena,
  sizeOrEmit: number | ((buf: CodeBuffer) => void),
  emitOrOptions?: ((buf: CodeBuffer, region: Region) => void) | AllocOptions | number,
  legacyOptions: AllocOptions | number = {},
): Region {
  if (typeof arena !== 'object' || arena === null || typeof arena.alloc !== 'function') throw new TextPokeError('EINVAL', 'emitText: arena must be a TextArena');
  if (typeof sizeOrEmit === 'function') return emitSized(arena, sizeOrEmit, (emitOrOptions ?? {}) as AllocOptions | number);
  const size = sizeOrEmit;
  const emit = emitOrOptions;
  if (typeof emit !== 'function') throw new TextPokeError('EINVAL', 'emitText: emit must be a function');
  const region = arena.alloc(size, legacyOptions);
  try {
    const buf = new CodeBuffer(region.address, size);
    emit(buf, region);
    const code = buf.finish();
    if (code.length > size) throw new TextPokeError('EINVAL', `emitText: ${code.length} bytes of code do not fit the ${size} allocated`);
    return install(arena, region, code);
  } catch (error) {
    arena.free(region);
    throw error;
  }
}

/** {@link emitText} without a size: emit, measure, allocate exactly, re-emit at the real address. */
function emitSized(arena: TextArena, emit: (buf: CodeBuffer) => void, options: AllocOptions | number): Region {
  const at = typeof options === 'object' && options !== null ? options.at : undefined;
  const provisional = at === undefined ? arena.textRange[0] : toAddress(at, 'emitText');
  let size = assemble(provisional, emit).length;
  if (size === 0) throw new TextPokeError('EINVAL', 'emitText: the emitter produced no code');
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const region = arena.alloc(size, options);
    let code: Uint8Array;
    try {
      code = assemble(region.address, emit);
      if (code.length <= size) return install(arena, region, code);
    } catch (error) {
      arena.free(region);
      throw error;
    }
    arena.free(region);
    size = code.length;
  }
  throw new TextPokeError('EINVAL', `emitText: the code kept growing at its real address (last ${size} bytes after ${MAX_ATTEMPTS} allocations)`);
}
