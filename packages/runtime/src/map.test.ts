import type { TextArena } from '@bpf-dispatcher/text-poke';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesCodec, u32, u64 } from './codec.js';
import { RuntimeError } from './errors.js';
import { BpfMap, isBpfMap } from './map.js';
import type { MapDefinition } from './map-types.js';
import { type BpfRuntime, createRuntime } from './runtime.js';
import { ARENAS } from './test-support/arenas.js';

const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const le64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(RuntimeError.isInstance(thrown), `expected a RuntimeError ${code}, got ${String(thrown)}`).toBe(true);
  expect((thrown as RuntimeError).code, (thrown as Error).message).toBe(code);
}

describe.each(ARENAS)('the BpfMap wrapper on the $name arena', ({ create }) => {
  let arena: TextArena;
  let runtime: BpfRuntime;
  const open: BpfMap[] = [];
  const make = (def: MapDefinition) => {
    const m = runtime.createMap(def);
    open.push(m);
    return m;
  };

  beforeAll(() => {
    arena = create();
    runtime = createRuntime(arena, { cpus: 2 });
  });
  afterAll(async () => {
    await Promise.all(open.map((m) => m.dispose()));
    runtime.dispose();
    arena.dispose();
  });

  it('exposes the definition (name defaults to the type) and the copies per value', () => {
    const a = make({ type: 'array', keySize: 4, valueSize: 24, maxEntries: 3, name: 'stats' });
    expect({ name: a.name, type: a.type, keySize: a.keySize, valueSize: a.valueSize, maxEntries: a.maxEntries, flags: a.flags, cpus: a.cpus }).toEqual({
      name: 'stats',
      type: 'array',
      keySize: 4,
      valueSize: 24,
      maxEntries: 3,
      flags: 0,
      cpus: 1,
    });
    expect(a.userValueSize).toBe(24);
    const p = make({ type: 'percpu_hash', keySize: 8, valueSize: 12, maxEntries: 3, flags: 0x40 });
    expect([p.name, p.cpus, p.userValueSize, p.flags]).toEqual(['percpu_hash', 2, 32, 0x40]);
    expect(a.frozen || a.disposed).toBe(false);
    expect(isBpfMap(a)).toBe(true);
  });

  it('keys: bytes of exactly keySize, or for 4- and 8-byte keys an unsigned integer that fits', () => {
    const k4 = make({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8 });
    const k8 = make({ type: 'hash', keySize: 8, valueSize: 4, maxEntries: 8 });
    const k13 = make({ type: 'hash', keySize: 13, valueSize: 4, maxEntries: 8 });
    k4.update(0xffff_ffff, le32(1));
    expect(k4.lookup(le32(0xffff_ffff))).toEqual(le32(1));
    expect(k4.lookup(0xffff_ffffn)).toEqual(le32(1));
    k8.update((1n << 64n) - 1n, le32(2));
    k8.update(Number.MAX_SAFE_INTEGER, le32(3));
    expect(k8.lookup(le64((1n << 64n) - 1n))).toEqual(le32(2));
    expect(k8.lookup(BigInt(Number.MAX_SAFE_INTEGER))).toEqual(le32(3));
    k13.update(new Uint8Array(13).fill(1), le32(4));
    expect(k13.lookup(new Uint8Array(13).fill(1))).toEqual(le32(4));
    const bad: [BpfMap, unknown][] = [
      [k4, -1],
      [k4, 0x1_0000_0000],
      [k4, 1n << 32n],
      [k4, -1n],
      [k4, 1.5],
      [k4, Number.NaN],
      [k4, '1'],
      [k4, null],
      [k4, [1, 0, 0, 0]],
      [k4, new Uint8Array(3)],
      [k4, new Uint8Array(8)],
      [k4, new Uint16Array(2)],
      [k8, 2 ** 53],
      [k8, 1n << 64n],
      [k8, new Uint8Array(4)],
      [k13, 1],
      [k13, 1n],
      [k13, new Uint8Array(12)],
      [k13, new Uint8Array(14)],
    ];
    for (const [m, key] of bad) {
      for (const op of [
        () => m.lookup(key as number),
        () => m.lookupPerCpu(key as number),
        () => m.update(key as number, le32(0)),
        () => m.delete(key as number),
        () => m.nextKey(key as number),
      ]) {
        expectCode(op, 'EINVAL');
      }
    }
    // undefined is no key, except for nextKey (the first key)
    expectCode(() => k4.lookup(undefined as unknown as number), 'EINVAL');
    expectCode(() => k4.update(undefined as unknown as number, le32(0)), 'EINVAL');
    expectCode(() => k4.delete(undefined as unknown as number), 'EINVAL');
    expect(k4.nextKey(undefined)).toEqual(le32(0xffff_ffff));
    expect(k4.keys().length + k8.keys().length + k13.keys().length).toBe(4);
  });

  it('values: exactly valueSize bytes (per-CPU: or one slot per CPU, or an array of CPU values)', () => {
    const h = make({ type: 'hash', keySize: 4, valueSize: 6, maxEntries: 4 });
    for (const v of [new Uint8Array(5), new Uint8Array(7), new Uint8Array(16), [new Uint8Array(6)], [new Uint8Array(6), new Uint8Array(6)], 'abcdef', null, 42]) {
      expectCode(() => h.update(1, v as Uint8Array), 'EINVAL');
    }
    expect(h.keys()).toEqual([]);
    const p = make({ type: 'percpu_hash', keySize: 4, valueSize: 6, maxEntries: 4 });
    p.update(1, new Uint8Array(6).fill(1));
    p.update(2, [new Uint8Array(6).fill(2), new Uint8Array(6).fill(3)]);
    p.update(3, new Uint8Array(16).fill(4));
    expect(p.lookupPerCpu(2)).toEqual([new Uint8Array(6).fill(2), new Uint8Array(6).fill(3)]);
    expect(p.lookup(3)).toEqual(Uint8Array.of(4, 4, 4, 4, 4, 4, 0, 0, 4, 4, 4, 4, 4, 4, 0, 0));
    for (const v of [new Uint8Array(12), [new Uint8Array(6)], [new Uint8Array(6), new Uint8Array(6), new Uint8Array(6)], [new Uint8Array(6), 'x']]) {
      expectCode(() => p.update(4, v as Uint8Array), 'EINVAL');
    }
  });

  it('update flags: names or numbers 0..2, anything else EINVAL before the map is touched', () => {
    const h = make({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
    for (const flags of [3, -1, 1.5, 4, 'ANY', 'nope', 'toString', 'constructor', null, {}, 0n, true]) {
      expectCode(() => h.update(1, le32(1), flags as 0), 'EINVAL');
    }
    expect(h.keys()).toEqual([]);
    h.update(1, le32(1), 'noexist');
    expectCode(() => h.update(1, le32(2), 'noexist'), 'EEXIST');
    expectCode(() => h.update(2, le32(2), 'exist'), 'ENOENT');
    h.update(1, le32(3), 'exist');
    h.update(1, le32(4), 0);
    expect(h.lookup(1)).toEqual(le32(4));
    expect(h.delete(1)).toBe(true);
    expect(h.delete(1)).toBe(false);
  });

  it('a frozen map refuses updates and deletes (EPERM) and still reads; freeze is idempotent', () => {
    for (const type of ['array', 'hash', 'percpu_array', 'percpu_hash'] as const) {
      const m = make({ type, keySize: 4, valueSize: 4, maxEntries: 2 });
      m.update(0, le32(7));
      m.freeze();
      m.freeze();
      expect(m.frozen).toBe(true);
      expectCode(() => m.update(0, le32(8)), 'EPERM');
      expectCode(() => m.update(1, le32(8), 'noexist'), 'EPERM');
      if (type === 'hash' || type === 'percpu_hash') expectCode(() => m.delete(0), 'EPERM');
      expect(m.typed(u32, u32).get(0)).toBe(type.startsWith('percpu') ? 14 : 7);
      expectCode(() => m.typed(u32, u32).set(0, 1), 'EPERM');
      expect(m.nextKey()).toEqual(le32(0));
    }
  });

  it('a disposed map throws DISPOSED everywhere, is no longer a map, and disposing again resolves at once', async () => {
    const m = make({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
    m.update(1, le32(1));
    const typed = m.typed(u32, u32);
    const first = m.dispose();
    expect(m.disposed).toBe(true);
    expect(isBpfMap(m)).toBe(false);
    for (const op of [
      () => m.lookup(1),
      () => m.lookupPerCpu(1),
      () => m.update(1, le32(1)),
      () => m.delete(1),
      () => m.nextKey(),
      () => m.keys(),
      () => m.entries(),
      () => m.freeze(),
      () => m.hold(),
      () => m.jitInfo(),
      () => typed.get(1),
      () => typed.set(1, 1),
      () => typed.entries(),
    ]) {
      expectCode(op, 'DISPOSED');
    }
    await expect(m.synchronize()).rejects.toMatchObject({ code: 'DISPOSED' });
    await first;
    await expect(m.dispose()).resolves.toBeUndefined();
    expect(runtime.mapByFd(m.fd)).toBeUndefined();
  });

  it('look-alike objects are not maps: isBpfMap, and the runtime refuses them (EINVAL)', () => {
    const real = make({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    const copy = { ...real, fd: real.fd, address: real.address, name: real.name, keySize: 4, valueSize: 8, type: 'array' };
    const proto = Object.create(BpfMap.prototype) as BpfMap;
    for (const fake of [copy, proto, null, undefined, 42, { fd: real.fd }]) {
      expect(isBpfMap(fake)).toBe(false);
      expectCode(() => runtime.jitOptions([fake as BpfMap]), 'EINVAL');
      expectCode(() => runtime.verifyOptions([fake as BpfMap]), 'EINVAL');
    }
    // methods called on a look-alike do not reach native memory
    expect(() => BpfMap.prototype.lookup.call(copy, 0)).toThrow(TypeError);
    expect(runtime.jitOptions([real]).maps.get(real.fd)?.address).toBe(real.address);
  });

  it('typed views: codecs must match the key size and fit the value; shorter values are zero-padded', () => {
    const m = make({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
    expectCode(() => m.typed(u64, u64), 'EINVAL');
    expectCode(() => m.typed(u32, bytesCodec(9)), 'EINVAL');
    const small = m.typed(u32, u32);
    m.update(1, new Uint8Array(8).fill(0xff));
    small.set(1, 0x01020304);
    expect(m.lookup(1)).toEqual(Uint8Array.of(4, 3, 2, 1, 0, 0, 0, 0));
    expect(small.get(1)).toBe(0x01020304);
    expect(small.get(2)).toBeUndefined();
    expect(small.getPerCpu(1)).toEqual([0x01020304]);
    expect(small.delete(1)).toBe(true);
    expect(small.delete(1)).toBe(false);
    expectCode(() => small.set(1, -1), 'EINVAL'); // the codec refuses a value it cannot encode
    expectCode(() => small.set(1.5 as number, 1), 'EINVAL');
    const raw = m.bytes();
    raw.set(le32(9), le64(5n));
    expect(raw.get(le32(9))).toEqual(le64(5n));
    expect(raw.entries()).toEqual([[le32(9), le64(5n)]]);
  });

  it('synchronize resolves at once for arrays and after a grace period for hash maps', async () => {
    const a = make({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    await expect(a.synchronize()).resolves.toBeUndefined();
    const h = make({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1 });
    h.update(1, le64(1n));
    h.update(1, le64(2n)); // the old element waits for a grace period
    expect(h.impl.reclaim?.()).toBe(0); // no reader online: the grace period has already passed
    await h.synchronize();
    expect(h.lookup(1)).toEqual(le64(2n));
  });
});
