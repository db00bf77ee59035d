import { defineStruct, type Region, type TextArena } from '@bpf-dispatcher/text-poke';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { structCodec, u32, u64 } from './codec.js';
import { ERRNO } from './errors.js';
import type { BpfMap } from './map.js';
import { BpfMapStruct } from './map-struct.js';
import { BPF_MAP_TYPE_ID } from './map-types.js';
import { type BpfRuntime, createRuntime } from './runtime.js';
import { ARENAS } from './test-support/arenas.js';

const CPUS = 3;
const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const le64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
const testValue = (seed: number, size: number) => Uint8Array.from({ length: size }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
const signed = (v: bigint) => Number(BigInt.asIntN(64, v));

describe.each(ARENAS)('array and per-CPU array maps on the $name arena', ({ create }) => {
  let arena: TextArena;
  let runtime: BpfRuntime;
  /** Key and value memory for calls of the native functions. */
  let scratch: Region;
  const maps: BpfMap[] = [];
  const make = (type: 'array' | 'percpu_array', valueSize: number, maxEntries: number) => {
    const m = runtime.createMap({ type, keySize: 4, valueSize, maxEntries });
    maps.push(m);
    return m;
  };
  /** The map's `struct bpf_map` as native code sees it. */
  const header = (m: BpfMap) => {
    const bytes = arena.read(m.address, BpfMapStruct.size);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const o = BpfMapStruct.offsets;
    return {
      type: view.getUint32(o.type, true),
      keySize: view.getUint32(o.keySize, true),
      valueSize: view.getUint32(o.valueSize, true),
      maxEntries: view.getUint32(o.maxEntries, true),
      flags: view.getUint32(o.flags, true),
      cpus: view.getUint32(o.cpus, true),
      elemSize: view.getUint32(o.elemSize, true),
      values: view.getBigUint64(o.values, true),
      cpuStride: view.getBigUint64(o.cpuStride, true),
      lookup: view.getBigUint64(o.lookup, true),
      update: view.getBigUint64(o.update, true),
      delete: view.getBigUint64(o.delete, true),
      id: view.getUint32(o.id, true),
    };
  };
  const key = () => scratch.address;
  const value = () => scratch.address + 64n;
  const setKey = (k: number | bigint) => arena.write(key(), typeof k === 'bigint' ? le64(k).subarray(0, 4) : le32(k));
  /** A program's lookup as CPU `cpu`: the value's address or 0. */
  const progLookup = (m: BpfMap, cpu: number, k: number) => {
    setKey(k);
    return runtime.cpuCall(cpu, header(m).lookup, m.address, key());
  };
  /** A program's update as CPU `cpu`: 0 or -errno. */
  const progUpdate = (m: BpfMap, cpu: number, k: number, v: Uint8Array, flags: number | bigint) => {
    setKey(k);
    arena.write(value(), v);
    return signed(runtime.cpuCall(cpu, header(m).update, m.address, key(), value(), flags));
  };

  beforeAll(() => {
    arena = create();
    runtime = createRuntime(arena, { cpus: CPUS });
    scratch = arena.allocData(64 + 4096, 64);
  });
  afterAll(async () => {
    await Promise.all(maps.map((m) => m.dispose()));
    arena.free(scratch);
    runtime.dispose();
    arena.dispose();
  });

  it('fills the common header: type, sizes, CPUs, element size rounded up to 8, the per-CPU stride in cache lines', () => {
    const a = make('array', 13, 5);
    const p = make('percpu_array', 13, 5);
    for (const [m, type, stride] of [
      [a, 'array', 0n],
      [p, 'percpu_array', 128n], // 5 values of 16 bytes = 80, rounded up to 64-byte lines
    ] as const) {
      const h = header(m);
      expect(h).toMatchObject({ type: BPF_MAP_TYPE_ID[type], keySize: 4, valueSize: 13, maxEntries: 5, flags: 0, cpus: CPUS, elemSize: 16, cpuStride: stride, id: m.fd });
      expect(h.values % 64n).toBe(0n);
      expect(new Set([h.lookup, h.update, h.delete]).size).toBe(3);
      expect(m.jitInfo()).toEqual({
        address: m.address,
        ops: { lookup: h.lookup, update: h.update, delete: h.delete },
        directValue: h.values,
        inlineLookup: { kind: 'array', values: h.values, elemSize: 16, maxEntries: 5, cpuStride: Number(stride) },
      });
    }
    expect(a.cpus).toBe(1);
    expect(p.cpus).toBe(CPUS);
  });

  it('starts zeroed; TypeScript reads and writes values in place, where programs find them', () => {
    const m = make('array', 12, 8);
    for (let i = 0; i < 8; i++) expect(m.lookup(i)).toEqual(new Uint8Array(12));
    m.update(3, testValue(3, 12));
    const at = progLookup(m, 0, 3);
    expect(at).toBe(header(m).values + 3n * 16n);
    expect(arena.read(at, 12)).toEqual(testValue(3, 12));
    arena.write(at, testValue(9, 12)); // a program's store through the pointer
    expect(m.lookup(3)).toEqual(testValue(9, 12));
    expect(m.lookup(2)).toEqual(new Uint8Array(12));
    expect(m.lookup(4)).toEqual(new Uint8Array(12));
  });

  it('lookups out of range give undefined / NULL, from TypeScript and from programs', () => {
    const m = make('array', 8, 4);
    expect(m.lookup(4)).toBeUndefined();
    expect(m.lookup(0xffff_ffff)).toBeUndefined();
    expect(m.lookupPerCpu(4)).toBeUndefined();
    for (const k of [4, 5, 0x8000_0000, 0xffff_ffff]) expect(progLookup(m, 1, k)).toBe(0n);
    expect(progLookup(m, 1, 3)).not.toBe(0n);
  });

  it('update flags: ANY and EXIST replace, NOEXIST is EEXIST, unknown flags EINVAL; E2BIG out of range (kernel order)', () => {
    const m = make('array', 8, 4);
    m.update(1, le64(1n));
    m.update(1, le64(2n), 'any');
    m.update(1, le64(3n), 'exist');
    m.update(1, le64(4n), 2);
    expect(m.typed(u32, u64).get(1)).toBe(4n);
    expect(() => m.update(1, le64(5n), 'noexist')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => m.update(1, le64(5n), 1)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => m.update(4, le64(5n))).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    expect(() => m.update(4, le64(5n), 'noexist')).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    expect(m.typed(u32, u64).get(1)).toBe(4n);
    // the native update: flags checked first, then the index, then NOEXIST
    expect(progUpdate(m, 0, 1, le64(6n), 0)).toBe(0);
    expect(progUpdate(m, 0, 1, le64(7n), 2)).toBe(0);
    expect(progUpdate(m, 0, 1, le64(8n), 1)).toBe(-ERRNO.EEXIST);
    expect(progUpdate(m, 0, 1, le64(8n), 3)).toBe(-ERRNO.EINVAL);
    expect(progUpdate(m, 0, 1, le64(8n), 1n << 32n)).toBe(-ERRNO.EINVAL);
    expect(progUpdate(m, 0, 1, le64(8n), -1)).toBe(-ERRNO.EINVAL);
    expect(progUpdate(m, 0, 4, le64(8n), 3)).toBe(-ERRNO.EINVAL);
    expect(progUpdate(m, 0, 4, le64(8n), 1)).toBe(-ERRNO.E2BIG);
    expect(progUpdate(m, 0, 0xffff_ffff, le64(8n), 0)).toBe(-ERRNO.E2BIG);
    expect(m.typed(u32, u64).get(1)).toBe(7n);
  });

  it('a program update copies exactly valueSize bytes (odd sizes, large values with a loop)', () => {
    for (const size of [1, 3, 7, 13, 64, 65, 200, 1000]) {
      const m = make('array', size, 3);
      const elem = Math.ceil(size / 8) * 8;
      const values = header(m).values;
      // the padding after each value and the neighbouring values must survive
      arena.write(values, new Uint8Array(3 * elem).fill(0x5a));
      expect(progUpdate(m, 0, 1, testValue(size, size), 0), `size ${size}`).toBe(0);
      expect(m.lookup(1)).toEqual(testValue(size, size));
      expect(arena.read(values + BigInt(elem + size), elem - size)).toEqual(new Uint8Array(elem - size).fill(0x5a));
      expect(arena.read(values, elem)).toEqual(new Uint8Array(elem).fill(0x5a));
      expect(arena.read(values + BigInt(2 * elem), elem)).toEqual(new Uint8Array(elem).fill(0x5a));
    }
  });

  it('entries cannot be deleted (EINVAL), from TypeScript and from programs', () => {
    const m = make('array', 4, 2);
    expect(() => m.delete(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => m.delete(7)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    setKey(0);
    expect(signed(runtime.cpuCall(0, header(m).delete, m.address, key()))).toBe(-ERRNO.EINVAL);
  });

  it('nextKey walks 0..maxEntries-1; an out-of-range key starts over; keys() and entries() list every index', () => {
    const m = make('array', 4, 3);
    const n = (k?: number) => {
      const next = m.nextKey(k);
      return next === undefined ? undefined : u32.decode(next);
    };
    expect([n(), n(0), n(1), n(2)]).toEqual([0, 1, 2, undefined]);
    expect([n(3), n(1000), n(0xffff_ffff)]).toEqual([0, 0, 0]);
    expect(m.keys().map((k) => u32.decode(k))).toEqual([0, 1, 2]);
    m.update(2, le32(0xabcd));
    expect(m.entries().map(([k, v]) => [u32.decode(k), u32.decode(v)])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0xabcd],
    ]);
    expect(m.typed(u32, u32).entries()).toEqual([
      [0, 0],
      [1, 0],
      [2, 0xabcd],
    ]);
    const one = make('array', 4, 1);
    expect(one.nextKey()).toEqual(le32(0));
    expect(one.nextKey(0)).toBeUndefined();
  });

  describe('per-CPU arrays', () => {
    it('a program on CPU c reads and writes CPU c\'s copy only; TypeScript sees every copy', () => {
      const m = make('percpu_array', 8, 4);
      const stride = BigInt(header(m).cpuStride);
      const values = header(m).values;
      for (let cpu = 0; cpu < CPUS; cpu++) {
        expect(progLookup(m, cpu, 2)).toBe(values + stride * BigInt(cpu) + 16n);
        expect(progUpdate(m, cpu, 2, le64(BigInt(10 + cpu)), 0)).toBe(0);
      }
      expect(m.lookupPerCpu(2)).toEqual([le64(10n), le64(11n), le64(12n)]);
      expect(m.lookupPerCpu(1)).toEqual([le64(0n), le64(0n), le64(0n)]);
      expect(progUpdate(m, 1, 2, le64(99n), 0)).toBe(0);
      expect(m.lookupPerCpu(2)).toEqual([le64(10n), le64(99n), le64(12n)]);
      for (let cpu = 0; cpu < CPUS; cpu++) expect(progLookup(m, cpu, 4)).toBe(0n);
    });

    it('TypeScript writes one value to every CPU, one value per CPU, or the kernel\'s format (8-byte slots)', () => {
      const m = make('percpu_array', 5, 2);
      expect(m.userValueSize).toBe(8 * CPUS);
      m.update(0, testValue(1, 5));
      expect(m.lookupPerCpu(0)).toEqual([testValue(1, 5), testValue(1, 5), testValue(1, 5)]);
      m.update(0, [testValue(2, 5), testValue(3, 5), testValue(4, 5)]);
      expect(m.lookupPerCpu(0)).toEqual([testValue(2, 5), testValue(3, 5), testValue(4, 5)]);
      // lookup gives the kernel's user-space format: one 8-byte slot per CPU, padding zero
      const user = m.lookup(0) as Uint8Array;
      expect(user.length).toBe(8 * CPUS);
      for (let cpu = 0; cpu < CPUS; cpu++) {
        expect(user.subarray(cpu * 8, cpu * 8 + 5)).toEqual(testValue(2 + cpu, 5));
        expect(user.subarray(cpu * 8 + 5, cpu * 8 + 8)).toEqual(new Uint8Array(3));
      }
      const format = new Uint8Array(8 * CPUS);
      for (let cpu = 0; cpu < CPUS; cpu++) format.set(testValue(20 + cpu, 5), cpu * 8);
      format.fill(0xff, 5, 8); // padding is ignored
      m.update(1, format);
      expect(m.lookupPerCpu(1)).toEqual([testValue(20, 5), testValue(21, 5), testValue(22, 5)]);
      // wrong shapes
      for (const bad of [new Uint8Array(4), new Uint8Array(6), new Uint8Array(5 * CPUS), [testValue(1, 5)], [testValue(1, 5), testValue(1, 5)], [testValue(1, 5), testValue(1, 5), new Uint8Array(4)]]) {
        expect(() => m.update(0, bad as Uint8Array)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      }
      expect(m.lookupPerCpu(0)).toEqual([testValue(2, 5), testValue(3, 5), testValue(4, 5)]);
    });

    it('typed views sum the CPUs (numbers, bigints, struct fields) and set one or per-CPU values', () => {
      const counts = make('percpu_array', 8, 2).typed(u32, u64);
      counts.set(0, [1n, 20n, 300n]);
      expect(counts.get(0)).toBe(321n);
      expect(counts.getPerCpu(0)).toEqual([1n, 20n, 300n]);
      counts.set(1, 7n);
      expect(counts.getPerCpu(1)).toEqual([7n, 7n, 7n]);
      expect(counts.entries()).toEqual([
        [0, 321n],
        [1, 21n],
      ]);
      expect(counts.get(2)).toBeUndefined();
      const Rec = defineStruct('rec', { packets: 'u64', bytes: 'u32', flags: 'u8' });
      const recs = make('percpu_array', Rec.size, 1).typed(u32, structCodec(Rec));
      recs.set(0, [
        { packets: 1n, bytes: 100, flags: 1 },
        { packets: 2n, bytes: 200, flags: 2 },
        { packets: 3n, bytes: 300, flags: 4 },
      ]);
      expect(recs.get(0)).toEqual({ packets: 6n, bytes: 600, flags: 7 });
      // a plain array: one CPU, nothing to sum
      const plain = make('array', 8, 1).typed(u32, u64);
      plain.set(0, 5n);
      expect(plain.getPerCpu(0)).toEqual([5n]);
      expect(plain.get(0)).toBe(5n);
    });
  });
});
