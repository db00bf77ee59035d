import type { SimulatedArena, TextArena } from '@bpf-dispatcher/text-poke';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRNO } from './errors.js';
import { BpfMapStruct } from './map-struct.js';
import { BPF_F, BPF_UPDATE, type MapDefinition } from './map-types.js';
import { ARENAS } from './test-support/arenas.js';
import { auditHashMap } from './test-support/hash-audit.js';
import { type HashHarness, openHashMap } from './test-support/hash-harness.js';
import { HashModel, testKey, testValue } from './test-support/hash-model.js';
import { callStubs } from './test-support/map-context.js';

const KEY_SIZES = [1, 3, 4, 8, 13, 64, 512] as const;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

type Op =
  | { readonly kind: 'update'; readonly key: number; readonly seed: number; readonly flags: number; readonly perCpuValues: boolean }
  | { readonly kind: 'programUpdate'; readonly key: number; readonly seed: number; readonly flags: number; readonly cpu: number }
  | { readonly kind: 'delete'; readonly key: number; readonly fromProgram: boolean; readonly cpu: number }
  | { readonly kind: 'lookup'; readonly key: number; readonly cpu: number }
  | { readonly kind: 'reclaim' };

const flagsArb = fc.constantFrom(BPF_UPDATE.ANY, BPF_UPDATE.ANY, BPF_UPDATE.NOEXIST, BPF_UPDATE.EXIST, 3);

function opArb(keys: number): fc.Arbitrary<Op> {
  const key = fc.nat(keys - 1);
  const cpu = fc.nat(7);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('update' as const), key, seed: fc.nat(255), flags: flagsArb, perCpuValues: fc.boolean() }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('programUpdate' as const), key, seed: fc.nat(255), flags: flagsArb, cpu }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key, fromProgram: fc.boolean(), cpu }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('lookup' as const), key, cpu }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reclaim' as const }) },
  );
}

const configArb = fc.record({
  type: fc.constantFrom('hash' as const, 'percpu_hash' as const),
  keySize: fc.constantFrom(...KEY_SIZES),
  valueSize: fc.constantFrom(1, 4, 8, 13, 24, 136),
  maxEntries: fc.integer({ min: 1, max: 6 }),
  cpus: fc.integer({ min: 1, max: 3 }),
  zeroSeed: fc.boolean(),
});

/** Every key reached by get_next_key from the start, in order. */
function iterate(h: HashHarness, limit: number): string[] {
  const out: string[] = [];
  for (let key = h.backend.nextKey(undefined); key !== undefined; key = h.backend.nextKey(key)) {
    out.push(hex(key));
    if (out.length > limit) throw new Error('get_next_key does not end');
  }
  return out;
}

