import { CodeBuffer } from '@bpf-dispatcher/x86';
import { TextPokeError } from './errors.js';
import type { AllocOptions, Region, TextArena } from './types.js';

/**
 * Allocate `size` bytes of text, emit code into them at their address, write the code and
 * publish it (the usual way JIT'd code enters an arena: `bpf_jit_alloc_exec` + emit + copy,
 * then the code may run). Returns the region; its address is the code's entry. The code is
 * live from then on: it changes only through `textPoke` until the region is freed.
 * @throws TextPokeError EINVAL if the code does not fit `size` (the region is freed again)
 *   or `arena`/`emit` are not an arena and a function; the errors of
 *   {@link TextArena.alloc} and of the emitter.
 */
export function emitText(arena: TextArena, size: number, emit: (buf: CodeBuffer, region: Region) => void, options: AllocOptions | number = {}): Region {
  if (typeof arena !== 'object' || arena === null || typeof arena.alloc !== 'function') throw new TextPokeError('EINVAL', 'emitText: arena must be a TextArena');
  if (typeof emit !== 'function') throw new TextPokeError('EINVAL', 'emitText: emit must be a function');
  const region = arena.alloc(size, options);
  try {
    const buf = new CodeBuffer(region.address, size);
    emit(buf, region);
    const code = buf.finish();
    if (code.length > size) throw new TextPokeError('EINVAL', `emitText: ${code.length} bytes of code do not fit the ${size} allocated`);
    arena.write(region.address, code);
    if (code.length > 0) arena.publish(region.address, code.length);
    return region;
  } catch (error) {
    arena.free(region);
    throw error;
  }
}
