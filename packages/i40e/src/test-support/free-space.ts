import type { Region, TextArena } from '@bpf-dispatcher/text-poke';

/**
 * Free bytes of text and data, measured by allocating 16-byte blocks until the arena is full
 * and freeing them again (the allocator has no query of its own). For small arenas.
 */
export function freeSpace(arena: TextArena): { text: number; data: number } {
  const count = (alloc: () => Region): number => {
    const got: Region[] = [];
    for (;;) {
      try {
        got.push(alloc());
      } catch {
        break;
      }
    }
    for (const region of got) arena.free(region);
    return got.length * 16;
  };
  return { text: count(() => arena.alloc(16, 16)), data: count(() => arena.allocData(16, 16)) };
}
