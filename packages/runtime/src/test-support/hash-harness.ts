/**
 * Test support: a hash map on an arena with what tests need around it — argument regions
 * of exactly the key and value sizes (a simulated CPU faults on any byte read past them),
 * program-side calls as any CPU, and cleanup.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { createHashBackend, type HashBackend } from '../hash-map.js';
import type { MapDefinition } from '../map-types.js';
import { createTestMap, type TestMap } from './map-context.js';

/** A map under test with program-side helpers. */
export interface HashHarness {
  readonly map: TestMap;
  readonly backend: HashBackend;
  /** `bpf_map_update_elem` from a program on `cpu`: 0 or -errno. */
  programUpdate(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number;
  /** `bpf_map_delete_elem` from a program on `cpu`. */
  programDelete(key: Uint8Array, cpu: number): number;
  /** `bpf_map_lookup_elem` from a program on `cpu`: the value's bytes (that CPU's copy) or undefined. */
  programLookup(key: Uint8Array, cpu: number): Uint8Array | undefined;
  /** Free everything. */
  close(): void;
}

/**
 * Create a hash map (and its header) for `def` with `cpus` CPUs.
 * @throws the errors of `createHashBackend`.
 */
export function openHashMap(arena: TextArena, def: MapDefinition, cpus = 1): HashHarness {
  const map = createTestMap(arena, def, cpus);
  let backend: HashBackend;
  try {
    backend = createHashBackend(map.ctx);
  } catch (error) {
    arena.free(map.header);
    throw error;
  }
  map.install(backend);
  const keyArg: Region = arena.allocData(def.keySize, 1);
  const valueArg: Region = arena.allocData(def.valueSize, 1);
  const signed = (v: bigint): number => Number(BigInt.asIntN(64, v));
  const header = map.header.address;
  return {
    map,
    backend,
    programUpdate(key, value, flags, cpu) {
      arena.write(keyArg.address, key);
      arena.write(valueArg.address, value);
      return signed(map.callAs(cpu, backend.ops.update, header, keyArg.address, valueArg.address, flags));
    },
    programDelete(key, cpu) {
      arena.write(keyArg.address, key);
      return signed(map.callAs(cpu, backend.ops.delete, header, keyArg.address));
    },
    programLookup(key, cpu) {
      arena.write(keyArg.address, key);
      const at = map.callAs(cpu, backend.ops.lookup, header, keyArg.address);
      return at === 0n ? undefined : arena.read(at, def.valueSize);
    },
    close() {
      arena.free(keyArg);
      arena.free(valueArg);
      map.free(backend);
    },
  };
}
