import { type ArenaUsage, emitText, NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { alu, imul, mov, ret, shift } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { u32, u64 } from './codec.js';
import { RuntimeError } from './errors.js';
import { BPF_FUNC } from './helpers.js';
import type { BpfMap } from './map.js';
import { BpfMapStruct } from './map-struct.js';
import { BPF_F, type MapDefinition, type MapTypeName } from './map-types.js';
import { type BpfRuntime, createRuntime, MAX_CPUS, runtimeOf } from './runtime.js';
import { ARENAS } from './test-support/arenas.js';
import { XDP_CONTEXT } from './xdp-context.js';

const TYPES: readonly MapTypeName[] = ['array', 'percpu_array', 'hash', 'percpu_hash'];
const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const le64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);

function expectCode(fn: () => unknown, code: string): RuntimeError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(RuntimeError.isInstance(thrown), `expected a RuntimeError ${code}, got ${String(thrown)}`).toBe(true);
  expect((thrown as RuntimeError).code, (thrown as Error).message).toBe(code);
  return thrown as RuntimeError;
}

/** Await up to `rounds` grace periods until the arena's usage equals `want` (frees happen after one). */
async function settle(arena: TextArena, want: ArenaUsage, rounds = 10): Promise<ArenaUsage> {
  for (let i = 0; i < rounds && JSON.stringify(arena.usage()) !== JSON.stringify(want); i++) await arena.synchronize();
  return arena.usage();
}

/** Arenas made by a test, disposed after it. */
const made: { arena: TextArena; runtime?: BpfRuntime }[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const { arena, runtime } of made.splice(0)) {
    runtime?.dispose();
    arena.dispose();
  }
});

