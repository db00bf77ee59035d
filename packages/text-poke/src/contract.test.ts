/**
 * The TextArena contract, written once and run against every arena: the simulated one
 * everywhere, the native one on x86-64 Linux.
 */
import { BpfDispatcherError, NOP5, aluImm32, mov, ret, add } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { PokeMismatchError, SyncTimeoutError, TextPokeError } from './errors.js';
import { nativeSupported } from './native/libc.js';
import { NativeArena } from './native/native-arena.js';
import { emitQuiescentState } from './quiescent-emitter.js';
import { SimulatedArena } from './simulated/simulated-arena.js';
import { emitText as assemble } from './emit-text.js';
import type { TextArena } from './types.js';

const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 })],
];

const fitsSimm32 = (a: bigint) => BigInt.asIntN(64, a) === BigInt.asIntN(32, a);

describe.each(ARENAS)('TextArena contract: %s', (name, create) => {
  const skip = name === 'native' && !nativeSupported();
  let arena: TextArena;
  const open = () => {
    arena = create();
    return arena;
  };
  afterEach(() => arena?.dispose());

  /** fn(): returns `value` in eax. */
  const constant = (value: number) =>
    assemble(arena, 16, (b) => {
      mov(b, 'eax', value);
      ret(b);
    }).address;

  /**
   * A function with an 8-aligned poke site: `mov eax, 7; <pad>; site: nop5; add eax, 100; ret`.
   * With the nop it returns 107; with `jmp A` it returns A's value; with `call A`, A's value + 100.
   */
  const siteFunction = () => {
    let site = 0n;
    const region = assemble(arena, 32, (b) => {
      mov(b, 'eax', 7);
      b.align(8);
      site = b.address();
      b.raw(NOP5);
      add(b, 'eax', 100);
      ret(b);
    });
    return { entry: region.address, site };
  };

  it.skipIf(skip)('allocates aligned text (int3-filled) and data (zeroed) that fit simm32 and lie within +-2 GiB', () => {
    open();
    const regions = [arena.alloc(100), arena.alloc(4096, { align: 4096 }), arena.allocData(1000), arena.allocData(64, { align: 256 })];
    expect(regions[1]?.address && regions[1].address % 4096n).toBe(0n);
    expect((regions[3]?.address ?? 1n) % 256n).toBe(0n);
    for (const r of regions) {
      expect(fitsSimm32(r.address)).toBe(true);
      expect(fitsSimm32(r.address + BigInt(r.size) - 1n)).toBe(true);
      for (const s of regions) expect(BigInt.asIntN(64, r.address - s.address) < 1n << 31n).toBe(true);
    }
    expect([...arena.read(regions[0]?.address ?? 0n, 4)]).toEqual([0xcc, 0xcc, 0xcc, 0xcc]);
    expect([...arena.read(regions[2]?.address ?? 0n, 4)]).toEqual([0, 0, 0, 0]);
    expect(regions.map((r) => r.kind)).toEqual(['text', 'text', 'data', 'data']);
    expect(arena.alloc(64, 1024).address % 1024n).toBe(0n); // alloc(size, align)
  });

  it.skipIf(skip)('rejects bad sizes and alignments (EINVAL), exhaustion (ENOMEM), and double frees', () => {
    open();
    expect(() => arena.alloc(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => arena.alloc(16, { align: 3 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => arena.alloc(1 << 30)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    const r = arena.alloc(64);
    arena.free(r);
    expect(() => arena.free(r)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const again = arena.alloc(64);
    expect(again.address).toBe(r.address);
  });

  it.skipIf(skip)('places a region exactly where asked, or refuses an overlap', () => {
    open();
    const [start] = arena.textRange;
    const at = start + 0x2000n;
    expect(arena.alloc(0x800, { at }).address).toBe(at);
    expect(() => arena.alloc(16, { at: at + 0x10n })).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(() => arena.alloc(16, { at: 0x10n })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it.skipIf(skip)('writes and reads back inside regions, faults outside them', () => {
    open();
    const r = arena.allocData(64);
    arena.write(r.address + 8n, Uint8Array.of(1, 2, 3));
    expect([...arena.read(r.address + 7n, 5)]).toEqual([0, 1, 2, 3, 0]);
    expect([...arena.dataView(r).subarray(8, 11)]).toEqual([1, 2, 3]);
    expect(() => arena.read(r.address + 60n, 8)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(() => arena.write(0x1234n, Uint8Array.of(1))).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(() => arena.dataView(arena.alloc(16))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it.skipIf(skip)('calls code with up to six arguments', () => {
    open();
    const sum = assemble(arena, 64, (b) => {
      mov(b, 'rax', 'rdi');
      add(b, 'rax', 'rsi');
      add(b, 'rax', 'rdx');
      add(b, 'rax', 'rcx');
      add(b, 'rax', 'r8');
      add(b, 'rax', 'r9');
      ret(b);
    });
    expect(arena.call(sum.address, 1, 2, 3, 4, 5, 6n)).toBe(21n);
    expect(arena.call(sum.address, -1, 0)).toBe(0xffffffffffffffffn);
    expect(() => arena.call(arena.allocData(16).address)).toThrow(TextPokeError);
  });

  it.skipIf(skip)('pokes nop -> jmp -> jmp -> nop, and every state runs', () => {
    open();
    const a = constant(1);
    const b = constant(2);
    const { entry, site } = siteFunction();
    expect(arena.call(entry)).toBe(107n);
    expect(arena.textPoke(site, 'jump', null, a)).toBe('poked');
    expect(arena.call(entry)).toBe(1n);
    expect(arena.textPoke(site, 'jump', a, b)).toBe('poked');
    expect(arena.call(entry)).toBe(2n);
    expect(arena.textPoke(site, 'jump', b, null)).toBe('poked');
    expect(arena.call(entry)).toBe(107n);
    expect([...arena.read(site, 5)]).toEqual([...NOP5]);
  });

  it.skipIf(skip)('pokes the call forms: nop -> call -> call -> nop', () => {
    open();
    const a = constant(1);
    const b = constant(2);
    const { entry, site } = siteFunction();
    arena.textPoke(site, 'call', null, a);
    expect(arena.read(site, 1)[0]).toBe(0xe8);
    expect(arena.call(entry)).toBe(101n);
    arena.textPoke(site, 'call', a, b);
    expect(arena.call(entry)).toBe(102n);
    arena.textPoke(site, 'call', b, null);
    expect(arena.call(entry)).toBe(107n);
  });

  it.skipIf(skip)('EBUSY: a site that does not hold the expected instruction is left untouched', () => {
    open();
    const a = constant(1);
    const b = constant(2);
    const { site } = siteFunction();
    const before = arena.read(site, 8);
    try {
      arena.textPoke(site, 'jump', a, b);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PokeMismatchError);
      expect(BpfDispatcherError.hasCode(error, 'EBUSY')).toBe(true);
      expect([...(error as PokeMismatchError).actual]).toEqual([...NOP5]);
    }
    expect(arena.read(site, 8)).toEqual(before);
    arena.textPoke(site, 'jump', null, a);
    // call vs jump is part of the expected instruction too
    expect(() => arena.textPoke(site, 'call', a, b)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(arena.read(site, 1)[0]).toBe(0xe9);
  });

  it.skipIf(skip)('ERANGE: a target beyond rel32 reach changes nothing', () => {
    open();
    const { site } = siteFunction();
    const before = arena.read(site, 8);
    const far = site + (1n << 32n);
    expect(() => arena.textPoke(site, 'jump', null, far)).toThrow(expect.objectContaining({ code: 'ERANGE' }));
    expect(arena.read(site, 8)).toEqual(before);
  });

  it.skipIf(skip)('already-equal: poking the instruction that is there writes nothing', () => {
    open();
    const a = constant(1);
    const { entry, site } = siteFunction();
    arena.textPoke(site, 'jump', null, a);
    const before = arena.read(site, 8);
    expect(arena.textPoke(site, 'jump', a, a)).toBe('unchanged');
    expect(arena.read(site, 8)).toEqual(before);
    expect(arena.call(entry)).toBe(1n);
    arena.textPoke(site, 'jump', a, null);
    expect(arena.textPoke(site, 'call', null, null)).toBe('unchanged');
  });

  it.skipIf(skip)('rejects sites that cross an aligned 8-byte word (EINVAL) or lie in data (EFAULT)', () => {
    open();
    const region = assemble(arena, 32, (b) => b.nops(32));
    expect(() => arena.textPoke(region.address + 4n, 'jump', null, region.address)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const data = arena.allocData(16);
    expect(() => arena.textPoke(data.address, 'jump', null, region.address)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(() => arena.textPoke(region.address, 'bogus' as 'jump', null, null)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it.skipIf(skip)('grace periods: nothing to wait for, a stalled reader times out, a quiescent one releases', async () => {
    open();
    expect((await arena.synchronize()).waitedFor).toBe(0);
    const reader = arena.registerReader('poller-0');
    await expect(arena.synchronize({ timeoutMs: 30 })).rejects.toThrow(SyncTimeoutError);
    await expect(arena.synchronize({ timeoutMs: 30 })).rejects.toThrow(/poller-0/);
    const pending = arena.synchronize({ timeoutMs: 2000 });
    setTimeout(() => reader.quiescent(), 20);
    expect(await pending).toMatchObject({ waitedFor: 1 });
    reader.offline();
    expect((await arena.synchronize({ timeoutMs: 30 })).waitedFor).toBe(0);
    reader.online();
    await expect(arena.synchronize({ timeoutMs: 10 })).rejects.toThrow(SyncTimeoutError);
    reader.unregister();
    expect((await arena.synchronize({ timeoutMs: 10 })).waitedFor).toBe(0);
    expect(() => reader.quiescent()).toThrow(TextPokeError);
  });

  it.skipIf(skip)('machine code reports quiescent states with the emitter', async () => {
    open();
    const reader = arena.registerReader('jit-loop');
    const report = assemble(arena, 32, (b) => {
      emitQuiescentState(b, reader, 'r11');
      ret(b);
    });
    const pending = arena.synchronize({ timeoutMs: 2000 });
    arena.call(report.address);
    await expect(pending).resolves.toMatchObject({ waitedFor: 1 });
    const counter = arena.read(reader.counterAddress, 8);
    expect(new DataView(counter.buffer).getBigUint64(0, true)).toBe(1n);
  });

  it.skipIf(skip)('every use after dispose() is a typed DISPOSED error; dispose is idempotent', async () => {
    open();
    const r = arena.alloc(16);
    arena.dispose();
    arena.dispose();
    expect(arena.disposed).toBe(true);
    const uses: (() => unknown)[] = [
      () => arena.alloc(16),
      () => arena.allocData(16),
      () => arena.free(r),
      () => arena.write(r.address, Uint8Array.of(0)),
      () => arena.read(r.address, 1),
      () => arena.textPoke(r.address, 'jump', null, null),
      () => arena.registerReader(),
      () => arena.call(r.address),
    ];
    for (const use of uses) expect(use).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(arena.synchronize()).rejects.toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it.skipIf(skip)('cmp rdx, imm32 works on arena addresses (they fit a sign-extended imm32)', () => {
    open();
    const target = constant(5);
    const fn = assemble(arena, 32, (b) => {
      mov(b, 'eax', 0);
      aluImm32(b, 'cmp', 'rdi', target);
      b.raw([0x0f, 0x94, 0xc0]); // sete al
      ret(b);
    });
    expect(arena.call(fn.address, target)).toBe(1n);
    expect(arena.call(fn.address, target + 1n)).toBe(0n);
  });
});

describe('emitText', () => {
  it('frees the region again when the code does not fit', () => {
    const arena = new SimulatedArena();
    const before = arena.alloc(16);
    arena.free(before);
    expect(() => assemble(arena, 4, (b) => b.nops(8))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(arena.alloc(16).address).toBe(before.address);
    arena.dispose();
  });
});
