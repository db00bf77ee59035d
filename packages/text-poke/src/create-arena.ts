import { TextPokeError } from './errors.js';
import { nativeSupported } from './native/libc.js';
import { NativeArena, type NativeArenaOptions } from './native/native-arena.js';
import { SimulatedArena, type SimulatedArenaOptions } from './simulated/simulated-arena.js';
import type { TextArena } from './types.js';

/** Which arena to create; `auto` is native where supported, else simulated. */
export type ArenaKind = 'simulated' | 'native' | 'auto';

/**
 * Create an arena by kind.
 * @throws TextPokeError UNSUPPORTED_PLATFORM for `native` off x86-64 Linux; EINVAL for an
 *   unknown kind or options that are not an object.
 */
export function createArena(kind: ArenaKind, options: SimulatedArenaOptions & NativeArenaOptions = {}): TextArena {
  if (typeof options !== 'object' || options === null) throw new TextPokeError('EINVAL', 'createArena: options must be an object');
  if (kind === 'simulated') return new SimulatedArena(options);
  if (kind === 'native') return new NativeArena(options);
  if (kind === 'auto') return nativeSupported() ? new NativeArena(options) : new SimulatedArena(options);
  throw new TextPokeError('EINVAL', `createArena: unknown kind ${String(kind)}`);
}