describe.each(ARENAS)('BpfRuntime on the $name arena', ({ create }) => {
  const fresh = (cpus?: number) => {
    const arena = create();
    const runtime = createRuntime(arena, cpus === undefined ? {} : { cpus });
    made.push({ arena, runtime });
    return { arena, runtime };
  };

  describe('createRuntime / runtimeOf', () => {
    it('one runtime per arena: the same CPU count (or none) gives it back, another is EBUSY', () => {
      const arena = create();
      made.push({ arena });
      const runtime = createRuntime(arena, { cpus: 3 });
      expect(runtime.cpus).toBe(3);
      expect(runtime.arena).toBe(arena);
      expect(createRuntime(arena, { cpus: 3 })).toBe(runtime);
      expect(createRuntime(arena)).toBe(runtime);
      expect(runtimeOf(arena)).toBe(runtime);
      expectCode(() => createRuntime(arena, { cpus: 2 }), 'EBUSY');
      expectCode(() => createRuntime(arena, { cpus: 4 }), 'EBUSY');
      runtime.dispose();
      expect(runtime.disposed).toBe(true);
      // after dispose the arena gets a new runtime, with any CPU count
      const next = createRuntime(arena, { cpus: 2 });
      expect(next).not.toBe(runtime);
      expect(runtimeOf(arena)).toBe(next);
      next.dispose();
    });

    it('runtimeOf creates one with the machine\'s CPU count (at most MAX_CPUS)', () => {
      const arena = create();
      made.push({ arena });
      const runtime = runtimeOf(arena);
      expect(runtime.cpus).toBeGreaterThanOrEqual(1);
      expect(runtime.cpus).toBeLessThanOrEqual(MAX_CPUS);
      expect(runtimeOf(arena)).toBe(runtime);
      runtime.dispose();
    });

    it('refuses bad arguments (EINVAL) and disposed arenas (DISPOSED)', () => {
      const arena = create();
      made.push({ arena });
      for (const cpus of [0, -1, MAX_CPUS + 1, 1.5, Number.NaN, '2', 2n]) expectCode(() => createRuntime(arena, { cpus: cpus as number }), 'EINVAL');
      expectCode(() => createRuntime(arena, null as never), 'EINVAL');
      expectCode(() => createRuntime(arena, 3 as never), 'EINVAL');
      for (const notArena of [null, undefined, {}, { alloc() {} }, 'arena']) {
        expectCode(() => createRuntime(notArena as never), 'EINVAL');
        expectCode(() => runtimeOf(notArena as never), 'EINVAL');
      }
      const gone = create();
      gone.dispose();
      expectCode(() => createRuntime(gone), 'DISPOSED');
      expectCode(() => runtimeOf(gone), 'DISPOSED');
    });

    it('leaves nothing allocated once disposed, maps included', async () => {
      const arena = create();
      made.push({ arena });
      const before = arena.usage();
      const runtime = createRuntime(arena, { cpus: 2 });
      for (const type of TYPES) runtime.createMap({ type, keySize: 4, valueSize: 8, maxEntries: 4 }).update(1, le64(1n));
      runtime.dispose();
      runtime.dispose(); // idempotent
      expect(await settle(arena, before)).toEqual(before);
    });
  });

  describe.each([1, 2, 3, 4])('with %i CPU(s)', (cpus) => {
    it('per-CPU maps keep one copy per CPU, get_smp_processor_id answers each CPU', () => {
      const { runtime } = fresh(cpus);
      expect(runtime.cpus).toBe(cpus);
      const counts = runtime.createMap({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2 });
      const hash = runtime.createMap({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 2 });
      expect([counts.cpus, hash.cpus, counts.userValueSize, hash.userValueSize]).toEqual([cpus, cpus, 8 * cpus, 8 * cpus]);
      counts.typed(u32, u64).set(
        1,
        Array.from({ length: cpus }, (_, c) => BigInt(c + 1)),
      );
      expect(counts.typed(u32, u64).get(1)).toBe(BigInt((cpus * (cpus + 1)) / 2));
      hash.update(7, le32(5));
      expect(hash.lookupPerCpu(7)).toEqual(Array.from({ length: cpus }, () => le32(5)));
      // the kernel's user-space format, also with one CPU: 8-byte slots, padding zero
      const user = new Uint8Array(8 * cpus);
      for (let c = 0; c < cpus; c++) user.set(le32(5), 8 * c);
      expect(hash.lookup(7)).toEqual(user);
      user.set(le32(6), 0);
      hash.update(7, user);
      expect(hash.lookupPerCpu(7)?.[0]).toEqual(le32(6));
      for (let cpu = 0; cpu < cpus; cpu++) expect(runtime.cpuCall(cpu, runtime.helpers.get(BPF_FUNC.get_smp_processor_id) as bigint)).toBe(BigInt(cpu));
      expectCode(() => runtime.cpuCall(cpus, runtime.helpers.get(BPF_FUNC.get_smp_processor_id) as bigint), 'EINVAL');
      expect(runtime.jitOptions().cpus).toBe(cpus);
      void counts.dispose();
      void hash.dispose();
    });
  });

  describe('createMap', () => {
    it('refuses bad definitions with EINVAL / UNSUPPORTED, leaving nothing allocated', () => {
      const { arena, runtime } = fresh(2);
      const before = arena.usage();
      const ok: MapDefinition = { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 };
      const cases: [unknown, string][] = [
        [null, 'EINVAL'],
        [42, 'EINVAL'],
        [{ ...ok, type: 'lru_hash' }, 'UNSUPPORTED'],
        [{ ...ok, type: 'toString' }, 'UNSUPPORTED'],
        [{ ...ok, type: 1 }, 'UNSUPPORTED'],
        [{ ...ok, type: 'array', keySize: 8 }, 'EINVAL'],
        [{ ...ok, type: 'percpu_array', keySize: 2 }, 'EINVAL'],
        [{ ...ok, keySize: 0 }, 'EINVAL'],
        [{ ...ok, keySize: 513 }, 'EINVAL'],
        [{ ...ok, keySize: 4.5 }, 'EINVAL'],
        [{ ...ok, valueSize: 0 }, 'EINVAL'],
        [{ ...ok, valueSize: 65537 }, 'EINVAL'],
        [{ ...ok, type: 'percpu_hash', valueSize: 32769 }, 'EINVAL'],
        [{ ...ok, type: 'percpu_array', valueSize: 32769 }, 'EINVAL'],
        [{ ...ok, maxEntries: 0 }, 'EINVAL'],
        [{ ...ok, maxEntries: 2 ** 32 }, 'EINVAL'],
        [{ ...ok, maxEntries: '4' }, 'EINVAL'],
        [{ ...ok, flags: -1 }, 'EINVAL'],
        [{ ...ok, flags: 0x2 }, 'UNSUPPORTED'],
        [{ ...ok, flags: BPF_F.WRONLY_PROG }, 'UNSUPPORTED'],
        [{ ...ok, type: 'array', flags: BPF_F.NO_PREALLOC }, 'EINVAL'],
        [{ ...ok, type: 'array', flags: BPF_F.ZERO_SEED }, 'EINVAL'],
        [{ ...ok, flags: BPF_F.MMAPABLE }, 'EINVAL'],
        [{ ...ok, name: 'x'.repeat(65) }, 'EINVAL'],
        [{ ...ok, name: 'café' }, 'EINVAL'],
        [{ ...ok, name: 'a\nb' }, 'EINVAL'],
        [{ ...ok, name: 42 }, 'EINVAL'],
      ];
      for (const [def, code] of cases) expectCode(() => runtime.createMap(def as MapDefinition), code);
      expect(arena.usage()).toEqual(before);
      // the limits themselves are fine
      const edge = [
        runtime.createMap({ ...ok, keySize: 512, name: 'x'.repeat(64) }),
        runtime.createMap({ ...ok, type: 'percpu_hash', valueSize: 32768, maxEntries: 1 }),
        runtime.createMap({ type: 'array', keySize: 4, valueSize: 65536, maxEntries: 1, flags: BPF_F.MMAPABLE | BPF_F.RDONLY_PROG }),
        runtime.createMap({ ...ok, flags: BPF_F.NO_PREALLOC | BPF_F.ZERO_SEED }),
        runtime.createMap({ ...ok, name: '' }),
      ];
      expect(edge.map((m) => m.name)).toEqual(['x'.repeat(64), 'percpu_hash', 'array', 'hash', '']);
      for (const m of edge) void m.dispose();
    });

    it('E2BIG beyond 1 GiB of values, ENOMEM (a RuntimeError) when the arena is full; nothing stays allocated', () => {
      const { arena, runtime } = fresh(2);
      const before = arena.usage();
      expectCode(() => runtime.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 2 ** 27 + 1 }), 'E2BIG');
      expectCode(() => runtime.createMap({ type: 'percpu_array', keySize: 4, valueSize: 4096, maxEntries: 2 ** 18 + 1 }), 'E2BIG');
      const room = Number(arena.dataRange[1] - arena.dataRange[0]);
      for (const type of TYPES) expectCode(() => runtime.createMap({ type, keySize: 4, valueSize: 4096, maxEntries: Math.ceil(room / 4096) }), 'ENOMEM');
      expect(arena.usage()).toEqual(before);
    });

    it('fills the header and hands out increasing fds; mapByFd finds live maps only', async () => {
      const { arena, runtime } = fresh(2);
      const maps = TYPES.map((type, i) => runtime.createMap({ type, keySize: 4, valueSize: 12, maxEntries: 3 + i, flags: type.includes('hash') ? BPF_F.ZERO_SEED : 0, name: `m${i}` }));
      const fds = maps.map((m) => m.fd);
      expect(fds).toEqual([...fds].sort((a, b) => a - b));
      expect(new Set(fds).size).toBe(4);
      for (const [i, m] of maps.entries()) {
        const bytes = arena.read(m.address, BpfMapStruct.size);
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        const o = BpfMapStruct.offsets;
        expect([view.getUint32(o.type, true), view.getUint32(o.keySize, true), view.getUint32(o.valueSize, true), view.getUint32(o.maxEntries, true), view.getUint32(o.cpus, true), view.getUint32(o.id, true)]).toEqual([
          [2, 6, 1, 5][i],
          4,
          12,
          3 + i,
          2,
          m.fd,
        ]);
        expect(view.getUint32(o.flags, true)).toBe(m.flags);
        expect(m.address % 64n).toBe(0n);
        expect(runtime.mapByFd(m.fd)).toBe(m);
      }
      await maps[0]?.dispose();
      expect(runtime.mapByFd(fds[0] as number)).toBeUndefined();
      expect(runtime.mapByFd(9999)).toBeUndefined();
      const next = runtime.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
      expect(next.fd).toBeGreaterThan(Math.max(...fds)); // fds are not reused
      for (const m of [...maps, next]) await m.dispose();
    });
  });

  describe('verifyOptions / jitOptions', () => {
    it('describe the given maps by fd for the verifier and the JIT', () => {
      const { runtime } = fresh(2);
      const array = runtime.createMap({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 8 });
      const hash = runtime.createMap({ type: 'hash', keySize: 8, valueSize: 4, maxEntries: 8 });
      const rodata = runtime.createMap({ type: 'array', keySize: 4, valueSize: 32, maxEntries: 1, flags: BPF_F.RDONLY_PROG });
      const frozen = runtime.createMap({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2 });
      frozen.freeze();
      const v = runtime.verifyOptions([array, hash, rodata, frozen]).maps;
      expect(v.get(array.fd)).toMatchObject({ keySize: 4, valueSize: 16, directValue: true, readonly: false });
      expect(v.get(hash.fd)).toMatchObject({ keySize: 8, valueSize: 4, directValue: false, readonly: false });
      expect(v.get(rodata.fd)).toMatchObject({ directValue: true, readonly: true }); // read-only for programs from the start
      expect(v.get(frozen.fd)).toMatchObject({ directValue: true, readonly: true });
      expect(runtime.verifyOptions().maps.size).toBe(0);
      const j = runtime.jitOptions([array, hash]);
      expect(j.cpus).toBe(2);
      expect(j.context).toBe(XDP_CONTEXT);
      expect(j.helpers).toBe(runtime.helpers);
      expect([...j.maps.keys()]).toEqual([array.fd, hash.fd]);
      expect(j.maps.get(array.fd)).toEqual(array.jitInfo());
      expect(j.maps.get(hash.fd)).toMatchObject({ address: hash.address });
      expect(j.maps.get(hash.fd)?.inlineLookup).toBeUndefined();
      expect(j.maps.get(hash.fd)?.directValue).toBeUndefined();
    });

    it('refuse maps of another runtime (EINVAL) and disposed maps', async () => {
      const one = fresh(2);
      const two = fresh(2);
      const foreign = two.runtime.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      const mine = one.runtime.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      expect(foreign.fd).toBe(mine.fd); // same fd, different runtime
      expectCode(() => one.runtime.jitOptions([foreign]), 'EINVAL');
      expectCode(() => one.runtime.verifyOptions([mine, foreign]), 'EINVAL');
      await mine.dispose();
      expectCode(() => one.runtime.jitOptions([mine]), 'EINVAL');
      expectCode(() => one.runtime.verifyOptions([mine]), 'EINVAL');
    });
  });

  describe('cpuCall / userCall', () => {
    it('pass the arguments and the CPU in r12; cpuCall checks the CPU and takes at most four arguments', () => {
      const { arena, runtime } = fresh(4);
      // rax = rdi + 2 rsi + 3 rdx + 4 rcx (+ 5 r8) + (r12 << 40)
      const weighted = (args: number) =>
        emitText(arena, (b) => {
          mov(b, 'rax', 'rdi');
          for (const [reg, k] of (
            [
              ['rsi', 2],
              ['rdx', 3],
              ['rcx', 4],
              ['r8', 5],
            ] as const
          ).slice(0, args - 1)) {
            imul(b, 'r9', reg, k);
            alu(b, 'add', 'rax', 'r9');
          }
          mov(b, 'r9', 'r12');
          shift(b, 'shl', 'r9', 40);
          alu(b, 'add', 'rax', 'r9');
          ret(b);
        });
      const four = weighted(4);
      const fn = weighted(5);
      try {
        for (let cpu = 0; cpu < 4; cpu++) expect(runtime.cpuCall(cpu, four.address, 1, 10, 100, 1000)).toBe(1n + 20n + 300n + 4000n + (BigInt(cpu) << 40n));
        expect(runtime.cpuCall(2, four.address)).toBe(2n << 40n);
        expect(runtime.userCall(fn.address, 1, 10, 100, 1000, 10000)).toBe(1n + 20n + 300n + 4000n + 50000n);
        for (const cpu of [-1, 4, 1.5, Number.NaN, '1', 1n]) expectCode(() => runtime.cpuCall(cpu as number, fn.address), 'EINVAL');
        expectCode(() => runtime.cpuCall(0, fn.address, 1, 2, 3, 4, 5), 'EINVAL');
      } finally {
        arena.free(fn);
        arena.free(four);
      }
    });
  });

  describe('dispose', () => {
    it('makes the runtime and its maps unusable (DISPOSED), and is idempotent', () => {
      const { runtime } = fresh(2);
      const map = runtime.createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
      const ktime = runtime.helpers.get(BPF_FUNC.ktime_get_ns) as bigint;
      runtime.dispose();
      runtime.dispose();
      expect(runtime.disposed).toBe(true);
      expect(map.disposed).toBe(true);
      expectCode(() => map.lookup(1), 'DISPOSED');
      expectCode(() => runtime.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 }), 'DISPOSED');
      expectCode(() => runtime.cpuCall(0, ktime), 'DISPOSED');
      expectCode(() => runtime.userCall(ktime), 'DISPOSED');
      expectCode(() => runtime.jitOptions(), 'DISPOSED');
      expectCode(() => runtime.verifyOptions(), 'DISPOSED');
      expect(() => runtime.reclaim()).not.toThrow();
    });

    it('a disposed arena makes the runtime\'s calls DISPOSED', () => {
      const arena = create();
      const runtime = createRuntime(arena, { cpus: 1 });
      const map = runtime.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
      arena.dispose();
      expectCode(() => runtime.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 }), 'DISPOSED');
      expectCode(() => runtime.userCall(runtime.helpers.get(BPF_FUNC.ktime_get_ns) as bigint), 'DISPOSED');
      expectCode(() => map.lookup(0), 'DISPOSED');
      expect(() => runtime.reclaim()).not.toThrow();
      expect(() => runtime.dispose()).not.toThrow();
    });
  });

  describe('releasing maps', () => {
    it('a disposed map is freed only after a grace period: never while a reader has not passed a quiescent state', async () => {
      const { arena, runtime } = fresh(2);
      const base = arena.usage();
      const map = runtime.createMap({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 16 });
      const withMap = arena.usage();
      const reader = arena.registerReader('test reader');
      try {
        let freed = false;
        const done = map.dispose().then(() => {
          freed = true;
        });
        for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(freed).toBe(false);
        expect(arena.usage()).toEqual(withMap);
        reader.quiescent();
        await done;
        expect(freed).toBe(true);
        expect(arena.usage().data.used).toBeLessThan(withMap.data.used);
      } finally {
        reader.unregister();
      }
      expect(await settle(arena, base)).toEqual(base);
    });

    it('hold() keeps the memory after dispose until the last hold is released; releases are idempotent', async () => {
      const { arena, runtime } = fresh(2);
      const base = arena.usage();
      const map = runtime.createMap({ type: 'array', keySize: 4, valueSize: 64, maxEntries: 4 });
      const withMap = arena.usage();
      const first = map.hold();
      const second = map.hold();
      await map.dispose(); // resolves at once: programs still hold the map
      expectCode(() => map.hold(), 'DISPOSED');
      expect(arena.usage()).toEqual(withMap);
      await first();
      await first();
      expect(arena.usage()).toEqual(withMap);
      await second();
      expect(arena.usage()).toEqual(base);
      await second();
      // a hold released before dispose: dispose frees
      const other = runtime.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
      await other.hold()();
      expect(arena.usage().data.used).toBeGreaterThan(base.data.used);
      await other.dispose();
      expect(arena.usage()).toEqual(base);
    });

    it('create/use/dispose loops keep the arena usage flat, every map type', async () => {
      const { arena, runtime } = fresh(3);
      const base = arena.usage();
      for (let round = 0; round < 25; round++) {
        const maps: BpfMap[] = TYPES.map((type) => runtime.createMap({ type, keySize: 4, valueSize: 8 + round, maxEntries: 1 + (round % 7) }));
        for (const m of maps) {
          m.update(0, new Uint8Array(m.valueSize).fill(round));
          if (m.type.endsWith('hash')) {
            m.update(0, new Uint8Array(m.valueSize).fill(round + 1)); // a replaced element waits for a grace period
            m.delete(0);
          }
        }
        await Promise.all(maps.map((m) => m.dispose()));
        expect(arena.usage(), `round ${round}`).toEqual(base);
      }
    });
  });

  describe('background reclamation', () => {
    it('a timer runs while a hash map exists: it returns replaced elements to the map without TypeScript touching it', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const { arena, runtime } = fresh(1);
      expect(vi.getTimerCount()).toBe(0);
      const array = runtime.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      expect(vi.getTimerCount()).toBe(0); // arrays reclaim nothing
      const hash = runtime.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1 });
      expect(vi.getTimerCount()).toBe(1);
      const second = runtime.createMap({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 1 });
      expect(vi.getTimerCount()).toBe(1); // one timer per runtime
      // programs replace the one entry again and again
      const scratch = arena.allocData(16, 8);
      const update = hash.jitInfo().ops.update;
      const retired = () => {
        const b = arena.read(hash.address + BigInt(BpfMapStruct.offsets.retiredCount), 4);
        return new DataView(b.buffer, b.byteOffset).getUint32(0, true);
      };
      const replace = () => runtime.cpuCall(0, update, hash.address, scratch.address, scratch.address + 8n, 0);
      try {
        arena.write(scratch.address, new Uint8Array(16));
        expect(replace()).toBe(0n);
        expect(replace()).toBe(0n); // the first element retires
        expect(retired()).toBe(1);
        // the timer returns it to the map with no TypeScript call and no update
        vi.advanceTimersByTime(19);
        expect(retired()).toBe(1); // not yet: every 20 ms
        vi.advanceTimersByTime(1);
        expect(retired()).toBe(0);
        expect(replace()).toBe(0n);
        expect(retired()).toBe(1);
        runtime.reclaim(); // the same, on demand
        expect(retired()).toBe(0);
        // both spares in use (one linked, one retired) and a reader that never reports: a third update has no element
        const stalled = arena.registerReader('stalled');
        expect(replace()).toBe(0n);
        expect(BigInt.asIntN(64, replace())).toBe(-12n); // the map's own reclamation waits for the reader
        vi.advanceTimersByTime(20);
        expect(BigInt.asIntN(64, replace())).toBe(-12n); // so does the timer's
        stalled.quiescent();
        expect(replace()).toBe(0n); // the map's own reclamation, at the update: the reader has passed a quiescent state
        stalled.unregister();
      } finally {
        arena.free(scratch);
      }
      await hash.dispose();
      expect(vi.getTimerCount()).toBe(1);
      await second.dispose();
      expect(vi.getTimerCount()).toBe(0); // no hash map left
      await array.dispose();
      runtime.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1 });
      expect(vi.getTimerCount()).toBe(1);
      runtime.dispose();
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});

describe.skipIf(!nativeSupported())('the runtime of a native and a simulated arena side by side', () => {
  it('keeps separate runtimes, maps and fds per arena', () => {
    const native = new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 });
    const sim = new SimulatedArena();
    made.push({ arena: native }, { arena: sim });
    const a = createRuntime(native, { cpus: 2 });
    const b = createRuntime(sim, { cpus: 3 });
    expect(a).not.toBe(b);
    const ma = a.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
    const mb = b.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(ma.fd).toBe(mb.fd);
    expect(a.mapByFd(ma.fd)).toBe(ma);
    expect(b.mapByFd(mb.fd)).toBe(mb);
    a.dispose();
    b.dispose();
  });
});
