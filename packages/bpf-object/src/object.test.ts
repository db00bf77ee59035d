/**
 * BpfObject / ObjectMap / ObjectProgram: open → adjust → load → run → close, against the
 * fixtures (fixtures/*.bpf.c), on both arenas.
 */
import { type JitProgram, VerifierError } from '@bpf-dispatcher/ebpf';
import { type BpfRuntime, createRuntime, u32, u64, XdpBuffStruct } from '@bpf-dispatcher/runtime';
import { type ArenaUsage, NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BpfObject, openObject, openObjectFile } from './object.js';
import { expectError } from './test-support/expect-error.js';
import { type FixtureName, fixture } from './test-support/fixtures.js';

const ARENAS: readonly { name: string; create: () => TextArena }[] = [
  { name: 'simulated', create: () => new SimulatedArena({ textSize: 4 << 20, dataSize: 4 << 20 }) },
  ...(nativeSupported() ? [{ name: 'native', create: () => new NativeArena({ textSize: 4 << 20, dataSize: 8 << 20 }) }] : []),
];
const XDP_DROP = 1n;
const XDP_PASS = 2n;
const CPUS = 2;

const open = (name: FixtureName) => openObject(fixture(name), { name });
const le = (bytes: Uint8Array) => {
  const padded = new Uint8Array(8);
  padded.set(bytes.subarray(0, 8));
  return new DataView(padded.buffer).getBigUint64(0, true);
};

/** Await grace periods (a bounded number) until the arena's usage is `want` (memory is freed after one). */
async function settle(arena: TextArena, want: ArenaUsage, rounds = 10): Promise<ArenaUsage> {
  for (let i = 0; i < rounds && JSON.stringify(arena.usage()) !== JSON.stringify(want); i++) await arena.synchronize();
  return arena.usage();
}

