/**
 * `BpfRuntime`: the eBPF runtime of one arena — its CPU count, the helper functions as
 * machine code, the clock and random state they use, and the maps (by fd). What the
 * kernel's BPF core provides to every program, in one object per `TextArena`.
 */
import { availableParallelism } from 'node:os';
import type { MapDescriptor } from '@bpf-dispatcher/ebpf';
import { type Region, type TextArena, isTextArena } from '@bpf-dispatcher/text-poke';
import { createArrayBackend } from './array-map.js';
import { ClockStruct, clockCalibration } from './clock.js';
import { RuntimeError } from './errors.js';
import { createHashBackend } from './hash-map.js';
import { type HelperCode, PRANDOM_STRIDE, emitHelpers } from './helpers.js';
import { BpfMap } from './map.js';
import { BpfMapStruct } from './map-struct.js';
import { BPF_F, BPF_MAP_TYPE_ID, type MapBackend, type MapContext, type MapDefinition, type MapTypeName, isPerCpu } from './map-types.js';
import { XDP_CONTEXT } from './xdp-context.js';

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /**
   * How many CPUs (poller threads) may run programs at once: per-CPU maps keep this many
   * copies and `bpf_get_smp_processor_id()` returns 0..cpus-1. Default: the machine's
   * available parallelism. 1..256.
   */
  readonly cpus?: number;
}

/** The most CPUs a runtime supports. */
export const MAX_CPUS = 256;
/** The largest value a map may hold (bytes); per-CPU maps at most 32 KiB (the kernel's per-CPU unit limit). */
export const MAX_VALUE_SIZE = 1 << 16;
const MAX_PERCPU_VALUE_SIZE = 1 << 15;
/** The largest key of a hash map (bytes), as the kernel's `MAX_BPF_STACK`-bound keys. */
export const MAX_KEY_SIZE = 512;
/** How often deferred reclamation of hash map elements runs in the background (ms). */
const RECLAIM_INTERVAL_MS = 20;

/** What the JIT needs from the runtime (ebpf's `jit()` options). */
export interface RuntimeJitOptions {
  readonly helpers: ReadonlyMap<number, bigint>;
  readonly maps: ReadonlyMap<number, ReturnType<BpfMap['jitInfo']>>;
  readonly context: typeof XDP_CONTEXT;
  readonly cpus: number;
}

const runtimes = new WeakMap<TextArena, BpfRuntime>();
const NAME = /^[\x20-\x7e]{0,64}$/;
const KNOWN_FLAGS = BPF_F.NO_PREALLOC | BPF_F.ZERO_SEED | BPF_F.RDONLY_PROG | BPF_F.MMAPABLE;

function describe(v: unknown): string {
  return typeof v === 'bigint' ? `${v}n` : typeof v === 'object' ? (v === null ? 'null' : 'an object') : String(v);
}

/**
 * The eBPF runtime of an arena. Get it with {@link runtimeOf} (created on first use with
 * the default CPU count) or create it explicitly with {@link createRuntime}.
 */
export class BpfRuntime {
  readonly cpus: number;
  readonly #code: HelperCode;
  readonly #data: Region;
  readonly #maps = new Map<number, { map: BpfMap; header: Region; backend: MapBackend }>();
  #nextFd = 1;
  #timer: ReturnType<typeof setInterval> | undefined;
  #disposed = false;

