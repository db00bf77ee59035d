/**
 * `BpfMap`: a map in native memory as TypeScript sees it — the kernel's `struct bpf_map`
 * with the `BPF_MAP_*_ELEM` commands of `bpf(2)` as methods. Programs reach the same
 * memory through the helpers and the map's own native functions, concurrently.
 */
import type { TextArena } from '@bpf-dispatcher/text-poke';
import { type Codec, bytesCodec, sumValues } from './codec.js';
import { RuntimeError, codeOfErrno } from './errors.js';
import type { InlineArrayLookup, MapBackend, MapDefinition, MapTypeName } from './map-types.js';
import { BPF_UPDATE, isPerCpu } from './map-types.js';

/** A key: its bytes, or for 4- and 8-byte keys a number/bigint (little-endian). */
export type MapKey = Uint8Array | number | bigint;

/** `bpf_map_update_elem` flags by name or number: `any` (0), `noexist` (1), `exist` (2). */
export type UpdateFlags = 'any' | 'noexist' | 'exist' | 0 | 1 | 2;

/** What the JIT needs to know of a map (ebpf's `JitMapInfo`). */
export interface MapJitInfo {
  readonly address: bigint;
  readonly directValue?: bigint;
  readonly inlineLookup?: InlineArrayLookup;
  readonly ops: { readonly lookup: bigint; readonly update: bigint; readonly delete: bigint };
}

/** A typed view of a map (see {@link BpfMap.typed}). */
export interface TypedMap<K, V> {
  /** The value under `key` (per-CPU maps: the sum over CPUs), or undefined. */
  get(key: K): V | undefined;
  /** Per-CPU maps: each CPU's value; other maps: one value. */
  getPerCpu(key: K): V[] | undefined;
  /** Store `value` (per-CPU maps: the same value on every CPU, or one per CPU). */
  set(key: K, value: V | readonly V[], flags?: UpdateFlags): void;
  delete(key: K): boolean;
  /** Every entry, taken at one instant (per-CPU values summed). */
  entries(): [K, V][];
}

/** State shared with the runtime that owns the map. */
export interface MapOwner {
  readonly arena: TextArena;
  readonly cpus: number;
  /** Called once the last reference is gone: free the memory after a grace period (resolves once freed). */
  release(map: BpfMap): Promise<void>;
}

const FLAG_NAMES: Readonly<Record<string, number>> = { any: BPF_UPDATE.ANY, noexist: BPF_UPDATE.NOEXIST, exist: BPF_UPDATE.EXIST };

/** Live maps made by a runtime (a brand: look-alike objects are not maps). */
const MAPS = new WeakSet<object>();

/** True if `value` is a map a runtime created and that is not disposed. */
export function isBpfMap(value: unknown): value is BpfMap {
  return typeof value === 'object' && value !== null && MAPS.has(value) && !(value as BpfMap).disposed;
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === 'bigint') return `${v}n`;
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

/**
 * A map in native memory. Created by `BpfRuntime.createMap` (or by loading an object); its
 * methods mirror the `bpf(2)` map commands and throw {@link RuntimeError} with the
 * kernel's errno names.
 */
export class BpfMap {
  readonly name: string;
  readonly type: MapTypeName;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** Copies of each value: the runtime's CPU count for per-CPU maps, else 1. */
  readonly cpus: number;
  #frozen = false;
  #disposed = false;
  /** References: the user's (until dispose) plus one per loaded program using the map. */
  #refs = 1;

  /** @internal */
  constructor(
    /** The map's number in its runtime, what `lddw rX, map_fd` instructions carry. */
    readonly fd: number,
    /** Address of the map's `struct bpf_map`. */
    readonly address: bigint,
    def: Required<MapDefinition>,
    private readonly backend: MapBackend,
    private readonly owner: MapOwner,
  ) {
    this.name = def.name;
    this.type = def.type;
    this.keySize = def.keySize;
    this.valueSize = def.valueSize;
    this.maxEntries = def.maxEntries;
    this.flags = def.flags;
    this.cpus = isPerCpu(def.type) ? owner.cpus : 1;
    MAPS.add(this);
  }

