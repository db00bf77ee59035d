import { IMAGE_SIZES, LISTING_1_ENTRY, LISTING_16_ENTRIES, REFERENCE, hasObjdump, objdumpListing } from '@bpf-dispatcher/reference';
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { CodeBuffer } from '@bpf-dispatcher/x86';
import { listing } from '@bpf-dispatcher/x86/disasm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_PROGS, dispatcherImageSize, emitDispatcher, generateImage, maxProgsForHalf } from './emit-dispatcher.js';
import { DispatcherError, ImageTooLargeError, NotSimm32Error } from './errors.js';

const shuffled = <T>(items: T[]): T[] => items.map((v, i) => [((i * 7919) % 31) + i / 1000, v] as const).sort((a, b) => a[0] - b[0]).map(([, v]) => v);

describe('emitDispatcher: the reference image, byte for byte', () => {
  it('1 entry at 0xffffffffc0002000 reads as listing-1-entry.lst', () => {
    const bytes = generateImage(REFERENCE.image1, REFERENCE.progs(1), { fallback: 'retpoline', thunk: REFERENCE.thunk });
    expect(bytes.length).toBe(18);
    expect(listing(bytes, REFERENCE.image1)).toBe(LISTING_1_ENTRY);
  });

  it('16 entries at 0xffffffffc0020000 read as listing-16-entries.lst (any input order)', () => {
    const bytes = generateImage(REFERENCE.image16, shuffled(REFERENCE.progs(16)), { fallback: 'retpoline', thunk: REFERENCE.thunk });
    expect(bytes.length).toBe(0x252);
    expect(listing(bytes, REFERENCE.image16)).toBe(LISTING_16_ENTRIES);
  });

  it.skipIf(!hasObjdump())('16 entries, dumped to a file, read identically with GNU objdump', () => {
    const bytes = generateImage(REFERENCE.image16, REFERENCE.progs(16), { fallback: 'retpoline', thunk: REFERENCE.thunk });
    expect(objdumpListing(bytes, REFERENCE.image16)).toBe(LISTING_16_ENTRIES);
  });

  it('image sizes match the kernel layout table', () => {
    for (const [n, size] of Object.entries(IMAGE_SIZES)) expect(dispatcherImageSize(Number(n)), `n=${n}`).toBe(size);
    expect(dispatcherImageSize(0)).toBe(0);
  });

  it('a 2048-byte half holds up to 52 entries (64 would need 2466 bytes)', () => {
    const max = maxProgsForHalf();
    expect(dispatcherImageSize(max)).toBeLessThanOrEqual(2048);
    expect(dispatcherImageSize(max + 1)).toBeGreaterThan(2048);
    expect(max).toBe(52);
    expect(maxProgsForHalf(2048, 'indirect')).toBeGreaterThanOrEqual(max);
  });

  it('the indirect fallback ends each leaf with jmp rdx', () => {
    const bytes = generateImage(REFERENCE.image1, [-1], { fallback: 'indirect' });
    expect(listing(bytes, REFERENCE.image1).split('\n')[2]).toBe('ffffffffc000200d: jmp rdx');
  });

  it('rejects what it cannot encode with typed errors', () => {
    const opts = { fallback: 'retpoline', thunk: REFERENCE.thunk } as const;
    try {
      generateImage(REFERENCE.image16, [-1, 0x1_0000_0000n], opts);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(NotSimm32Error);
      expect((error as NotSimm32Error).prog).toBe(0x1_0000_0000n);
    }
    expect(() => generateImage(REFERENCE.image16, [0x8000_0000], opts)).toThrow(NotSimm32Error);
    expect(() => generateImage(0x4000_0000_0000n, [-1], opts)).toThrow(expect.objectContaining({ code: 'ERANGE' }));
    expect(() => generateImage(REFERENCE.image16, [], opts)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => generateImage(REFERENCE.image16, [-1], { fallback: 'retpoline' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => generateImage(REFERENCE.image16, [Number.NaN], opts)).toThrow(DispatcherError);
    const many = Array.from({ length: 64 }, (_, i) => -1 - i);
    try {
      generateImage(REFERENCE.image16, many, opts);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ImageTooLargeError);
      expect(error).toMatchObject({ size: 2466, limit: 2048, progs: 64 });
    }
  });

  it('property: the image is the identity on rdx — every registered address through its je, every other through the fallback', () => {
    const arena = new SimulatedArena();
    const [lo, hi] = [arena.textRange[0], arena.dataRange[1]];
    // simm32 addresses within rel32 reach of the image (at -0x40000000 + ...)
    const address = fc
      .integer({ min: -0x8000_0000, max: 0x3fff_0000 })
      .map((v) => BigInt.asUintN(64, BigInt(v)))
      .filter((a) => a < lo || a >= hi);
    fc.assert(
      fc.property(fc.uniqueArray(address, { minLength: 1, maxLength: 16 }), fc.array(address, { maxLength: 4 }), (progs, others) => {
        // fresh text each run: code that ran is live and is not rewritten in place
        const image = arena.alloc(2048);
        const bytes = generateImage(image.address, progs, { fallback: 'indirect' });
        arena.write(image.address, bytes);
        const end = image.address + BigInt(bytes.length);
        for (const target of [...progs, ...others]) {
          arena.defineExternal(target, () => target);
          const run = arena.run(image.address, { rdx: target }, { trace: true });
          expect(run.rax).toBe(target);
          const inImage = run.trace.filter((a) => a >= image.address && a < end);
          const last = inImage.at(-1) as bigint;
          const lastInsn = listing(arena.read(last, 6), last);
          const registered = progs.includes(target);
          // registered: the last image instruction is the leaf's je; otherwise the fallback jmp rdx
          expect(lastInsn.split('\n')[0], `${target.toString(16)} registered=${registered}`).toMatch(registered ? /: je / : /: jmp rdx/);
          expect(run.steps).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(progs.length + 1)) + 4);
          arena.removeExternal(target);
        }
        arena.free(image);
      }),
      { numRuns: 200 },
    );
    arena.dispose();
  });

  it('emits into a caller buffer at any base', () => {
    const buf = new CodeBuffer(0x4000_0000n);
    emitDispatcher(buf, [0x4000_1000, 0x4000_2000], { fallback: 'indirect' });
    expect(buf.finish().length).toBe(dispatcherImageSize(2, 'indirect'));
  });

  it('sizes in closed form equal what the emitter writes (n = 1..160 and sampled up to 800, both fallbacks) and grow with n', () => {
    const counts = [...Array.from({ length: 160 }, (_, i) => i + 1), 191, 255, 256, 257, 383, 511, 512, 513, 640, 799, 800];
    for (const fallback of ['retpoline', 'indirect'] as const) {
      let previous = 0;
      for (const n of counts) {
        const buf = new CodeBuffer(0x4000_0000n, 64);
        emitDispatcher(
          buf,
          Array.from({ length: n }, (_, i) => 0x1000_0000 + 16 * i),
          { fallback, thunk: 0x3000_0000 },
        );
        const size = dispatcherImageSize(n, fallback);
        expect(size, `n=${n} ${fallback}`).toBe(buf.finish().length);
        expect(size).toBeGreaterThan(previous);
        previous = size;
      }
    }
  });

  it('huge or bad sizes answer at once with a number or a typed EINVAL, never hang or exhaust memory', () => {
    expect(dispatcherImageSize(1e9)).toBeGreaterThan(18e9);
    expect(dispatcherImageSize(MAX_IMAGE_PROGS)).toBeGreaterThan(0);
    expect(maxProgsForHalf(1e7)).toBeGreaterThan(250_000);
    expect(dispatcherImageSize(maxProgsForHalf(1e7))).toBeLessThanOrEqual(1e7);
    expect(dispatcherImageSize(maxProgsForHalf(1e7) + 1)).toBeGreaterThan(1e7);
    expect(maxProgsForHalf(0)).toBe(0);
    expect(maxProgsForHalf(17)).toBe(0);
    expect(maxProgsForHalf(18)).toBe(1);
    expect(maxProgsForHalf(Number.MAX_SAFE_INTEGER)).toBe(MAX_IMAGE_PROGS);
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN, -1, 1.5, '8' as never, 2 ** 53]) {
      expect(() => maxProgsForHalf(bad), String(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN, -1, 1.5, 10n as never, MAX_IMAGE_PROGS + 1]) {
      expect(() => dispatcherImageSize(bad), String(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => dispatcherImageSize(4, 'x' as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => maxProgsForHalf(2048, null as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('rejects arguments of the wrong type with typed EINVAL, not TypeError', () => {
    const opts = { fallback: 'retpoline', thunk: REFERENCE.thunk } as const;
    const cases: (() => unknown)[] = [
      () => emitDispatcher(null as never, [-1], opts),
      () => emitDispatcher(new CodeBuffer(0n), null as never, opts),
      () => emitDispatcher(new CodeBuffer(0n), [-1], null as never),
      () => emitDispatcher(new CodeBuffer(0n), [-1], { fallback: 'retpoline', thunk: '0x1000' as never }),
      () => generateImage('0xffffffffc0002000' as never, [-1], opts),
      () => generateImage(REFERENCE.image1, 'abc' as never, opts),
      () => generateImage(REFERENCE.image1, [-1], opts, Number.NaN),
      () => generateImage(REFERENCE.image1, [-1, '-2' as never], opts),
    ];
    for (const [i, run] of cases.entries()) expect(run, `case ${i}`).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
