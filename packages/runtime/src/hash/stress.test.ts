import { emitText, NativeArena, nativeSupported, type Region, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { ERRNO } from '../errors.js';
import { BPF_UPDATE } from '../map-types.js';
import { auditHashMap } from '../test-support/hash-audit.js';
import { type HashHarness, openHashMap } from '../test-support/hash-harness.js';
import { testKey } from '../test-support/hash-model.js';
import { callOnWorker } from '../test-support/native-worker.js';
import { emitStressReader, emitStressWriter, READER_COUNTERS, type StressShape, WRITER_COUNTERS } from '../test-support/stress-loops.js';

const KEYS = 64;
const VALUE_WORDS = 8;

/** A value of key `index`, generation `generation`: every word `generation * KEYS + index`. */
function patternValue(generation: number, index: number): Uint8Array {
  const value = new Uint8Array(VALUE_WORDS * 8);
  const view = new DataView(value.buffer);
  for (let w = 0; w < VALUE_WORDS; w++) view.setBigUint64(w * 8, BigInt(generation) * BigInt(KEYS) + BigInt(index), true);
  return value;
}

interface Rig {
  readonly h: HashHarness;
  readonly keys: Region;
  readonly readerCounters: Region;
  readonly writerCounters: Region;
  readonly valueBuffer: Region;
  readonly reader: bigint;
  readonly writer: bigint;
}

/** A map of KEYS 8-byte keys with 64-byte pattern values, the key array, counters and both loops. */
function rig(arena: TextArena, pace = 512): Rig {
  const h = openHashMap(arena, { type: 'hash', keySize: 8, valueSize: VALUE_WORDS * 8, maxEntries: KEYS });
  const keys = arena.allocData(KEYS * 8);
  for (let i = 0; i < KEYS; i++) arena.write(keys.address + BigInt(i * 8), testKey(i, 8));
  for (let i = 0; i < KEYS; i++) expect(h.backend.update(testKey(i, 8), [patternValue(0, i)], BPF_UPDATE.NOEXIST)).toBe(0);
  const shape: StressShape = { ...h.backend.ops, keys: KEYS, keyStride: 8, valueWords: VALUE_WORDS };
  return {
    h,
    keys,
    readerCounters: arena.allocData(READER_COUNTERS.size),
    writerCounters: arena.allocData(WRITER_COUNTERS.size),
    valueBuffer: arena.allocData(VALUE_WORDS * 8),
    reader: emitText(arena, (buf) => emitStressReader(buf, shape)).address,
    writer: emitText(arena, (buf) => emitStressWriter(buf, shape, ERRNO.ENOMEM, ERRNO.ENOENT, pace)).address,
  };
}

function counters<K extends string>(arena: TextArena, region: Region, layout: Readonly<Record<K | 'size', number>>): Record<K, bigint> {
  const memory = arena.memory(region);
  const out = {} as Record<K, bigint>;
  for (const [name, offset] of Object.entries(layout) as [K | 'size', number][])
    if (name !== 'size') out[name as K] = memory.getU64(offset);
  return out;
}

describe('hash map stress loops on the simulated arena', () => {
  it('the reader detects torn values and values of another key', () => {
    const arena = new SimulatedArena();
    const r = rig(arena);
    const reader = arena.registerReader('sim');
    const value = r.h.map.callAs(0, r.h.backend.ops.lookup, r.h.map.header.address, r.keys.address + 8n);
    arena.write(value + 16n, new Uint8Array(8).fill(0x77)); // key 1: one word differs
    const other = r.h.map.callAs(0, r.h.backend.ops.lookup, r.h.map.header.address, r.keys.address + 16n);
    arena.write(other, patternValue(5, 3).subarray(0, 8)); // key 2: words of key 3
    arena.write(other + 8n, patternValue(5, 3).subarray(8));
    expect(arena.call(r.reader, r.h.map.header.address, r.keys.address, 400, r.readerCounters.address, reader.counterAddress)).toBe(400n);
    const c = counters(arena, r.readerCounters, READER_COUNTERS);
    expect(c.lookups).toBe(400n);
    expect(c.found).toBe(400n);
    expect(c.torn).toBeGreaterThan(0n);
    expect(c.wrongKey).toBeGreaterThan(0n);
    expect(c.batches).toBe(7n); // 6 full batches of 64 and the rest
    reader.offline();
    arena.dispose();
  });

  it('the program-side writer keeps the map consistent (deterministic run)', () => {
    const arena = new SimulatedArena();
    const r = rig(arena, 1);
    arena.call(r.writer, r.h.map.header.address, r.keys.address, 1000, r.writerCounters.address, r.valueBuffer.address, 1);
    const c = counters(arena, r.writerCounters, WRITER_COUNTERS);
    expect(c.errors).toBe(0n);
    expect(c.iterations).toBe(1000n);
    expect(c.enomem).toBe(0n); // no reader online: the map's own reclamation reuses elements at once
    const audit = auditHashMap(arena, r.h.map.header, r.h.backend);
    expect(audit.free + audit.linked + audit.retired + audit.waiting).toBe(2 * KEYS);
    expect(r.h.backend.reclaim()).toBe(0);
    expect(auditHashMap(arena, r.h.map.header, r.h.backend).free).toBe(2 * KEYS - audit.linked);
    arena.dispose();
  });
});

describe('the map\'s own reclamation waits for readers', () => {
  it('with a reader that never reports, a program\'s updates run out of spares; once it reports they go on', () => {
    const arena = new SimulatedArena();
    const r = rig(arena, 1);
    const stalled = arena.registerReader('stalled');
    arena.call(r.writer, r.h.map.header.address, r.keys.address, 1000, r.writerCounters.address, r.valueBuffer.address, 1);
    const before = counters(arena, r.writerCounters, WRITER_COUNTERS);
    expect(before.errors).toBe(0n);
    expect(before.enomem).toBeGreaterThan(0n); // every spare waits for the stalled reader
    const audit = auditHashMap(arena, r.h.map.header, r.h.backend);
    expect(audit.free).toBe(0);
    stalled.quiescent();
    arena.write(r.writerCounters.address, new Uint8Array(WRITER_COUNTERS.size));
    arena.call(r.writer, r.h.map.header.address, r.keys.address, 1000, r.writerCounters.address, r.valueBuffer.address, 1);
    const after = counters(arena, r.writerCounters, WRITER_COUNTERS);
    expect(after.updated).toBeGreaterThan(0n); // the waiting batch came back once the reader reported
    expect(auditHashMap(arena, r.h.map.header, r.h.backend).free + audit.linked).toBeGreaterThan(0);
    stalled.unregister();
    arena.dispose();
  });
});

describe.skipIf(!nativeSupported())('hash map under concurrent native readers and writers', () => {
  it('never shows a torn value or freed memory, and accounts for every element', async () => {
    const UPDATES = 60_000;
    const READER_CAP = 500_000_000; // a safety bound: the reader normally stops at the stop flag
    const WRITER_CAP = 1_000_000_000; // likewise
    const arena = new NativeArena({ textSize: 1 << 20, dataSize: 8 << 20 });
    const r = rig(arena);
    const map = r.h.map.header.address;
    const readerSlot = arena.registerReader('stress-reader');
    const readerMemory = arena.memory(r.readerCounters);
    const writerMemory = arena.memory(r.writerCounters);
    const readerRun = callOnWorker(r.reader, [
      map,
      r.keys.address,
      BigInt(READER_CAP),
      r.readerCounters.address,
      readerSlot.counterAddress,
    ]);
    const writerRun = callOnWorker(r.writer, [
      map,
      r.keys.address,
      BigInt(WRITER_CAP),
      r.writerCounters.address,
      r.valueBuffer.address,
      1n,
    ]);
    const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
    for (
      let i = 0;
      i < 60_000 && (readerMemory.getU64(READER_COUNTERS.batches) === 0n || writerMemory.getU64(WRITER_COUNTERS.iterations) === 0n);
      i++
    )
      await tick();

    let generation = 0;
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    const stats = { updates: 0, deletes: 0, inserts: 0, enomemRetries: 0, lookupsDuring: 0n };
    const lookupsBefore = readerMemory.getU64(READER_COUNTERS.lookups);
    for (let op = 0; op < UPDATES; op++) {
      const index = random() % KEYS;
      const key = testKey(index, 8);
      const choice = random() % 20;
      if (choice < 3) {
        const rc = r.h.backend.delete(key);
        expect([0, -ERRNO.ENOENT]).toContain(rc);
        stats.deletes++;
        continue;
      }
      const flags = choice < 6 ? BPF_UPDATE.NOEXIST : BPF_UPDATE.ANY;
      for (let attempt = 0; ; attempt++) {
        const rc = r.h.backend.update(key, [patternValue(++generation, index)], flags);
        if (rc === -ERRNO.ENOMEM && attempt < 10_000_000) {
          // every spare waits for the reader's next quiescent state (it runs on its own thread)
          stats.enomemRetries++;
          if (attempt % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        expect(flags === BPF_UPDATE.NOEXIST ? [0, -ERRNO.EEXIST] : [0]).toContain(rc);
        if (rc === 0 && flags === BPF_UPDATE.NOEXIST) stats.inserts++;
        else stats.updates++;
        break;
      }
    }
    stats.lookupsDuring = readerMemory.getU64(READER_COUNTERS.lookups) - lookupsBefore;
    readerMemory.setU64(READER_COUNTERS.stop, 1n);
    writerMemory.setU64(WRITER_COUNTERS.stop, 1n);
    await Promise.all([readerRun.done, writerRun.done]);
    readerSlot.offline();

    const reader = counters(arena, r.readerCounters, READER_COUNTERS);
    const writer = counters(arena, r.writerCounters, WRITER_COUNTERS);
    const audit = auditHashMap(arena, r.h.map.header, r.h.backend);
    console.log('hash map stress:', { ...stats, reader, writer, audit: { ...audit, keys: audit.keys.length } });
    expect(reader.torn).toBe(0n);
    expect(reader.wrongKey).toBe(0n);
    expect(reader.found).toBeGreaterThan(0n);
    expect(writer.errors).toBe(0n);
    expect(writer.updated + writer.deleted).toBeGreaterThan(0n);
    expect(audit.free + audit.linked + audit.retired + audit.waiting).toBe(2 * KEYS);
    expect(r.h.backend.reclaim()).toBe(0); // the reader is offline: everything returns
    const settled = auditHashMap(arena, r.h.map.header, r.h.backend);
    expect(settled).toMatchObject({ retired: 0, waiting: 0, free: 2 * KEYS - settled.linked });
    for (const hexKey of settled.keys) {
      const [value] = r.h.backend.lookup(new Uint8Array(Buffer.from(hexKey, 'hex'))) ?? [];
      expect(value).toBeDefined();
      expect(new Set(new BigUint64Array((value as Uint8Array).slice().buffer)).size).toBe(1);
    }
    readerSlot.unregister();
    arena.dispose();
  }, 300_000);
});