  /** True once frozen: TypeScript may no longer change it (`BPF_MAP_FREEZE`). */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** True once {@link dispose} was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Bytes of a value in the kernel's user-space format: for per-CPU maps one
   * 8-byte-aligned slot per CPU (also with a single CPU), else the value size.
   */
  get userValueSize(): number {
    return isPerCpu(this.type) ? Math.ceil(this.valueSize / 8) * 8 * this.cpus : this.valueSize;
  }

  private live(what: string): void {
    if (this.#disposed) throw new RuntimeError('DISPOSED', `${this.name}.${what}: the map was disposed`);
    if (this.owner.arena.disposed) throw new RuntimeError('DISPOSED', `${this.name}.${what}: its arena was disposed`);
  }

  private keyBytes(key: MapKey, what: string): Uint8Array {
    if (key instanceof Uint8Array) {
      if (key.length !== this.keySize) throw new RuntimeError('EINVAL', `${this.name}.${what}: the key must be ${this.keySize} bytes, got ${key.length}`);
      return key;
    }
    if ((typeof key === 'number' || typeof key === 'bigint') && (this.keySize === 4 || this.keySize === 8)) {
      const n = typeof key === 'number' ? (Number.isSafeInteger(key) ? BigInt(key) : undefined) : key;
      const limit = 1n << BigInt(this.keySize * 8);
      if (n !== undefined && n >= 0n && n < limit) {
        const out = new Uint8Array(this.keySize);
        const view = new DataView(out.buffer);
        if (this.keySize === 4) view.setUint32(0, Number(n), true);
        else view.setBigUint64(0, n, true);
        return out;
      }
    }
    throw new RuntimeError('EINVAL', `${this.name}.${what}: the key must be ${this.keySize} bytes${this.keySize === 4 || this.keySize === 8 ? ' or an unsigned integer of that size' : ''}, got ${describe(key)}`);
  }

  private flagValue(flags: UpdateFlags | undefined): number {
    if (flags === undefined) return 0;
    const v = typeof flags === 'string' ? FLAG_NAMES[flags] : flags;
    if (v !== 0 && v !== 1 && v !== 2) throw new RuntimeError('EINVAL', `${this.name}.update: flags must be 'any', 'noexist' or 'exist', got ${describe(flags)}`);
    return v;
  }

  private check(ret: number, what: string): void {
    if (ret < 0) {
      const code = codeOfErrno(ret);
      throw new RuntimeError(code, `${this.name}.${what}: ${code}${code === 'ENOMEM' ? ' (every spare element waits for a grace period: await map.synchronize() and retry)' : ''}`);
    }
  }

  /**
   * The value under `key` (`BPF_MAP_LOOKUP_ELEM`), copied; per-CPU maps give the kernel's
   * user-space format: `cpus` slots of round_up(valueSize, 8) bytes. Undefined if absent.
   * @throws RuntimeError EINVAL for a bad key; DISPOSED.
   */
  lookup(key: MapKey): Uint8Array | undefined {
    const values = this.lookupPerCpu(key);
    if (values === undefined) return undefined;
    if (!isPerCpu(this.type)) return values[0];
    const slot = Math.ceil(this.valueSize / 8) * 8;
    const out = new Uint8Array(slot * this.cpus);
    values.forEach((v, cpu) => {
      out.set(v, cpu * slot);
    });
    return out;
  }

  /**
   * Each CPU's value under `key` (one entry for maps that are not per-CPU), copied, or
   * undefined if absent.
   * @throws RuntimeError EINVAL for a bad key; DISPOSED.
   */
  lookupPerCpu(key: MapKey): Uint8Array[] | undefined {
    this.live('lookup');
    const k = this.keyBytes(key, 'lookup');
    this.backend.reclaim?.();
    return this.backend.lookup(k);
  }

  /**
   * Store a value (`BPF_MAP_UPDATE_ELEM`). Per-CPU maps take one value for every CPU,
   * the kernel's format (`cpus` slots of round_up(valueSize, 8)), or an array of one value
   * per CPU.
   * @throws RuntimeError EINVAL (bad key, value or flags), EEXIST (`noexist` and present),
   *   ENOENT (`exist` and absent), E2BIG (full, or an index out of range), ENOMEM (no spare
   *   element until a grace period passes), EPERM (frozen), DISPOSED.
   */
  update(key: MapKey, value: Uint8Array | readonly Uint8Array[], flags?: UpdateFlags): void {
    this.live('update');
    const k = this.keyBytes(key, 'update');
    const f = this.flagValue(flags);
    const values = this.valueBuffers(value);
    if (this.#frozen) throw new RuntimeError('EPERM', `${this.name}.update: the map is frozen`);
    this.backend.reclaim?.();
    this.check(this.backend.update(k, values, f), 'update');
  }

  private valueBuffers(value: Uint8Array | readonly Uint8Array[]): Uint8Array[] {
    const perCpu = isPerCpu(this.type);
    const bad = () => new RuntimeError('EINVAL', `${this.name}.update: the value must be ${this.valueSize} bytes${perCpu ? `, ${this.userValueSize} bytes (one slot per CPU) or an array of ${this.cpus} values` : ''}, got ${describe(value)}`);
    if (value instanceof Uint8Array) {
      if (value.length === this.valueSize) return [value];
      if (isPerCpu(this.type) && value.length === this.userValueSize) {
        const slot = Math.ceil(this.valueSize / 8) * 8;
        return Array.from({ length: this.cpus }, (_, cpu) => value.subarray(cpu * slot, cpu * slot + this.valueSize));
      }
      throw bad();
    }
    if (Array.isArray(value) && perCpu && value.length === this.cpus && value.every((v) => v instanceof Uint8Array && v.length === this.valueSize)) return [...value];
    throw bad();
  }

  /**
   * Delete `key` (`BPF_MAP_DELETE_ELEM`). Returns false if it was absent.
   * @throws RuntimeError EINVAL for a bad key or an array map (array entries cannot be
   *   deleted); EPERM (frozen); DISPOSED.
   */
  delete(key: MapKey): boolean {
    this.live('delete');
    const k = this.keyBytes(key, 'delete');
    if (this.#frozen) throw new RuntimeError('EPERM', `${this.name}.delete: the map is frozen`);
    this.backend.reclaim?.();
    const ret = this.backend.delete(k);
    if (ret === -2) return false;
    this.check(ret, 'delete');
    return true;
  }

  /**
   * The key after `key` (`BPF_MAP_GET_NEXT_KEY`): the first key for undefined or a key that
   * is absent; undefined after the last.
   * @throws RuntimeError EINVAL for a bad key; DISPOSED.
   */
  nextKey(key?: MapKey): Uint8Array | undefined {
    this.live('nextKey');
    return this.backend.nextKey(key === undefined ? undefined : this.keyBytes(key, 'nextKey'));
  }

  /** Every key, taken at one instant. @throws RuntimeError DISPOSED. */
  keys(): Uint8Array[] {
    this.live('keys');
    return this.backend.keys();
  }

  /** Every entry (key, value in {@link lookup}'s format), keys taken at one instant. @throws RuntimeError DISPOSED. */
  entries(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) out.push([key, value]);
    }
    return out;
  }

  /**
   * A typed view: keys and values through codecs (`u32`, `u64`, `structCodec(...)`, or a
   * codec from an object's BTF). Per-CPU values are summed on `get`.
   * @throws RuntimeError EINVAL if a codec's size differs from the map's.
   */
  typed<K, V>(keyCodec: Codec<K>, valueCodec: Codec<V>): TypedMap<K, V> {
    if (keyCodec.size !== this.keySize || valueCodec.size > this.valueSize) {
      throw new RuntimeError('EINVAL', `${this.name}.typed: codecs of ${keyCodec.size}/${valueCodec.size} bytes do not fit keys of ${this.keySize} and values of ${this.valueSize} bytes`);
    }
    const pad = (bytes: Uint8Array) => {
      if (bytes.length === this.valueSize) return bytes;
      const out = new Uint8Array(this.valueSize);
      out.set(bytes);
      return out;
    };
    const getPerCpu = (key: K) => this.lookupPerCpu(keyCodec.encode(key))?.map((v) => valueCodec.decode(v.subarray(0, valueCodec.size)));
    return {
      get: (key) => {
        const values = getPerCpu(key);
        return values === undefined ? undefined : sumValues(values);
      },
      getPerCpu,
      set: (key, value, flags) => {
        const encoded = Array.isArray(value) ? value.map((v) => pad(valueCodec.encode(v as V))) : pad(valueCodec.encode(value as V));
        this.update(keyCodec.encode(key), encoded, flags);
      },
      delete: (key) => this.delete(keyCodec.encode(key)),
      entries: () => {
        const out: [K, V][] = [];
        for (const key of this.keys()) {
          const values = this.lookupPerCpu(key);
          if (values !== undefined) out.push([keyCodec.decode(key), sumValues(values.map((v) => valueCodec.decode(v.subarray(0, valueCodec.size))))]);
        }
        return out;
      },
    };
  }

  /** The raw bytes view of the whole map's values: `typed(bytesCodec(keySize), bytesCodec(valueSize))`. */
  bytes(): TypedMap<Uint8Array, Uint8Array> {
    return this.typed(bytesCodec(this.keySize), bytesCodec(this.valueSize));
  }

  /**
   * Freeze the map (`BPF_MAP_FREEZE`): TypeScript can no longer change it. `.rodata` is
   * frozen when its object is loaded. Idempotent.
   * @throws RuntimeError DISPOSED.
   */
  freeze(): void {
    this.live('freeze');
    this.#frozen = true;
  }

  /**
   * Hash maps: wait for a grace period and return the elements it frees to the map
   * (deleted and replaced elements are reused only after every reader thread passed a
   * quiescent state; this happens in the background too). Other maps: resolves at once.
   * @throws TextPokeError SYNC_TIMEOUT if a reader stalls; RuntimeError DISPOSED.
   */
  async synchronize(): Promise<void> {
    this.live('synchronize');
    if (this.backend.reclaim === undefined) return;
    this.backend.reclaim();
    await this.owner.arena.synchronize();
    this.backend.reclaim();
  }

  /** @internal What the JIT needs: addresses, the map's functions, an inlinable lookup. */
  jitInfo(): MapJitInfo {
    this.live('jitInfo');
    return {
      address: this.address,
      ops: this.backend.ops,
      ...(this.backend.directValue === undefined ? {} : { directValue: this.backend.directValue }),
      ...(this.backend.inlineLookup === undefined ? {} : { inlineLookup: this.backend.inlineLookup }),
    };
  }

  /** @internal The backend (for the runtime's reclamation). */
  get impl(): MapBackend {
    return this.backend;
  }

  /**
   * Hold a reference for something that keeps using the map's memory (a loaded program
   * whose code has its address, as the kernel's `bpf_map_inc`): {@link dispose} then frees
   * the memory only once every hold is released. Returns the release function (idempotent;
   * it resolves once the memory is freed if that was the last reference).
   * @throws RuntimeError DISPOSED.
   */
  hold(): () => Promise<void> {
    this.live('hold');
    this.#refs++;
    let released = false;
    return () => {
      if (released) return Promise.resolve();
      released = true;
      return this.unref();
    };
  }

  private unref(): Promise<void> {
    this.#refs--;
    return this.#refs === 0 ? this.owner.release(this) : Promise.resolve();
  }

  /**
   * Drop the caller's reference (the kernel's `close(map_fd)`): the map is unusable from
   * here through this object, and its memory is freed after a grace period once no loaded
   * program uses it. Resolves once the memory is freed when this was the last reference,
   * at once when a program still holds the map (it is freed when that program goes).
   * Idempotent.
   */
  dispose(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    this.#disposed = true;
    return this.unref();
  }
}
