import { CodeBuffer, call, jmp, mov, ret } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { emitText } from './emit-text.js';
import { nativeSupported } from './native/libc.js';
import { NativeArena } from './native/native-arena.js';
import { SimulatedArena } from './simulated/simulated-arena.js';
import type { TextArena } from './types.js';

const code = (c: string) => expect.objectContaining({ code: c });

const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ['native', () => new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 })],
];

describe.each(ARENAS)('emitText without a size (%s arena): emit, measure, allocate, re-emit', (name, create) => {
  const skip = name === 'native' && !nativeSupported();
  let arena: TextArena | undefined;
  afterEach(() => {
    arena?.dispose();
    arena = undefined;
  });

  it.skipIf(skip)('allocates exactly the code, which runs at the region address', () => {
    arena = create();
    const a = arena;
    const seven = emitText(a, (b) => {
      mov(b, 'eax', 7);
      ret(b);
    });
    expect(seven.size).toBe(6); // b8 07 00 00 00 c3
    expect(a.call(seven.address)).toBe(7n);
    // rel32 calls are relative to the real address, not the provisional one
    const caller = emitText(
      a,
      (b) => {
        b.nops(3);
        call(b, seven.address);
        ret(b);
      },
      { align: 64 },
    );
    expect(caller.size).toBe(9);
    expect(caller.address % 64n).toBe(0n);
    expect(a.call(caller.address)).toBe(7n);
    const bytes = a.read(caller.address, caller.size);
    const expected = new CodeBuffer(caller.address);
    expected.nops(3);
    call(expected, seven.address);
    ret(expected);
    expect(Array.from(bytes)).toEqual(Array.from(expected.finish()));
  });

  it.skipIf(skip)('at a fixed address (options.at) the provisional pass already uses it', () => {
    arena = create();
    const a = arena;
    const at = a.textRange[0] + 0x1000n;
    const seen: bigint[] = [];
    const r = emitText(
      a,
      (b) => {
        seen.push(b.base);
        jmp(b, at); // jmp to itself: e9 fb ff ff ff
      },
      { at },
    );
    expect(r.address).toBe(at);
    expect(seen).toEqual([at, at]);
    expect(Array.from(a.read(at, 5))).toEqual([0xe9, 0xfb, 0xff, 0xff, 0xff]);
  });

  it.skipIf(skip)('re-allocates when the code grows at the real address; frees on errors; refuses empty code', () => {
    arena = create();
    const a = arena;
    const provisional = a.textRange[0];
    a.alloc(16); // the next region is not at the provisional address
    const grown = emitText(a, (b) => b.nops(b.base === provisional ? 2 : 20));
    expect(grown.size).toBe(20);
    const first = a.alloc(16);
    a.free(first);
    expect(() =>
      emitText(a, (b) => {
        if (b.base !== provisional) throw new Error('boom');
        b.nops(4);
      }),
    ).toThrow('boom');
    let runs = 0;
    expect(() => emitText(a, (b) => b.nops(++runs * 8))).toThrow(code('EINVAL')); // keeps growing
    expect(runs).toBe(5); // one provisional pass, then four allocations
    expect(a.alloc(16).address).toBe(first.address); // nothing leaked
    expect(() => emitText(a, () => {})).toThrow(code('EINVAL'));
    expect(() => emitText(a, 'x' as never)).toThrow(code('EINVAL'));
  });
});