describe.each(ARENAS)('BpfObject on the $name arena', ({ create }) => {
  let arena: TextArena;
  let runtime: BpfRuntime;
  /** Usage with the runtime in place and no object loaded. */
  let base: ArenaUsage;
  const loaded: BpfObject[] = [];
  const load = (obj: BpfObject) => {
    loaded.push(obj);
    return obj.load(arena);
  };

  /** Run an XDP program on a packet of `length` bytes in a fresh xdp_buff. */
  const xdp = (prog: JitProgram, o: { rxq?: number; ifindex?: number; cpu?: number; length?: number } = {}): bigint => {
    const frame = arena.allocData(2048, 64);
    const buff = arena.allocData(XdpBuffStruct.size, 64);
    try {
      const view = XdpBuffStruct.view(arena.memory(buff));
      const data = frame.address + 256n;
      view.set('data', data);
      view.set('dataEnd', data + BigInt(o.length ?? 64));
      view.set('dataMeta', data);
      view.set('dataHardStart', frame.address);
      view.set('frameSize', 2048);
      view.set('rxQueueIndex', o.rxq ?? 0);
      view.set('ingressIfindex', o.ifindex ?? 1);
      view.set('cpu', o.cpu ?? 0);
      return arena.call(prog.bpfFunc, buff.address);
    } finally {
      arena.free(buff);
      arena.free(frame);
    }
  };

  beforeAll(() => {
    arena = create();
    runtime = createRuntime(arena, { cpus: CPUS });
    base = arena.usage();
  });
  afterAll(async () => {
    await Promise.all(loaded.map((o) => o.close()));
    runtime.dispose();
    arena.dispose();
  });

  describe('open', () => {
    it('lists programs and maps by name; unknown names are ENOENT; nothing is created yet', () => {
      const obj = open('btf-maps');
      expect(obj.state).toBe('opened');
      expect(obj.name).toBe('btf-maps');
      expect(obj.license).toBe('GPL');
      expect(obj.programs.map((p) => [p.name, p.section, p.type, p.autoload])).toEqual([['count_packets', 'xdp', 'xdp', true]]);
      expect(obj.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.origin])).toEqual([
        ['stats', 'percpu_array', 4, 24, 4, 0, 'btf'],
        ['counters', 'array', 4, 8, 16, 0, 'btf'],
        ['percpu_flows', 'percpu_hash', 8, 4, 64, 0, 'btf'],
        ['flows', 'hash', 4, 24, 1024, 1, 'btf'],
      ]);
      expect(obj.program('count_packets')).toBe(obj.programs[0]);
      expect(obj.map('flows')).toBe(obj.maps[3]);
      expectError(() => obj.program('nope'), 'ENOENT', /count_packets/);
      expectError(() => obj.map('nope'), 'ENOENT', /stats, counters, percpu_flows, flows/);
      expect(arena.usage()).toEqual(base);
      expect(obj.timings.parseMs).toBeGreaterThanOrEqual(0);
      expect([obj.timings.mapsMs, obj.timings.verifyMs, obj.timings.jitMs]).toEqual([0, 0, 0]);
      expect(openObjectFile(new URL('../fixtures/subprograms.bpf.o', import.meta.url)).name).toBe('subprograms.bpf.o');
      expectError(() => openObjectFile('/nonexistent/x.bpf.o'), 'EINVAL', /cannot read/);
      expectError(() => openObject(fixture('btf-maps'), null as never), 'EINVAL');
      expectError(() => openObject(fixture('btf-maps'), { name: 5 as never }), 'EINVAL');
    });
  });

  describe('adjust, then load', () => {
    it('creates every map with the adjusted definition; programs run against them', async () => {
      const obj = open('btf-maps');
      obj.map('counters').setMaxEntries(32);
      obj.map('counters').setValueSize(16);
      obj.map('flows').setMaxEntries(10);
      expect([obj.map('counters').maxEntries, obj.map('counters').valueSize, obj.map('flows').maxEntries]).toEqual([32, 16, 10]);
      load(obj);
      expect(obj.state).toBe('loaded');
      const counters = obj.map('counters').map;
      expect([counters.type, counters.maxEntries, counters.valueSize]).toEqual(['array', 32, 16]);
      expect([obj.map('flows').map.maxEntries, obj.map('flows').map.flags]).toEqual([10, 1]);
      expect([obj.map('stats').map.type, obj.map('stats').map.cpus]).toEqual(['percpu_array', CPUS]);
      const prog = obj.program('count_packets').jit;
      expect(xdp(prog, { rxq: 1, cpu: 0, length: 60 })).toBe(XDP_DROP); // no flow yet
      expect(xdp(prog, { rxq: 5, cpu: 1, length: 100 })).toBe(XDP_DROP); // key 5 & 3 = 1, on CPU 1
      obj.map('flows').map.update(1, new Uint8Array(24));
      expect(xdp(prog, { rxq: 1, cpu: 1, length: 40 })).toBe(XDP_PASS);
      // stats: per-CPU, { rx_packets, rx_bytes } at the start of each value
      const stats = obj.map('stats').map.lookupPerCpu(1) as Uint8Array[];
      expect(stats.map((v) => [le(v.subarray(0, 8)), le(v.subarray(8, 16))])).toEqual([
        [1n, 60n],
        [2n, 140n],
      ]);
      expect(counters.typed(u32, u64).get(1)).toBe(3n);
      expect(obj.map('percpu_flows').map.typed(u64, u32).getPerCpu(1n)).toEqual([1, 1]);
      expect(obj.program('count_packets').verified.mapFds.length).toBe(4);
      expect(obj.timings.verifyMs).toBeGreaterThan(0);
      expect(obj.timings.jitMs).toBeGreaterThan(0);
      expect(obj.timings.mapsMs).toBeGreaterThanOrEqual(0);
      await obj.close();
      expect(await settle(arena, base)).toEqual(base);
    });

    it('setMaxEntries / setValueSize refuse global data and bad numbers (EINVAL), and any change after load (STATE)', async () => {
      const data = open('global-data');
      for (const name of ['.data', '.rodata', '.bss']) {
        expectError(() => data.map(name).setMaxEntries(2), 'EINVAL', /exactly one entry/);
        expectError(() => data.map(name).setValueSize(64), 'EINVAL');
      }
      const obj = open('btf-maps');
      for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN, '4', 4n]) expectError(() => obj.map('flows').setMaxEntries(bad as number), 'EINVAL');
      for (const bad of [0, 65537, 2.5, '8', null]) expectError(() => obj.map('flows').setValueSize(bad as number), 'EINVAL');
      expect([obj.map('flows').maxEntries, obj.map('flows').valueSize]).toEqual([1024, 24]);
      load(obj);
      expectError(() => obj.map('flows').setMaxEntries(2), 'STATE');
      expectError(() => obj.map('flows').setValueSize(8), 'STATE');
      expectError(() => obj.program('count_packets').setAutoload(false), 'STATE');
      await obj.close();
      expect(await settle(arena, base)).toEqual(base);
    });

    it('a value size the program does not fit is a VERIFY error naming program and section; fixed, the object loads', async () => {
      const obj = open('btf-maps');
      obj.map('stats').setValueSize(8); // the program writes rx_bytes at offset 8
      const err = expectError(() => obj.load(arena), 'VERIFY', /count_packets in section xdp/);
      expect(err.cause).toBeInstanceOf(VerifierError);
      expect((err.cause as VerifierError).reason).toMatch(/invalid access to map value, value_size=8/);
      expect([err.section, err.symbol]).toEqual(['xdp', 'count_packets']);
      expect(obj.state).toBe('opened');
      expectError(() => obj.map('stats').map, 'STATE');
      expect(await settle(arena, base)).toEqual(base);
      obj.map('stats').setValueSize(24);
      load(obj);
      expect(obj.map('stats').map.valueSize).toBe(24);
      await obj.close();
      expect(await settle(arena, base)).toEqual(base);
    });

    it('a definition the runtime refuses at load is EINVAL naming the map; nothing stays allocated', async () => {
      const obj = open('btf-maps');
      obj.map('stats').setValueSize(40000); // beyond the per-CPU limit of 32 KiB
      const err = expectError(() => obj.load(arena), 'EINVAL', /map stats in section \.maps/);
      expect(err.symbol).toBe('stats');
      expect(obj.state).toBe('opened');
      expect(await settle(arena, base)).toEqual(base);
    });

    it('setAutoload picks the programs to load; the others have no code (STATE, saying why)', async () => {
      const obj = open('subprograms');
      expect(obj.programs.map((p) => p.name)).toEqual(['prog_a', 'prog_b', 'prog_c', 'prog_d']);
      obj.program('prog_b').setAutoload(false);
      obj.program('prog_d').setAutoload(false);
      obj.program('prog_d').setAutoload(true);
      obj.program('prog_c').setAutoload(false);
      for (const bad of [0, 'false', null, undefined]) expectError(() => obj.program('prog_a').setAutoload(bad as unknown as boolean), 'EINVAL');
      load(obj);
      expect(obj.programs.map((p) => p.autoload)).toEqual([true, false, false, true]);
      // prog_a: middle(rxq) & 3 = (3x+1 + 3(x+1)+1) & 3; prog_d: XDP_PASS
      expect(xdp(obj.program('prog_a').jit, { rxq: 2 })).toBe(BigInt((3 * 2 + 1 + 3 * 3 + 1) & 3));
      expect(xdp(obj.program('prog_d').jit)).toBe(XDP_PASS);
      expectError(() => obj.program('prog_b').jit, 'STATE', /autoload is off/);
      expectError(() => obj.program('prog_c').verified, 'STATE');
      await obj.close();
      expect(await settle(arena, base)).toEqual(base);
    });
  });

  describe('global data', () => {
    it('setVariable takes numbers and bigints of the variable\'s size (two\'s complement) and bytes of exactly its size', () => {
      const obj = open('global-data');
      const data = obj.map('.data');
      data.setVariable('packets', (1n << 64n) - 1n);
      expect(data.getVariable('packets')).toEqual(new Uint8Array(8).fill(0xff));
      data.setVariable('packets', -2);
      expect(data.getVariable('packets')).toEqual(Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
      data.setVariable('drops', 0xffff_ffff);
      data.setVariable('drops', -(2 ** 31));
      expect(data.getVariable('drops')).toEqual(Uint8Array.of(0, 0, 0, 0x80));
      data.setVariable('hidden_counter', Uint8Array.of(1, 2, 3, 4)); // static variables too
      expect(data.initialValue().subarray(12, 16)).toEqual(Uint8Array.of(1, 2, 3, 4));
      const bss = obj.map('.bss');
      bss.setVariable('more_zeroed', new Uint8Array(16).fill(9));
      expect(bss.getVariable('more_zeroed')).toEqual(new Uint8Array(16).fill(9));
      expect(bss.getVariable('zeroed')).toEqual(new Uint8Array(8)); // neighbours untouched
      const bad: [string, string, unknown, RegExp][] = [
        ['.data', 'drops', 2 ** 32, /does not fit 4 bytes/],
        ['.data', 'drops', -(2 ** 31) - 1, /does not fit/],
        ['.data', 'drops', 1.5, /takes 4 bytes or an integer/],
        ['.data', 'drops', Number.NaN, /takes/],
        ['.data', 'drops', '7', /takes/],
        ['.data', 'drops', null, /takes/],
        ['.data', 'drops', Uint8Array.of(1, 2, 3), /expected 4 bytes, got 3/],
        ['.data', 'packets', 1n << 64n, /does not fit 8 bytes/],
        ['.data', 'packets', -(1n << 63n) - 1n, /does not fit/],
        ['.bss', 'more_zeroed', 1, /takes 16 bytes, got 1/],
        ['.bss', 'more_zeroed', new Uint8Array(15), /expected 16 bytes/],
      ];
      for (const [map, name, value, message] of bad) expectError(() => obj.map(map).setVariable(name, value as number), 'EINVAL', message);
      expect(data.getVariable('drops')).toEqual(Uint8Array.of(0, 0, 0, 0x80)); // unchanged by the refusals
      expectError(() => data.setVariable('nope', 1), 'ENOENT', /packets, drops, hidden_counter/);
      expectError(() => data.getVariable('threshold'), 'ENOENT'); // it lives in .rodata
      const maps = open('btf-maps');
      expectError(() => maps.map('counters').setVariable('x', 1), 'EINVAL', /only global data maps/);
      expectError(() => maps.map('counters').getVariable('x'), 'EINVAL');
      expectError(() => maps.map('counters').initialValue(), 'EINVAL');
    });

    it('loads the adjusted initial values; programs read .rodata configuration and update .data live', async () => {
      const obj = open('global-data');
      obj.map('.data').setVariable('packets', 1000n);
      obj.map('.data').setVariable('drops', 5);
      obj.map('.rodata').setVariable('threshold', 5);
      obj.map('.data.custom').setVariable('custom_counter', 0);
      load(obj);
      const prog = obj.program('data_prog').jit;
      // cfg.enabled (1) and rxq 10 > threshold 5: XDP_DROP
      expect(xdp(prog, { rxq: 10 })).toBe(XDP_DROP);
      // rxq 4 <= 5: name_char("eth0", 4 & 3) == 'e': XDP_PASS
      expect(xdp(prog, { rxq: 4 })).toBe(XDP_PASS);
      const get = (map: string, name: string) => le(obj.map(map).getVariable(name));
      expect(get('.data', 'packets')).toBe(1002n);
      expect(get('.data', 'hidden_counter')).toBe(11n + 4n);
      expect(get('.data.custom', 'custom_counter')).toBe(2n);
      expect(get('.bss', 'zeroed')).toBe(10n); // += drops, twice
      expect(obj.map('.bss').getVariable('more_zeroed').subarray(8, 12)).toEqual(Uint8Array.of(4, 0, 0, 0));
      expectError(() => obj.map('.data').setVariable('packets', 1), 'STATE');
      await obj.close();
      expect(await settle(arena, base)).toEqual(base);
    });

    it('.rodata is frozen and read-only for programs: TypeScript gets EPERM, a program storing into it is refused', async () => {
      const obj = open('global-data');
      load(obj);
      for (const name of ['.rodata', '.rodata.str1.1']) {
        const map = obj.map(name).map;
        expect(map.frozen).toBe(true);
        expect(() => map.update(0, new Uint8Array(map.valueSize))).toThrow(expect.objectContaining({ code: 'EPERM' }));
      }
      expect(obj.map('.data').map.frozen).toBe(false);
      const rodataFd = obj.map('.rodata').map.fd;
      expect(obj.program('data_prog').verified.maps.find((m) => m.fd === rodataFd)).toMatchObject({ readonly: true, directValue: true });
      expect(le(obj.map('.rodata').getVariable('threshold'))).toBe(100n);
      await obj.close();

      const writer = open('load-errors');
      for (const p of writer.programs) p.setAutoload(p.name === 'writes_rodata');
      const err = expectError(() => writer.load(arena), 'VERIFY', /writes_rodata in section xdp\/rodata/);
      expect((err.cause as VerifierError).reason).toMatch(/^write into map forbidden/);
      expect(await settle(arena, base)).toEqual(base);
    });
  });

  describe('load errors', () => {
    it('UNSUPPORTED for a helper the runtime does not provide, before anything is created', () => {
      const obj = open('load-errors');
      for (const p of obj.programs) p.setAutoload(p.name === 'redirects');
      const err = expectError(() => obj.load(arena), 'UNSUPPORTED', /redirects in section xdp\/redirect calls helper bpf_redirect#23/);
      expect([err.section, err.symbol]).toEqual(['xdp/redirect', 'redirects']);
      expect(arena.usage()).toEqual(base);
      expect(obj.state).toBe('opened');
    });

    it('VERIFY with the VerifierError as cause; a program loaded before the refused one leaves nothing behind', async () => {
      const obj = open('load-errors');
      for (const p of obj.programs) p.setAutoload(p.name === 'counts' || p.name === 'unchecked');
      const err = expectError(() => obj.load(arena), 'VERIFY', /unchecked in section xdp refused by the verifier/);
      const cause = err.cause as VerifierError;
      expect(cause).toBeInstanceOf(VerifierError);
      expect(cause.insnIndex).toBe(1);
      expect(cause.reason).toMatch(/^invalid access to packet/);
      expect(obj.state).toBe('opened');
      expectError(() => obj.program('counts').jit, 'STATE');
      expectError(() => obj.program('counts').verified, 'STATE');
      expectError(() => obj.map('hits').map, 'STATE');
      expect([obj.timings.mapsMs, obj.timings.verifyMs, obj.timings.jitMs]).toEqual([0, 0, 0]);
      expect(await settle(arena, base)).toEqual(base);
      // without the refused program the same object loads
      obj.program('unchecked').setAutoload(false);
      obj.map('.rodata').setVariable('limit', 5);
      load(obj);
      expect(xdp(obj.program('counts').jit, { rxq: 6 })).toBe(XDP_PASS);
      expect(obj.map('hits').map.typed(u32, u64).get(2)).toBe(5n);
      await obj.close();
      expect(await settle(arena, base)).toEqual(base);
    });

    it('refuses bad arguments (EINVAL) and a second load (STATE)', async () => {
      const obj = open('legacy-maps');
      expectError(() => obj.load(null as never), 'EINVAL');
      expectError(() => obj.load({} as never), 'EINVAL');
      expectError(() => obj.load(arena, null as never), 'EINVAL');
      const other = create();
      try {
        const foreign = createRuntime(other, { cpus: 1 });
        expectError(() => obj.load(arena, { runtime: foreign }), 'EINVAL', /another arena/);
        foreign.dispose();
      } finally {
        other.dispose();
      }
      expect(arena.usage()).toEqual(base);
      load(obj);
      expectError(() => obj.load(arena), 'STATE', /loaded/);
      // the explicit runtime option is this arena's runtime
      const again = open('legacy-maps');
      loaded.push(again.load(arena, { runtime }));
      expect(runtime.mapByFd(again.map('legacy_hash').map.fd)).toBe(again.map('legacy_hash').map);
      await obj.close();
      await again.close();
      expect(await settle(arena, base)).toEqual(base);
    });
  });

  describe('close', () => {
    it('frees every map and program once awaited; the object is unusable (STATE); close is idempotent', async () => {
      const obj = open('global-data');
      obj.map('.data').setVariable('packets', 1n);
      load(obj);
      const program = obj.program('data_prog');
      expect(xdp(program.jit, { rxq: 1 })).toBe(XDP_PASS);
      const closing = obj.close();
      expect(obj.state).toBe('closed');
      expect(obj.close()).toBe(closing);
      expectError(() => obj.map('.data').map, 'STATE');
      expectError(() => program.jit, 'STATE');
      expectError(() => program.hold(), 'STATE');
      expectError(() => obj.map('.data').getVariable('packets'), 'STATE');
      expectError(() => obj.load(arena), 'STATE', /closed/);
      expectError(() => obj.map('.data').setVariable('packets', 2), 'STATE');
      expectError(() => program.setAutoload(false), 'STATE');
      await closing;
      expect(arena.usage()).toEqual(base);
      await obj.close();
      // an object closed before it was loaded cannot be loaded
      const never = open('btf-maps');
      await never[Symbol.asyncDispose]();
      expect(never.state).toBe('closed');
      expectError(() => never.load(arena), 'STATE');
      expect(arena.usage()).toEqual(base);
    });

    it('a held program keeps its code and maps after close, runs, and is freed with them when released', async () => {
      const obj = open('btf-maps');
      load(obj);
      const program = obj.program('count_packets');
      const code = program.jit;
      const stats = obj.map('stats').map;
      const release = program.hold();
      const second = program.hold();
      const closed = obj.close();
      await closed;
      expect(arena.usage()).not.toEqual(base);
      expect(stats.disposed).toBe(true); // the object's reference is gone, the memory is not
      expect(xdp(code, { rxq: 3, length: 80 })).toBe(XDP_DROP);
      expect(xdp(code, { rxq: 3, length: 80, cpu: 1 })).toBe(XDP_DROP);
      await release();
      expect(arena.usage()).not.toEqual(base); // still held once
      expect(xdp(code, { rxq: 0 })).toBe(XDP_DROP);
      await release(); // idempotent
      await second();
      expect(code.freed).toBe(true);
      expect(arena.usage()).toEqual(base);
    });

    it('open/load/close loops keep the arena usage flat', async () => {
      for (let round = 0; round < 10; round++) {
        for (const name of ['btf-maps', 'legacy-maps', 'global-data', 'subprograms'] as const) {
          const obj = open(name);
          obj.load(arena);
          const release = round % 2 === 0 ? obj.programs[0]?.hold() : undefined;
          await obj.close();
          await release?.();
          expect(arena.usage(), `${name}, round ${round}`).toEqual(base);
        }
      }
    });
  });
});
