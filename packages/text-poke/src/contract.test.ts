/**
 * The TextArena contract, written once and run against every arena: the simulated one
 * everywhere, the native one on x86-64 Linux.
 */
import { BpfDispatcherError, CodeBuffer, NOP5, cmp, mov, ret, add } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { assertLiveArena, isTextArena } from './arena-check.js';
import { PokeMismatchError, SyncTimeoutError, TextPokeError } from './errors.js';
import { nativeSupported } from './native/libc.js';
import { NativeArena } from './native/native-arena.js';
import { emitQuiescentState } from './quiescent-emitter.js';
import { RegionMemory } from './region-memory.js';
import { pokeInstruction } from './poke-insn.js';
import { SimulatedArena } from './simulated/simulated-arena.js';
import { emitText as assemble } from './emit-text.js';
import type { TextArena } from './types.js';

const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ['native', () => new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 })],
];

const fitsSimm32 = (a: bigint) => BigInt.asIntN(64, a) === BigInt.asIntN(32, a);
const code = (code: string) => expect.objectContaining({ code });

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
    return { entry: region.address, site, region };
  };

  it.skipIf(skip)('usage() counts live regions and bytes, back to the same figures after free; DISPOSED after dispose', () => {
    open();
    const before = arena.usage();
    expect(before.text.used).toBe(0);
    expect(before.text.capacity).toBeGreaterThan(0);
    const t = arena.alloc(100);
    const d = arena.allocData(1000, 256);
    expect(arena.usage().text).toEqual({ ...before.text, used: 100, regions: 1 });
    expect(arena.usage().data).toEqual({ ...before.data, used: before.data.used + 1000, regions: before.data.regions + 1 });
    arena.free(t);
    arena.free(d);
    expect(arena.usage()).toEqual(before);
    arena.dispose();
    expect(() => arena.usage()).toThrow(code('DISPOSED'));
  });

  it.skipIf(skip)('is recognised by identity: isTextArena / assertLiveArena refuse look-alikes and disposed arenas', () => {
    open();
    const fail = (c: 'EINVAL' | 'DISPOSED', message: string) => new TextPokeError(c, message);
    expect(isTextArena(arena)).toBe(true);
    expect(() => assertLiveArena(arena, 'test', fail)).not.toThrow();
    const lookAlike = Object.fromEntries(Object.keys(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(arena))).map((k) => [k, () => 0]));
    for (const bad of [lookAlike, { ...arena }, null, 1, 'arena']) {
      expect(isTextArena(bad)).toBe(false);
      expect(() => assertLiveArena(bad, 'test', fail)).toThrow(code('EINVAL'));
    }
    arena.dispose();
    expect(() => assertLiveArena(arena, 'test', fail)).toThrow(code('DISPOSED'));
  });

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

  it.skipIf(skip)('polled grace periods: a cookie elapses once every reader online at its start moved, went offline or left', () => {
    open();
    expect(arena.pollGracePeriod(arena.startGracePeriod())).toBe(true); // nobody to wait for
    const a = arena.registerReader('a');
    const b = arena.registerReader('b');
    const cookie = arena.startGracePeriod();
    expect(arena.pollGracePeriod(cookie)).toBe(false);
    a.quiescent();
    expect(arena.pollGracePeriod(cookie)).toBe(false); // b has not
    const late = arena.registerReader('late'); // came online after the start: not waited for
    b.offline();
    expect(arena.pollGracePeriod(cookie)).toBe(true);
    const second = arena.startGracePeriod(); // a and late are online
    a.quiescent();
    expect(arena.pollGracePeriod(second)).toBe(false);
    late.unregister();
    expect(arena.pollGracePeriod(second)).toBe(true);
    const other = create();
    try {
      expect(() => other.pollGracePeriod(cookie)).toThrow(code('EINVAL'));
      expect(() => arena.pollGracePeriod({ kind: 'grace-period' })).toThrow(code('EINVAL'));
    } finally {
      other.dispose();
    }
    a.unregister();
    b.unregister();
  });

  it.skipIf(skip)('the reader table: each reader\'s counter and online flag are a slot of it, as native code reads them', () => {
    open();
    const t = arena.readerTable;
    expect([t.slots, t.slotSize, t.counterOffset, t.onlineOffset]).toEqual([64, 64, 0, 8]);
    const a = arena.registerReader('a');
    const b = arena.registerReader('b');
    for (const r of [a, b]) {
      const slot = Number(r.counterAddress - t.address - BigInt(t.counterOffset)) / t.slotSize;
      expect(Number.isInteger(slot) && slot >= 0 && slot < t.slots).toBe(true);
      expect(r.onlineAddress).toBe(r.counterAddress - BigInt(t.counterOffset) + BigInt(t.onlineOffset));
    }
    const online = (r: typeof a) => arena.read(r.onlineAddress, 8)[0];
    expect(online(b)).toBe(1);
    b.offline();
    expect(online(b)).toBe(0);
    a.unregister();
    b.unregister();
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
    reader.unregister();
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

  /** `mov eax, value; ret` copied in with write() only: not live yet. */
  const written = (value: number, size = 16) => {
    const region = arena.alloc(size);
    const b = new CodeBuffer(region.address);
    mov(b, 'eax', value);
    ret(b);
    arena.write(region.address, b.finish());
    return region;
  };

  it.skipIf(skip)('issue 10.1: call refuses text that was allocated but never written (EFAULT) and malformed arguments (EINVAL)', () => {
    open();
    const blank = arena.alloc(64);
    expect(() => arena.call(blank.address)).toThrow(code('EFAULT'));
    expect(() => arena.call(blank.address + 8n)).toThrow(code('EFAULT'));
    const fn = written(5, 64); // 6 bytes of code, 58 int3 after them
    expect(() => arena.call(fn.address + 6n)).toThrow(code('EFAULT'));
    expect(() => arena.call(fn.address + 40n)).toThrow(code('EFAULT'));
    expect(arena.call(fn.address)).toBe(5n);
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 1n << 64n, -(1n << 63n) - 1n, '1', null, {}]) {
      expect(() => arena.call(fn.address, bad as number)).toThrow(code('EINVAL'));
    }
    expect(() => arena.call(fn.address, 1, 2, 3, 4, 5, 6, 7)).toThrow(code('EINVAL'));
    expect(() => arena.call(1.5)).toThrow(code('EINVAL'));
    expect(arena.call(fn.address, -1, (1n << 64n) - 1n, -(1n << 63n))).toBe(5n);
  });

  it.skipIf(skip)('issue 10.2: text that was called, emitted or published is live: write() over it is EBUSY and changes nothing', () => {
    open();
    const called = written(1);
    expect(arena.write(called.address + 16n - 1n, Uint8Array.of(0xcc))).toBeUndefined(); // before any call: free to change
    arena.call(called.address);
    expect(() => arena.write(called.address, Uint8Array.of(0xb8, 9, 0, 0, 0))).toThrow(code('EBUSY'));
    expect(() => arena.write(called.address + 2n, Uint8Array.of(0))).toThrow(/textPoke/);
    expect(arena.call(called.address)).toBe(1n);

    const emitted = constant(2);
    expect(() => arena.write(emitted, Uint8Array.of(0x90))).toThrow(code('EBUSY'));
    expect(arena.call(emitted)).toBe(2n);

    const published = written(3);
    arena.publish(published.address, 6);
    expect(() => arena.write(published.address + 1n, Uint8Array.of(9))).toThrow(code('EBUSY'));
    expect(() => arena.publish(published.address, 16)).toThrow(code('EINVAL')); // bytes 6..15 never written
    expect(() => arena.publish(arena.alloc(16).address, 1)).toThrow(code('EINVAL'));
    expect(() => arena.publish(arena.allocData(16).address, 1)).toThrow(code('EFAULT'));
    expect(() => arena.publish(published.address, 1.5)).toThrow(code('EINVAL'));

    // freeing live code is allowed (after the caller's own grace period); the region is blank again
    arena.free(called);
    const again = arena.alloc(16, { at: called.address });
    expect(() => arena.call(again.address)).toThrow(code('EFAULT'));
    arena.write(again.address, Uint8Array.of(0xb8, 4, 0, 0, 0, 0xc3));
    expect(arena.call(again.address)).toBe(4n);
  });

  it.skipIf(skip)('issue 10.2: a poke target is live; once the last site leaves it is retired until a synchronize() that started afterwards completes', async () => {
    open();
    const { entry, site } = siteFunction();
    const { site: site2 } = siteFunction();
    const b = written(2);
    arena.textPoke(site, 'jump', null, b.address);
    arena.textPoke(site2, 'call', null, b.address);
    expect(arena.call(entry)).toBe(2n);
    expect(() => arena.write(b.address, Uint8Array.of(0xb8, 3))).toThrow(code('EBUSY'));
    expect(() => arena.free(b)).toThrow(code('EBUSY'));
    arena.textPoke(site2, 'call', b.address, null); // one site left
    expect(() => arena.write(b.address, Uint8Array.of(0xb8, 3))).toThrow(code('EBUSY'));
    const reader = arena.registerReader('cpu1');
    const early = arena.synchronize({ timeoutMs: 5000 }); // starts before the retirement: does not count
    arena.textPoke(site, 'jump', b.address, null); // last site gone: retired
    expect(arena.call(entry)).toBe(107n);
    expect(() => arena.write(b.address, Uint8Array.of(0xb8, 3))).toThrow(/retired/);
    reader.quiescent();
    await early;
    expect(() => arena.write(b.address, Uint8Array.of(0xb8, 3))).toThrow(code('EBUSY'));
    const grace = arena.synchronize({ timeoutMs: 5000 });
    reader.quiescent();
    await grace;
    arena.write(b.address, Uint8Array.of(0xb8, 3, 0, 0, 0));
    arena.textPoke(site, 'jump', null, b.address);
    expect(arena.call(entry)).toBe(3n);
    // freeing the site's own region drops what it targets; then b's region can go
    const { region: siteRegion } = siteFunction();
    const site3 = siteRegion.address + 8n;
    arena.textPoke(site3, 'jump', null, b.address);
    arena.free(arena.alloc(16)); // unrelated frees are fine
    expect(() => arena.free(b)).toThrow(code('EBUSY'));
    arena.textPoke(site, 'jump', b.address, null);
    expect(() => arena.free(b)).toThrow(code('EBUSY'));
    arena.free(siteRegion);
    reader.unregister();
    arena.free(b);
  });

  it.skipIf(skip)('issue 10.2: the dispatcher pattern (one image, halves written in turn, a grace period before reusing a half) works', async () => {
    open();
    const { entry, site } = siteFunction();
    const image = arena.alloc(4096, 4096);
    const half = (index: number, value: number) => {
      const at = image.address + BigInt(index * 2048);
      const b = new CodeBuffer(at);
      mov(b, 'eax', value);
      ret(b);
      arena.write(at, b.finish());
      return at;
    };
    let live: bigint | null = null;
    for (let round = 0; round < 6; round++) {
      const next = half(round & 1, 10 + round);
      arena.textPoke(site, 'jump', live, next);
      expect(arena.call(entry)).toBe(BigInt(10 + round));
      // without a grace period the half just left cannot be rewritten
      if (live !== null) expect(() => arena.write(live as bigint, Uint8Array.of(0xc3))).toThrow(code('EBUSY'));
      await arena.synchronize();
      live = next;
    }
    expect(() => arena.write(live as bigint, Uint8Array.of(0xc3))).toThrow(code('EBUSY')); // live half
    arena.textPoke(site, 'jump', live, null);
    await arena.synchronize();
    arena.free(image);
  });

  it.skipIf(skip)('issue 10.2: textPoke refuses targets in data or in text that holds no code (EFAULT); malformed targets (EINVAL)', () => {
    open();
    const { site } = siteFunction();
    const before = arena.read(site, 5);
    expect(() => arena.textPoke(site, 'jump', null, arena.alloc(16).address)).toThrow(code('EFAULT'));
    expect(() => arena.textPoke(site, 'jump', null, arena.allocData(16).address)).toThrow(code('EFAULT'));
    expect(() => arena.textPoke(site, 'jump', null, 1.5)).toThrow(code('EINVAL'));
    expect(() => arena.textPoke(site, 'jump', 'x' as unknown as bigint, null)).toThrow(code('EINVAL'));
    expect(() => arena.textPoke(Number.NaN, 'jump', null, null)).toThrow(code('EINVAL'));
    expect(arena.read(site, 5)).toEqual(before);
  });

  it.skipIf(skip)('issue 10.3: memory(region) is a checked little-endian accessor; after free it throws EFAULT, after dispose DISPOSED', () => {
    open();
    const r = arena.allocData(32);
    const m = arena.memory(r);
    expect(m).toBeInstanceOf(RegionMemory);
    expect(arena.memory(r)).toBe(m);
    expect([m.address, m.size]).toEqual([r.address, 32]);
    m.setU8(0, 0xab);
    m.setU16(2, 0x1234);
    m.setU32(4, 0xdeadbeef);
    m.setU64(8, 0x0102030405060708n);
    m.write(16, Uint8Array.of(9, 8, 7));
    expect([...arena.read(r.address, 19)]).toEqual([0xab, 0, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 8, 7, 6, 5, 4, 3, 2, 1, 9, 8, 7]);
    expect([m.getU8(0), m.getU16(2), m.getU32(4), m.getU64(8)]).toEqual([0xab, 0x1234, 0xdeadbeef, 0x0102030405060708n]);
    expect([...m.read(16, 3)]).toEqual([9, 8, 7]);
    expect(arena.dataBytes(r)[0]).toBe(0xab); // the raw view and the accessor share memory
    expect(arena.dataView(r)).toBe(arena.dataBytes(r)); // the deprecated alias
    expect(() => m.getU64(25)).toThrow(code('EFAULT'));
    expect(() => m.getU8(-1)).toThrow(code('EFAULT'));
    expect(() => m.getU8(1.5)).toThrow(code('EFAULT'));
    expect(() => m.read(30, 4)).toThrow(code('EFAULT'));
    expect(() => m.setU8(0, 256)).toThrow(code('EINVAL'));
    expect(() => m.setU16(0, -1)).toThrow(code('EINVAL'));
    expect(() => m.setU32(0, 1.5)).toThrow(code('EINVAL'));
    expect(() => m.setU64(0, 1n << 64n)).toThrow(code('EINVAL'));
    expect(() => m.write(0, [1] as unknown as Uint8Array)).toThrow(code('EINVAL'));
    const freed = arena.allocData(16);
    const fm = arena.memory(freed);
    arena.free(freed);
    expect(fm.usable).toBe(false);
    expect(() => fm.getU8(0)).toThrow(code('EFAULT'));
    expect(() => arena.memory(freed)).toThrow(code('EINVAL'));

    const view = arena.dataBytes(r);
    arena.dispose();
    expect(m.usable).toBe(false);
    const uses: (() => unknown)[] = [
      () => m.getU8(0),
      () => m.getU16(0),
      () => m.getU32(0),
      () => m.getU64(0),
      () => m.setU8(0, 1),
      () => m.setU16(0, 1),
      () => m.setU32(0, 1),
      () => m.setU64(0, 1n),
      () => m.read(0, 1),
      () => m.write(0, Uint8Array.of(1)),
      () => arena.memory(r),
      () => arena.dataBytes(r),
      () => arena.dataView(r),
      () => arena.publish(r.address, 1),
    ];
    for (const use of uses) expect(use).toThrow(code('DISPOSED'));
    // a raw view that outlived its arena cannot fault (native: it now reads an inert zero page)
    view[1] = 7;
    expect(typeof view[0]).toBe('number');
    expect(view.length).toBe(32);
  });

  it.skipIf(skip)('issue 10.4: dispose() is refused (EBUSY) while a reader is online; the arena stays usable; the reader then reports disposed', () => {
    open();
    const fn = constant(6);
    const reader = arena.registerReader('napi-0');
    expect(reader.disposed).toBe(false);
    expect(() => arena.dispose()).toThrow(code('EBUSY'));
    expect(() => arena.dispose()).toThrow(/napi-0/);
    expect(arena.disposed).toBe(false);
    expect(arena.call(fn)).toBe(6n);
    reader.quiescent();
    arena.allocData(16);
    reader.offline();
    const parked = arena.registerReader('parked');
    parked.offline();
    arena.dispose();
    expect(arena.disposed).toBe(true);
    expect(reader.disposed).toBe(true);
    expect(parked.disposed).toBe(true);
    for (const use of [() => reader.quiescent(), () => reader.online(), () => reader.offline(), () => reader.unregister()]) {
      expect(use).toThrow(code('DISPOSED'));
    }
    expect(() => emitQuiescentState(new CodeBuffer(0x1000n), reader, 'r11')).toThrow(code('DISPOSED'));
  });

  it.skipIf(skip)('issue 10.4: an unregistered reader reports disposed and its addresses are refused by the emitters', () => {
    open();
    const reader = arena.registerReader();
    reader.unregister();
    expect(reader.disposed).toBe(true);
    expect(() => emitQuiescentState(new CodeBuffer(0x1000n), reader, 'r11')).toThrow(code('DISPOSED'));
    expect(() => arena.registerReader(5 as unknown as string)).toThrow(code('EINVAL'));
  });

  it.skipIf(skip)('issue 10.5: malformed sizes, alignments, options and regions are EINVAL; regions are recognised by identity', async () => {
    open();
    for (const size of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12, -16, '16', 2 ** 31]) {
      expect(() => arena.alloc(size as number)).toThrow(code('EINVAL'));
      expect(() => arena.allocData(size as number)).toThrow(code('EINVAL'));
    }
    for (const align of [3, 1.5, Number.NaN, 0, -8, 2 ** 21, '16']) {
      expect(() => arena.alloc(16, align as number)).toThrow(code('EINVAL'));
      expect(() => arena.allocData(16, { align: align as number })).toThrow(code('EINVAL'));
    }
    expect(() => arena.alloc(16, 'x' as unknown as number)).toThrow(code('EINVAL'));
    expect(() => arena.alloc(16, { at: 1.5 })).toThrow(code('EINVAL'));
    const r = arena.allocData(64);
    const lookalike = { address: r.address, size: r.size, kind: r.kind } as const;
    const other = create();
    try {
      const foreign = other.allocData(64);
      for (const bad of [lookalike, foreign, null, undefined, 42, { address: 'x' }]) {
        expect(() => arena.free(bad as never)).toThrow(code('EINVAL'));
        expect(() => arena.dataBytes(bad as never)).toThrow(code('EINVAL'));
        expect(() => arena.dataView(bad as never)).toThrow(code('EINVAL'));
        expect(() => arena.memory(bad as never)).toThrow(code('EINVAL'));
      }
      expect(() => arena.dataBytes(arena.alloc(16))).toThrow(code('EINVAL'));
      other.free(foreign);
    } finally {
      other.dispose();
    }
    arena.free(r);
    expect(() => arena.free(r)).toThrow(code('EINVAL'));
    expect(() => arena.read(0x1000n, Number.NaN)).toThrow(code('EINVAL'));
    expect(() => arena.read(0x1000n, 1.5)).toThrow(code('EINVAL'));
    expect(() => arena.read('0x1000' as unknown as bigint, 1)).toThrow(code('EINVAL'));
    expect(() => arena.write(0x1000n, [1, 2] as unknown as Uint8Array)).toThrow(code('EINVAL'));
    await expect(arena.synchronize({ timeoutMs: Number.NaN })).rejects.toThrow(code('EINVAL'));
    await expect(arena.synchronize(null as never)).rejects.toThrow(code('EINVAL'));
    expect(() => assemble(arena, 16, 'not a function' as never)).toThrow(code('EINVAL'));
    expect(() => assemble(null as never, 16, () => {})).toThrow(code('EINVAL'));
    expect(() => pokeInstruction(1.5, 'jump', null)).toThrow(code('EINVAL'));
    expect(() => pokeInstruction(0x1000n, 'jump', Number.NaN)).toThrow(code('EINVAL'));
  });

  it.skipIf(skip)('cmp rdx, imm32 works on arena addresses (they fit a sign-extended imm32)', () => {
    open();
    const target = constant(5);
    const fn = assemble(arena, 32, (b) => {
      mov(b, 'eax', 0);
      cmp(b, 'rdi', target, 'imm32');
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
