import { CodeBuffer } from '@bpf-dispatcher/x86';
import type { AllocOptions, Region, TextArena } from '../types.js';

/** Allocate text, emit code into it at its address, write it; returns the region. */
export function assemble(arena: TextArena, size: number, emit: (buf: CodeBuffer, region: Region) => void, options: AllocOptions = {}): Region {
  const region = arena.alloc(size, options);
  const buf = new CodeBuffer(region.address, size);
  emit(buf, region);
  const bytes = buf.finish();
  if (bytes.length > size) throw new Error(`assemble: ${bytes.length} bytes do not fit ${size}`);
  arena.write(region.address, bytes);
  return region;
}
