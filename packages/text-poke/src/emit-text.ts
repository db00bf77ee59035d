import { CodeBuffer } from '@bpf-dispatcher/x86';
import { TextPokeError } from './errors.js';
import type { AllocOptions, Region, TextArena } from './types.js';

/**
 * Allocate `size` bytes of text, emit code into them at their address, and write the code
 * (the usual way JIT'd code enters an arena: `bpf_jit_alloc_exec` + emit + copy).
 * Returns the region; its address is the code's entry.
 * @throws TextPokeError EINVAL if the code does not fit `size` (the region is freed again);
 *   the errors of {@link TextArena.alloc} and of the emitter.
 */
export function emitText(arena: TextArena, size: number, emit: (buf: CodeBuffer, region: Region) => void, options: AllocOptions | number = {}): Region {
  const region = arena.alloc(size, options);
  try {
    const buf = new CodeBuffer(region.address, size);
    emit(buf, region);
    const code = buf.finish();
    if (code.length > size) throw new TextPokeError('EINVAL', `emitText: ${code.length} bytes of code do not fit the ${size} allocated`);
    arena.write(region.address, code);
    return region;
  } catch (error) {
    arena.free(region);
    throw error;
  }
}
