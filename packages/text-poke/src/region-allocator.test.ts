import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TextPokeError } from './errors.js';
import { type Block, RegionAllocator } from './region-allocator.js';

describe('RegionAllocator', () => {
  it('property: live blocks never overlap, stay in range and keep their alignment', () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 3000 }), alignLog: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 80 }), (actions) => {
        const allocator = new RegionAllocator(16384);
        const live: (Block & { align: number })[] = [];
        for (const a of actions) {
          if (a.kind === 'alloc') {
            const align = 1 << a.alignLog;
            try {
              live.push({ ...allocator.alloc(a.size, align), align });
            } catch (error) {
              expect((error as TextPokeError).code).toBe('ENOMEM');
            }
          } else if (live.length > 0) {
            const [block] = live.splice(a.pick % live.length, 1);
            if (block) allocator.free(block.offset, block.size);
          }
          const sorted = [...live].sort((x, y) => x.offset - y.offset);
          sorted.forEach((block, i) => {
            expect(block.offset % block.align).toBe(0);
            expect(block.offset + block.size).toBeLessThanOrEqual(16384);
            const next = sorted[i + 1];
            if (next) expect(block.offset + block.size).toBeLessThanOrEqual(next.offset);
            expect(allocator.blockContaining(block.offset + block.size - 1, 1)).toEqual({ offset: block.offset, size: block.size });
          });
          expect(allocator.count).toBe(live.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finds nothing between blocks and refuses to free what it did not allocate', () => {
    const allocator = new RegionAllocator(1024);
    const a = allocator.alloc(100, 1);
    allocator.alloc(100, 256);
    expect(allocator.blockContaining(150, 1)).toBeUndefined();
    expect(allocator.blockContaining(90, 20)).toBeUndefined();
    expect(() => allocator.free(a.offset + 1, 99)).toThrow(TextPokeError);
    expect(() => allocator.free(a.offset, 99)).toThrow(TextPokeError);
  });
});