describe.each(ARENAS)('hash maps on the $name arena', ({ name, create }) => {
  let arena: TextArena;
  beforeAll(() => {
    arena = create();
  });
  afterAll(() => arena.dispose());

  it('agrees with a JS model under random operation sequences (key sizes 1..512, both types)', () => {
    callStubs(arena); // emitted once per arena: not part of any map
    const usage = arena.usage();
    fc.assert(
      fc.property(configArb, fc.array(opArb(8), { maxLength: 40 }), (config, ops) => {
        const def: MapDefinition = { ...config, flags: config.zeroSeed ? BPF_F.ZERO_SEED : 0 };
        const perCpu = config.type === 'percpu_hash';
        const copies = perCpu ? config.cpus : 1;
        const h = openHashMap(arena, def, config.cpus);
        const model = new HashModel(config.maxEntries, copies, perCpu, config.valueSize);
        const key = (i: number) => testKey(i, config.keySize);
        try {
          for (const op of ops) {
            switch (op.kind) {
              case 'update': {
                const values =
                  op.perCpuValues && perCpu
                    ? Array.from({ length: copies }, (_, c) => testValue(op.seed, c, config.valueSize))
                    : [testValue(op.seed, 0, config.valueSize)];
                expect(h.backend.update(key(op.key), values, op.flags)).toBe(model.userUpdate(op.key, values, op.flags));
                break;
              }
              case 'programUpdate': {
                const cpu = op.cpu % config.cpus;
                const value = testValue(op.seed, 9, config.valueSize);
                expect(h.programUpdate(key(op.key), value, op.flags, cpu)).toBe(
                  model.programUpdate(op.key, value, op.flags, perCpu ? cpu : 0),
                );
                break;
              }
              case 'delete':
                expect(op.fromProgram ? h.programDelete(key(op.key), op.cpu % config.cpus) : h.backend.delete(key(op.key))).toBe(
                  model.delete(op.key, !op.fromProgram),
                );
                break;
              case 'lookup': {
                const expected = model.entries.get(op.key);
                expect(h.backend.lookup(key(op.key))).toEqual(expected);
                const cpu = op.cpu % config.cpus;
                expect(h.programLookup(key(op.key), cpu)).toEqual(expected === undefined ? undefined : expected[perCpu ? cpu : 0]);
                break;
              }
              case 'reclaim':
                expect(h.backend.reclaim()).toBe(0);
                model.reclaim();
                break;
            }
          }
          const modelKeys = [...model.entries.keys()].map((i) => hex(key(i))).sort();
          const audit = auditHashMap(arena, h.map.header, h.backend);
          expect(audit.linked).toBe(model.entries.size);
          expect([...audit.keys].sort()).toEqual(modelKeys);
          expect(h.backend.keys().map(hex).sort()).toEqual(modelKeys);
          const walked = iterate(h, 2 * config.maxEntries);
          expect(walked).toEqual(audit.keys);
          for (const [i, copiesOf] of model.entries) expect(h.backend.lookup(key(i))).toEqual(copiesOf);
          h.backend.reclaim();
          expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({
            retired: 0,
            waiting: 0,
            free: 2 * config.maxEntries - model.entries.size,
          });
        } finally {
          h.close();
        }
      }),
      { numRuns: 300 },
    );
    expect(arena.usage()).toEqual(usage); // every map's regions (data and code) were freed
  });

  it('implements the update flags: EINVAL, EEXIST, ENOENT (from TypeScript and programs)', () => {
    const h = openHashMap(arena, { type: 'hash', keySize: 8, valueSize: 16, maxEntries: 4 });
    try {
      const k = testKey(1, 8);
      const v = testValue(1, 0, 16);
      expect(h.backend.update(k, [v], 3)).toBe(-ERRNO.EINVAL);
      expect(h.programUpdate(k, v, 4, 0)).toBe(-ERRNO.EINVAL);
      expect(h.backend.update(k, [v], BPF_UPDATE.EXIST)).toBe(-ERRNO.ENOENT);
      expect(h.programUpdate(k, v, BPF_UPDATE.EXIST, 0)).toBe(-ERRNO.ENOENT);
      expect(h.backend.update(k, [v], BPF_UPDATE.NOEXIST)).toBe(0);
      expect(h.backend.update(k, [v], BPF_UPDATE.NOEXIST)).toBe(-ERRNO.EEXIST);
      expect(h.programUpdate(k, v, BPF_UPDATE.NOEXIST, 0)).toBe(-ERRNO.EEXIST);
      const w = testValue(2, 0, 16);
      expect(h.programUpdate(k, w, BPF_UPDATE.EXIST, 0)).toBe(0);
      expect(h.backend.lookup(k)).toEqual([w]);
      expect(h.backend.delete(k)).toBe(0);
      expect(h.backend.delete(k)).toBe(-ERRNO.ENOENT);
      expect(h.programDelete(k, 0)).toBe(-ERRNO.ENOENT);
      expect(h.backend.lookup(k)).toBeUndefined();
      // a wrong-sized key or value is refused before anything happens
      expect(h.backend.update(new Uint8Array(7), [v], 0)).toBe(-ERRNO.EINVAL);
      expect(h.backend.update(k, [new Uint8Array(15)], 0)).toBe(-ERRNO.EINVAL);
      expect(() => h.backend.lookup(new Uint8Array(9))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      h.close();
    }
  });

  it('refuses new keys beyond maxEntries with E2BIG, but replaces existing ones', () => {
    const h = openHashMap(arena, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 3 });
    try {
      const k = (i: number) => testKey(i, 4);
      const v = (i: number) => testValue(i, 0, 8);
      for (let i = 0; i < 3; i++) expect(h.backend.update(k(i), [v(i)], 0)).toBe(0);
      expect(h.backend.update(k(3), [v(3)], 0)).toBe(-ERRNO.E2BIG);
      expect(h.programUpdate(k(3), v(3), 0, 0)).toBe(-ERRNO.E2BIG);
      expect(h.backend.update(k(1), [v(9)], 0)).toBe(0);
      expect(h.programUpdate(k(2), v(8), 0, 0)).toBe(0);
      expect(h.backend.delete(k(0))).toBe(0);
      expect(h.programUpdate(k(3), v(3), 0, 0)).toBe(0);
      expect(h.backend.keys().map(hex).sort()).toEqual([1, 2, 3].map((i) => hex(k(i))).sort());
      expect(auditHashMap(arena, h.map.header, h.backend).linked).toBe(3);
    } finally {
      h.close();
    }
  });

  it('runs out of spares (ENOMEM) while a reader holds the grace period, and recovers once it reports', () => {
    const reader = arena.registerReader('stalled');
    const h = openHashMap(arena, { type: 'hash', keySize: 8, valueSize: 8, maxEntries: 4 });
    try {
      const k = (i: number) => testKey(i, 8);
      for (let i = 0; i < 4; i++) expect(h.backend.update(k(i), [testValue(i, 0, 8)], 0)).toBe(0);
      // every replacement takes a spare; the replaced elements wait for the reader
      for (let i = 0; i < 4; i++) expect(h.backend.update(k(i), [testValue(10 + i, 0, 8)], 0)).toBe(0);
      expect(h.backend.update(k(0), [testValue(20, 0, 8)], 0)).toBe(-ERRNO.ENOMEM);
      expect(h.programUpdate(k(1), testValue(21, 0, 8), 0, 0)).toBe(-ERRNO.ENOMEM);
      expect(h.backend.delete(k(3))).toBe(0); // deletes need no element
      expect(h.backend.reclaim()).toBe(5);
      expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({ free: 0, linked: 3, waiting: 5 });
      for (let i = 0; i < 3; i++) expect(h.backend.lookup(k(i))).toEqual([testValue(10 + i, 0, 8)]);
      reader.quiescent();
      expect(h.backend.update(k(0), [testValue(20, 0, 8)], 0)).toBe(0);
      expect(h.backend.lookup(k(0))).toEqual([testValue(20, 0, 8)]);
      expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({ free: 4, linked: 3, retired: 1, waiting: 0 });
      expect(h.backend.reclaim()).toBe(1); // the reader is online again: the new batch waits
      reader.offline();
      expect(h.backend.reclaim()).toBe(0);
      expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({ free: 5, linked: 3 });
    } finally {
      h.close();
      reader.unregister();
    }
  });

  it('get_next_key visits every key exactly once, starts over from an absent key, and ends with ENOENT', () => {
    for (const keySize of [4, 13]) {
      const h = openHashMap(arena, { type: 'hash', keySize, valueSize: 4, maxEntries: 200 });
      try {
        expect(h.backend.nextKey(undefined)).toBeUndefined();
        const keys = Array.from({ length: 150 }, (_, i) => testKey(i, keySize));
        for (const [i, key] of keys.entries()) expect(h.backend.update(key, [testValue(i, 0, 4)], 0)).toBe(0);
        const walked = iterate(h, 200);
        expect(walked.length).toBe(150);
        expect(new Set(walked)).toEqual(new Set(keys.map(hex)));
        expect(walked).toEqual(h.backend.keys().map(hex)); // the same bucket order
        const absent = testKey(199, keySize);
        expect(hex(h.backend.nextKey(absent) as Uint8Array)).toBe(walked[0]);
        const last = Buffer.from(walked[walked.length - 1] as string, 'hex');
        expect(h.backend.nextKey(new Uint8Array(last))).toBeUndefined();
        // deleting while iterating: every remaining key is still reached
        for (let i = 0; i < 150; i += 3) expect(h.backend.delete(keys[i] as Uint8Array)).toBe(0);
        expect(iterate(h, 200).length).toBe(100);
      } finally {
        h.close();
      }
    }
  });

  it('per-CPU maps: a program writes only its own CPU copy, in place; TypeScript writes all copies', () => {
    const cpus = 4;
    const h = openHashMap(arena, { type: 'percpu_hash', keySize: 8, valueSize: 12, maxEntries: 4 }, cpus);
    try {
      const k = testKey(5, 8);
      const zero = new Uint8Array(12);
      const v = (seed: number) => testValue(seed, 0, 12);
      expect(h.programUpdate(k, v(2), 0, 2)).toBe(0);
      expect(h.backend.lookup(k)).toEqual([zero, zero, v(2), zero]);
      expect(h.programUpdate(k, v(0), 0, 0)).toBe(0);
      expect(h.programUpdate(k, v(3), BPF_UPDATE.EXIST, 3)).toBe(0);
      expect(h.backend.lookup(k)).toEqual([v(0), zero, v(2), v(3)]);
      for (let cpu = 0; cpu < cpus; cpu++) expect(h.programLookup(k, cpu)).toEqual([v(0), zero, v(2), v(3)][cpu]);
      // in-place updates retire nothing
      expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({ linked: 1, retired: 0, free: 7 });
      expect(h.backend.update(k, [v(7)], 0)).toBe(0);
      expect(h.backend.lookup(k)).toEqual([v(7), v(7), v(7), v(7)]);
      const each = [v(10), v(11), v(12), v(13)];
      expect(h.backend.update(k, each, BPF_UPDATE.EXIST)).toBe(0);
      expect(h.backend.lookup(k)).toEqual(each);
      expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({ linked: 1, retired: 1 });
      expect(h.backend.update(k, [v(1), v(2)], 0)).toBe(-ERRNO.EINVAL); // neither one nor cpus values (reclaims first)
      expect(auditHashMap(arena, h.map.header, h.backend)).toMatchObject({ linked: 1, retired: 0, free: 7 });
      const header = BpfMapStruct.view(arena.memory(h.map.header));
      expect(header.get('cpuStride')).toBe(16n);
      expect(header.get('elemSize')).toBe(16 + 8 + 4 * 16);
      expect(header.get('valueOffset')).toBe(24);
    } finally {
      h.close();
    }
  });

  it('never reads a key or value past its last byte (arguments at the very end of the data memory)', () => {
    const [, end] = arena.dataRange;
    const place = (bytes: Uint8Array, atEnd: boolean) => {
      const region = arena.allocData(bytes.length, atEnd ? { at: end - BigInt(bytes.length), align: 1 } : 1);
      arena.write(region.address, bytes);
      return region;
    };
    for (const keySize of KEY_SIZES) {
      for (const type of ['hash', 'percpu_hash'] as const) {
        const valueSize = keySize === 512 ? 4099 : keySize + 2;
        const h = openHashMap(arena, { type, keySize, valueSize, maxEntries: 2 }, 2);
        const map = h.map.header.address;
        const { ops } = h.backend;
        try {
          const key = testKey(3, keySize);
          const value = testValue(3, 0, valueSize);
          // the key at the end
          let k = place(key, true);
          let v = place(value, false);
          expect(h.map.callAs(1, ops.lookup, map, k.address)).toBe(0n);
          expect(h.map.callAs(1, ops.update, map, k.address, v.address, 0)).toBe(0n);
          expect(arena.read(h.map.callAs(1, ops.lookup, map, k.address), valueSize)).toEqual(value);
          arena.free(k);
          arena.free(v);
          // the value at the end
          const value2 = testValue(4, 0, valueSize);
          v = place(value2, true);
          k = place(key, false);
          expect(h.map.callAs(1, ops.update, map, k.address, v.address, BPF_UPDATE.EXIST)).toBe(0n);
          expect(arena.read(h.map.callAs(1, ops.lookup, map, k.address), valueSize)).toEqual(value2);
          arena.free(k);
          arena.free(v);
          // delete with the key at the end
          k = place(key, true);
          expect(h.map.callAs(0, ops.delete, map, k.address)).toBe(0n);
          arena.free(k);
          expect(h.backend.lookup(key)).toBeUndefined();
        } finally {
          h.close();
        }
      }
    }
  });

  it('handles the largest values (64 KiB, and 32 KiB per CPU) with loops', () => {
    const big = openHashMap(arena, { type: 'hash', keySize: 4, valueSize: 65536, maxEntries: 2 });
    try {
      const v = testValue(4, 0, 65536);
      expect(big.backend.update(testKey(0, 4), [v], 0)).toBe(0);
      expect(big.programUpdate(testKey(1, 4), v, 0, 0)).toBe(0);
      expect(big.backend.lookup(testKey(0, 4))).toEqual([v]);
      expect(big.programLookup(testKey(1, 4), 0)).toEqual(v);
    } finally {
      big.close();
    }
    const per = openHashMap(arena, { type: 'percpu_hash', keySize: 4, valueSize: 32767, maxEntries: 1 }, 2);
    try {
      const v = testValue(5, 0, 32767);
      expect(per.programUpdate(testKey(0, 4), v, 0, 1)).toBe(0);
      expect(per.backend.lookup(testKey(0, 4))).toEqual([new Uint8Array(32767), v]);
      expect(per.backend.update(testKey(0, 4), [v], 0)).toBe(0);
      expect(per.programLookup(testKey(0, 4), 0)).toEqual(v);
    } finally {
      per.close();
    }
  });

  it('seeds the hash randomly unless BPF_F_ZERO_SEED, and stores each key hash (checked by the audit)', () => {
    const seeds: number[] = [];
    for (const flags of [BPF_F.ZERO_SEED, 0, 0]) {
      const h = openHashMap(arena, { type: 'hash', keySize: 13, valueSize: 4, maxEntries: 16, flags });
      try {
        seeds.push(BpfMapStruct.view(arena.memory(h.map.header)).get('hashSeed'));
        expect(h.backend.inspect().seed).toBe(seeds[seeds.length - 1]);
        for (let i = 0; i < 16; i++) expect(h.backend.update(testKey(i, 13), [testValue(i, 0, 4)], 0)).toBe(0);
        auditHashMap(arena, h.map.header, h.backend);
      } finally {
        h.close();
      }
    }
    expect(seeds[0]).toBe(0);
    expect(seeds[1]).not.toBe(seeds[2]); // two random 32-bit seeds (equal with probability 2^-32)
  });

  it('reports the arena being too small (ENOMEM) or the pool too large (E2BIG), leaving nothing allocated', () => {
    const before = arena.usage();
    expect(() => openHashMap(arena, { type: 'hash', keySize: 8, valueSize: 65536, maxEntries: 1 << 20 })).toThrow(
      expect.objectContaining({ code: 'E2BIG' }),
    );
    const size = Number(arena.dataRange[1] - arena.dataRange[0]);
    expect(() => openHashMap(arena, { type: 'hash', keySize: 8, valueSize: 4096, maxEntries: Math.ceil(size / 8192) })).toThrow(
      expect.objectContaining({ code: 'ENOMEM' }),
    );
    expect(arena.usage()).toEqual(before);
  });

  it.runIf(name === 'simulated')('preserves rbx, rbp and r12-r15 in every native function', () => {
    const sim = arena as SimulatedArena;
    const h = openHashMap(arena, { type: 'percpu_hash', keySize: 13, valueSize: 24, maxEntries: 4 }, 2);
    const buffer = arena.allocData(1024);
    try {
      const e = h.backend.inspect().entries;
      const { scratch } = h.backend.inspect();
      const key = scratch.address;
      arena.write(key, testKey(1, 13));
      const saved = { rbx: 0x1111n, rbp: 0x2222n, r12: 1n, r13: 0x3333n, r14: 0x4444n, r15: 0x5555n };
      const map = h.map.header.address;
      const out = buffer.address;
      const calls: [bigint, Record<string, bigint>][] = [
        [e.update, { rdi: map, rsi: key, rdx: out, rcx: 0n }],
        [e.lookup, { rdi: map, rsi: key }],
        [e.updateAll, { rdi: map, rsi: key, rdx: out, rcx: 0n }],
        [e.getNextKey, { rdi: map, rsi: key, rdx: out }],
        [e.getNextKey, { rdi: map, rsi: 0n, rdx: out }],
        [e.keys, { rdi: map, rsi: out }],
        [e.detachRetired, { rdi: map, rsi: out }],
        [e.delete, { rdi: map, rsi: key }],
        [e.update, { rdi: map, rsi: key, rdx: out, rcx: 7n }],
      ];
      for (const [entry, args] of calls) {
        const { regs } = sim.run(entry, { ...args, ...saved });
        expect({ rbx: regs.rbx, rbp: regs.rbp, r12: regs.r12, r13: regs.r13, r14: regs.r14, r15: regs.r15 }).toEqual(saved);
      }
    } finally {
      arena.free(buffer);
      h.close();
    }
  });
});