  /** @internal use {@link createRuntime} / {@link runtimeOf}. */
  constructor(
    readonly arena: TextArena,
    cpus: number,
  ) {
    this.cpus = cpus;
    const clock = clockCalibration(arena);
    this.#data = arena.allocData(ClockStruct.size + cpus * PRANDOM_STRIDE, 64);
    try {
      const memory = arena.memory(this.#data);
      const view = ClockStruct.view(memory);
      view.set('tsc0', clock.tsc0);
      view.set('ns0', clock.ns0);
      view.set('mult', clock.mult);
      const prandom = this.#data.address + BigInt(ClockStruct.size);
      for (let cpu = 0; cpu < cpus; cpu++) {
        // xorshift state must not be 0: seed each CPU differently
        const seed = (BigInt(Math.floor(Math.random() * 2 ** 52)) << 12n) | BigInt(cpu + 1);
        memory.setU64(ClockStruct.size + cpu * PRANDOM_STRIDE, seed);
      }
      this.#code = emitHelpers(arena, { clock: this.#data.address, prandom, cpus });
    } catch (error) {
      arena.free(this.#data);
      throw error;
    }
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#disposed;
  }

  private live(what: string): void {
    if (this.#disposed) throw new RuntimeError('DISPOSED', `runtime.${what}: the runtime was disposed`);
    if (this.arena.disposed) throw new RuntimeError('DISPOSED', `runtime.${what}: its arena was disposed`);
  }

  /** Helper addresses by kernel helper id (what `jit(..., { helpers })` takes). @throws RuntimeError DISPOSED. */
  get helpers(): ReadonlyMap<number, bigint> {
    this.live('helpers');
    return this.#code.byId;
  }

  /**
   * Create a map in native memory (`BPF_MAP_CREATE`).
   * @throws RuntimeError EINVAL for a bad definition (sizes: keys 4 bytes for arrays and
   *   1..512 for hash maps, values 1..65536 and per-CPU ≤ 32768, `maxEntries` ≥ 1, a name of
   *   printable ASCII), UNSUPPORTED for another type or flag, E2BIG/ENOMEM when it does not
   *   fit the arena (nothing stays allocated), DISPOSED.
   */
  createMap(definition: MapDefinition): BpfMap {
    this.live('createMap');
    const def = checkDefinition(definition);
    const header = this.arena.allocData(BpfMapStruct.size, BpfMapStruct.align);
    let backend: MapBackend;
    try {
      const ctx: MapContext = {
        arena: this.arena,
        cpus: this.cpus,
        def,
        header,
        userCall: (fn, ...args) => this.userCall(fn, ...args),
      };
      backend = def.type === 'array' || def.type === 'percpu_array' ? createArrayBackend(ctx) : createHashBackend(ctx);
    } catch (error) {
      this.arena.free(header);
      throw error;
    }
    const fd = this.#nextFd++;
    const view = BpfMapStruct.view(this.arena.memory(header));
    view.set('type', BPF_MAP_TYPE_ID[def.type]);
    view.set('keySize', def.keySize);
    view.set('valueSize', def.valueSize);
    view.set('maxEntries', def.maxEntries);
    view.set('flags', def.flags);
    view.set('cpus', this.cpus);
    view.set('elemSize', backend.elemSize);
    view.set('values', backend.values);
    view.set('cpuStride', BigInt(backend.cpuStride));
    view.set('lookup', backend.ops.lookup);
    view.set('update', backend.ops.update);
    view.set('delete', backend.ops.delete);
    view.set('id', fd);
    const map = new BpfMap(fd, header.address, def, backend, { arena: this.arena, cpus: this.cpus, release: (m) => this.releaseMap(m) });
    this.#maps.set(fd, { map, header, backend });
    if (backend.reclaim !== undefined) this.startReclaimer();
    return map;
  }

  /** The live map with this fd, or undefined. */
  mapByFd(fd: number): BpfMap | undefined {
    const entry = this.#maps.get(fd);
    return entry === undefined || entry.map.disposed ? undefined : entry.map;
  }

  /**
   * What `jit()` needs to compile programs against this runtime: helper addresses, the
   * given maps by fd, the XDP context layout and the CPU count.
   * @throws RuntimeError EINVAL for a map of another runtime or an object that is not a map; DISPOSED.
   */
  jitOptions(maps: Iterable<BpfMap> = []): RuntimeJitOptions {
    this.live('jitOptions');
    const byFd = new Map<number, ReturnType<BpfMap['jitInfo']>>();
    for (const map of maps) {
      if (!this.owns(map)) throw new RuntimeError('EINVAL', `jitOptions: ${describeMap(map)} is not a map of this runtime`);
      byFd.set(map.fd, map.jitInfo());
    }
    return { helpers: this.#code.byId, maps: byFd, context: XDP_CONTEXT, cpus: this.cpus };
  }

  /**
   * What `verify()` needs to know of the given maps, by fd (their key and value sizes;
   * arrays allow direct value access and constant-key lookups that cannot fail; frozen maps
   * and maps created with `BPF_F.RDONLY_PROG` are read-only for programs): spread it
   * into the verifier's options next to `progType`.
   * @throws RuntimeError EINVAL for a map of another runtime or an object that is not a map; DISPOSED.
   */
  verifyOptions(maps: Iterable<BpfMap> = []): { readonly maps: ReadonlyMap<number, MapDescriptor> } {
    this.live('verifyOptions');
    const byFd = new Map<number, MapDescriptor>();
    for (const map of maps) {
      if (!this.owns(map)) throw new RuntimeError('EINVAL', `verifyOptions: ${describeMap(map)} is not a map of this runtime`);
      const array = map.type === 'array' || map.type === 'percpu_array';
      const readonly = map.frozen || (map.flags & BPF_F.RDONLY_PROG) !== 0;
      byFd.set(map.fd, { keySize: map.keySize, valueSize: map.valueSize, directValue: array, readonly, ...(array ? { arrayMaxEntries: map.maxEntries } : {}) });
    }
    return { maps: byFd };
  }

  /** Whether `map` is a map this runtime created (by identity: look-alike objects are not). */
  private owns(map: unknown): map is BpfMap {
    return typeof map === 'object' && map !== null && this.#maps.get((map as BpfMap).fd)?.map === map;
  }

  /**
   * Call a native function of the runtime's ABI from TypeScript with r12 = 0 (CPU 0).
   * @throws the arena's errors; RuntimeError DISPOSED.
   */
  userCall(fn: bigint, ...args: (bigint | number)[]): bigint {
    this.live('userCall');
    return this.arena.call(this.#code.userCall, fn, ...args);
  }

  /**
   * Call a native function of the runtime's ABI as CPU `cpu` (r12 = cpu), with up to four
   * arguments: for tests and for per-CPU work done from TypeScript.
   * @throws RuntimeError EINVAL for a CPU outside 0..cpus-1; DISPOSED.
   */
  cpuCall(cpu: number, fn: bigint, ...args: (bigint | number)[]): bigint {
    this.live('cpuCall');
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) throw new RuntimeError('EINVAL', `cpuCall: cpu must be 0..${this.cpus - 1}, got ${describe(cpu)}`);
    if (args.length > 4) throw new RuntimeError('EINVAL', 'cpuCall: at most four arguments');
    return this.arena.call(this.#code.cpuCall, fn, cpu, ...args);
  }

  /** Run deferred reclamation of every hash map once (also done in the background). */
  reclaim(): void {
    if (this.#disposed || this.arena.disposed) return;
    for (const { backend } of this.#maps.values()) backend.reclaim?.();
  }

  private startReclaimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      try {
        this.reclaim();
      } catch {
        // the arena went away between ticks: dispose() stops the timer
      }
    }, RECLAIM_INTERVAL_MS);
    this.#timer.unref();
  }

  private releaseMap(map: BpfMap): Promise<void> {
    const entry = this.#maps.get(map.fd);
    if (entry === undefined) return Promise.resolve();
    this.#maps.delete(map.fd);
    const free = () => {
      if (this.arena.disposed) return;
      for (const region of [...entry.backend.regions, entry.header]) {
        try {
          this.arena.free(region);
        } catch {
          // already gone
        }
      }
    };
    if (![...this.#maps.values()].some((e) => e.backend.reclaim !== undefined) && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    if (this.arena.disposed) return Promise.resolve();
    // Programs that used the map are gone; a reader may still be inside one of them.
    return this.arena.synchronize().then(free, () => {
      // a stalled reader: keep the memory rather than free it under someone's feet
    });
  }

  /**
   * Dispose the runtime: maps stop working, the helpers' code and data are freed (callers
   * must not run programs of this runtime any more). Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const { map } of this.#maps.values()) void map.dispose();
    runtimes.delete(this.arena);
    if (this.arena.disposed) return;
    for (const region of [this.#code.region, this.#data]) {
      try {
        this.arena.free(region);
      } catch {
        // already gone
      }
    }
  }
}

function describeMap(map: unknown): string {
  return typeof map === 'object' && map !== null && typeof (map as BpfMap).name === 'string' ? `map ${(map as BpfMap).name}` : describe(map);
}

function checkDefinition(d: MapDefinition): Required<MapDefinition> {
  if (typeof d !== 'object' || d === null) throw new RuntimeError('EINVAL', 'createMap: the definition must be an object');
  const type = d.type;
  if (!Object.hasOwn(BPF_MAP_TYPE_ID, type as string)) throw new RuntimeError('UNSUPPORTED', `createMap: map type ${describe(type)} is not supported (hash, array, percpu_hash, percpu_array)`);
  const name = d.name ?? type;
  if (typeof name !== 'string' || !NAME.test(name)) throw new RuntimeError('EINVAL', `createMap: the name must be up to 64 printable ASCII characters`);
  const int = (v: unknown, lo: number, hi: number, what: string) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new RuntimeError('EINVAL', `createMap ${name}: ${what} must be an integer in ${lo}..${hi}, got ${describe(v)}`);
    return v;
  };
  const array = type === 'array' || type === 'percpu_array';
  const keySize = array ? int(d.keySize, 4, 4, 'keySize (arrays: 4)') : int(d.keySize, 1, MAX_KEY_SIZE, 'keySize');
  const valueSize = int(d.valueSize, 1, isPerCpu(type) ? MAX_PERCPU_VALUE_SIZE : MAX_VALUE_SIZE, 'valueSize');
  const maxEntries = int(d.maxEntries, 1, 0xffff_ffff, 'maxEntries');
  const flags = int(d.flags ?? 0, 0, 0xffff_ffff, 'flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new RuntimeError('UNSUPPORTED', `createMap ${name}: flags 0x${(flags & ~KNOWN_FLAGS).toString(16)} are not supported`);
  if (array && (flags & (BPF_F.NO_PREALLOC | BPF_F.ZERO_SEED)) !== 0) throw new RuntimeError('EINVAL', `createMap ${name}: NO_PREALLOC and ZERO_SEED are hash map flags`);
  if (!array && (flags & BPF_F.MMAPABLE) !== 0) throw new RuntimeError('EINVAL', `createMap ${name}: MMAPABLE is an array map flag`);
  return { type: type as MapTypeName, keySize, valueSize, maxEntries, flags, name };
}

/**
 * Create the runtime of `arena` with explicit options.
 * @throws RuntimeError EINVAL for a bad arena or CPU count; EBUSY if the arena already has
 *   a runtime with another CPU count; DISPOSED for a disposed arena; the arena's ENOMEM.
 */
export function createRuntime(arena: TextArena, options: RuntimeOptions = {}): BpfRuntime {
  if (!isTextArena(arena)) throw new RuntimeError('EINVAL', `createRuntime: expected a TextArena, got ${describe(arena)}`);
  if (arena.disposed) throw new RuntimeError('DISPOSED', 'createRuntime: the arena was disposed');
  if (typeof options !== 'object' || options === null) throw new RuntimeError('EINVAL', 'createRuntime: options must be an object');
  const existing = runtimes.get(arena);
  const cpus = options.cpus ?? existing?.cpus ?? Math.min(availableParallelism(), MAX_CPUS);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new RuntimeError('EINVAL', `createRuntime: cpus must be an integer in 1..${MAX_CPUS}, got ${describe(cpus)}`);
  if (existing !== undefined && !existing.disposed) {
    if (existing.cpus !== cpus) throw new RuntimeError('EBUSY', `createRuntime: the arena already has a runtime for ${existing.cpus} CPUs`);
    return existing;
  }
  const runtime = new BpfRuntime(arena, cpus);
  runtimes.set(arena, runtime);
  return runtime;
}

/**
 * The runtime of `arena`, created with the default options on first use.
 * @throws like {@link createRuntime}.
 */
export function runtimeOf(arena: TextArena): BpfRuntime {
  const existing = isTextArena(arena) ? runtimes.get(arena) : undefined;
  if (existing !== undefined && !existing.disposed && !arena.disposed) return existing;
  return createRuntime(arena);
}
