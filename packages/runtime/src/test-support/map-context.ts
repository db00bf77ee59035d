/**
 * Test support: a map header and a {@link MapContext} without the rest of the runtime,
 * and stubs that call a map's native functions as a given CPU (r12).
 */
import { emitText, type Region, type TextArena } from '@bpf-dispatcher/text-poke';
import { emitCallStub } from '../helpers.js';
import { BpfMapStruct } from '../map-struct.js';
import { BPF_MAP_TYPE_ID, type MapBackend, type MapContext, type MapDefinition } from '../map-types.js';

/** The two call stubs of an arena. */
interface Stubs {
  /** `stub(fn, a, b, c, d, e)`: r12 = 0, then `fn(a, b, c, d, e)`. */
  readonly user: bigint;
  /** `stub(fn, cpu, a, b, c, d)`: r12 = cpu, then `fn(a, b, c, d)`. */
  readonly asCpu: bigint;
}

const stubsOf = new WeakMap<TextArena, Stubs>();

/** Emit (once per arena) the stubs that set r12 and call a function of the runtime's ABI. */
export function callStubs(arena: TextArena): Stubs {
  const known = stubsOf.get(arena);
  if (known !== undefined) return known;
  const user = emitText(arena, (buf) => emitCallStub(buf, 'user')).address;
  const asCpu = emitText(arena, (buf) => emitCallStub(buf, 'cpu')).address;
  const stubs = Object.freeze({ user, asCpu });
  stubsOf.set(arena, stubs);
  return stubs;
}

/** A map under test: its context, header and helpers. */
export interface TestMap<B extends MapBackend = MapBackend> {
  readonly ctx: MapContext;
  readonly header: Region;
  /** Call a native function of the map's ABI as CPU `cpu` (at most four arguments). */
  callAs(cpu: number, fn: bigint, ...args: (bigint | number)[]): bigint;
  /** Fill the header's common fields from a backend (what the runtime's map constructor does). */
  install(backend: B): B;
  /** Free the header and the backend's regions. */
  free(backend: MapBackend): void;
}

/**
 * A zeroed `struct bpf_map` header and a context for `def` with `cpus` CPUs, whose
 * `userCall` runs functions as CPU 0 through a stub.
 * @throws the arena's errors.
 */
export function createTestMap(arena: TextArena, def: MapDefinition, cpus = 1): TestMap {
  const stubs = callStubs(arena);
  const header = arena.allocData(BpfMapStruct.size, 64);
  const full: Required<MapDefinition> = { flags: 0, name: 'test', ...def };
  const ctx: MapContext = {
    arena,
    cpus,
    def: full,
    header,
    userCall: (fn, ...args) => arena.call(stubs.user, fn, ...args),
  };
  return {
    ctx,
    header,
    callAs: (cpu, fn, ...args) => arena.call(stubs.asCpu, fn, cpu, ...args),
    install(backend) {
      const view = BpfMapStruct.view(arena.memory(header));
      view.set('type', BPF_MAP_TYPE_ID[full.type]);
      view.set('keySize', full.keySize);
      view.set('valueSize', full.valueSize);
      view.set('maxEntries', full.maxEntries);
      view.set('flags', full.flags);
      view.set('cpus', cpus);
      view.set('lookup', backend.ops.lookup);
      view.set('update', backend.ops.update);
      view.set('delete', backend.ops.delete);
      view.set('values', backend.values);
      view.set('elemSize', backend.elemSize);
      view.set('cpuStride', BigInt(backend.cpuStride));
      view.set('id', 1);
      return backend;
    },
    free(backend) {
      for (const region of backend.regions) arena.free(region);
      arena.free(header);
    },
  };
}
