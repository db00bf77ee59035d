import { readFileSync } from 'node:fs';
import { EbpfError } from '../errors.js';
import {
  BPF_CMD,
  BPF_MAP_TYPE,
  BPF_OBJ_NAME_LEN,
  BPF_UPDATE,
  type KernelMapType,
  MAP_CREATE,
  MAP_ELEM,
  MAP_FREEZE,
  MAP_NEXT_KEY,
} from './bpf-attr.js';
import { KernelError } from './kernel-error.js';
import { KernelFd } from './kernel-fd.js';
import { bpfCall } from './native.js';
import { checkName, checkU32, writeName } from './validate.js';

/** Options of {@link kernelMapCreate} (the fields of `BPF_MAP_CREATE`). */
export interface KernelMapOptions {
  /** The map type (`BPF_MAP_TYPE_*` in lower case). */
  readonly type: KernelMapType;
  /** Key size in bytes (0 for queue/stack maps, 4 for arrays). */
  readonly keySize: number;
  /** Value size in bytes. */
  readonly valueSize: number;
  /** Capacity. */
  readonly maxEntries: number;
  /** `map_flags` (e.g. `BPF_F_NO_PREALLOC` = 1). Default 0. */
  readonly flags?: number;
  /** Object name (≤ 15 of `[A-Za-z0-9_.]`). */
  readonly name?: string;
}

let possible: number | undefined;

/**
 * The number of possible CPUs (`/sys/devices/system/cpu/possible`): a per-CPU map's value
 * as user space sees it is one 8-byte-aligned slot per possible CPU.
 * @throws EbpfError UNSUPPORTED if the file cannot be read.
 */
export function possibleCpuCount(): number {
  if (possible !== undefined) return possible;
  let text: string;
  try {
    text = readFileSync('/sys/devices/system/cpu/possible', 'utf8');
  } catch (error) {
    throw new EbpfError('UNSUPPORTED', 'cannot read /sys/devices/system/cpu/possible', { cause: error });
  }
  let count = 0;
  for (const part of text.trim().split(',')) {
    const [lo, hi] = part.split('-').map((n) => Number.parseInt(n, 10));
    if (lo === undefined || Number.isNaN(lo)) continue;
    count += hi === undefined || Number.isNaN(hi) ? 1 : hi - lo + 1;
  }
  possible = Math.max(count, 1);
  return possible;
}

/**
 * A BPF map created through `BPF_MAP_CREATE`, owning its fd. Keys and values are bytes of
 * exactly `keySize` and `userValueSize` (for per-CPU maps: one `valueSize` slot rounded up
 * to 8 bytes per possible CPU, the way the kernel copies them).
 */
export class KernelMap extends KernelFd {
  /** Bytes of a value as `lookup`/`update` exchange it. */
  readonly userValueSize: number;
  #frozen = false;

  /** @internal */
  constructor(
    fd: number,
    readonly type: KernelMapType,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {
    super(fd);
    const perCpu = type === 'percpu_array' || type === 'percpu_hash' || type === 'lru_percpu_hash' || type === 'percpu_cgroup_storage';
    this.userValueSize = perCpu ? Math.ceil(valueSize / 8) * 8 * possibleCpuCount() : valueSize;
  }

  /**
   * `BPF_MAP_LOOKUP_ELEM`: the value stored under `key`, or `undefined` if there is none (ENOENT).
   * @throws EbpfError EINVAL for a key of the wrong size or a closed map; KernelError for other errnos.
   */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    const fd = this.fd;
    let out: Uint8Array | undefined;
    try {
      bpfCall(
        'BPF_MAP_LOOKUP_ELEM',
        BPF_CMD.MAP_LOOKUP_ELEM,
        (attr, scratch) => {
          const k = scratch.copy(key);
          const v = scratch.alloc(this.userValueSize);
          attr.setUint32(MAP_ELEM.map_fd, fd, true);
          attr.setBigUint64(MAP_ELEM.key, k.address, true);
          attr.setBigUint64(MAP_ELEM.value, v.address, true);
          out = v.bytes;
        },
        {
          after: (_attr, ret) => {
            out = ret >= 0 && out !== undefined ? out.slice() : undefined;
          },
        },
      );
    } catch (error) {
      if (error instanceof KernelError && error.errnoName === 'ENOENT') return undefined;
      throw error;
    }
    return out;
  }

  /**
   * `BPF_MAP_UPDATE_ELEM`: store `value` under `key`. `mode`: `'any'` (default), `'noexist'`
   * (create only) or `'exist'` (replace only).
   * @throws EbpfError EINVAL for wrong sizes or a closed map; KernelError (EEXIST, ENOENT, E2BIG, ...).
   */
  update(key: Uint8Array, value: Uint8Array, mode: 'any' | 'noexist' | 'exist' = 'any'): void {
    this.checkKey(key);
    if (!(value instanceof Uint8Array) || value.length !== this.userValueSize) {
      throw new EbpfError('EINVAL', `KernelMap.update: value must be ${this.userValueSize} bytes`);
    }
    const flags = mode === 'noexist' ? BPF_UPDATE.NOEXIST : mode === 'exist' ? BPF_UPDATE.EXIST : BPF_UPDATE.ANY;
    if (mode !== 'any' && mode !== 'noexist' && mode !== 'exist')
      throw new EbpfError('EINVAL', `KernelMap.update: unknown mode ${String(mode)}`);
    const fd = this.fd;
    bpfCall('BPF_MAP_UPDATE_ELEM', BPF_CMD.MAP_UPDATE_ELEM, (attr, scratch) => {
      attr.setUint32(MAP_ELEM.map_fd, fd, true);
      attr.setBigUint64(MAP_ELEM.key, scratch.copy(key).address, true);
      attr.setBigUint64(MAP_ELEM.value, scratch.copy(value).address, true);
      attr.setBigUint64(MAP_ELEM.flags, BigInt(flags), true);
    });
  }

  /**
   * `BPF_MAP_DELETE_ELEM`: remove `key`; false if it was not there (ENOENT). Arrays refuse
   * deletion (EINVAL, as a KernelError).
   * @throws EbpfError EINVAL for a wrong key size or a closed map; KernelError for other errnos.
   */
  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    const fd = this.fd;
    try {
      bpfCall('BPF_MAP_DELETE_ELEM', BPF_CMD.MAP_DELETE_ELEM, (attr, scratch) => {
        attr.setUint32(MAP_ELEM.map_fd, fd, true);
        attr.setBigUint64(MAP_ELEM.key, scratch.copy(key).address, true);
      });
    } catch (error) {
      if (error instanceof KernelError && error.errnoName === 'ENOENT') return false;
      throw error;
    }
    return true;
  }

  /**
   * `BPF_MAP_GET_NEXT_KEY`: the key after `key`, or the first key when `key` is omitted
   * (for a hash map, also when `key` is not in the map); `undefined` after the last key
   * (ENOENT). Queue and stack maps have no keys (the kernel refuses with EINVAL).
   * @throws EbpfError EINVAL for a key of the wrong size or a closed map; KernelError for other errnos.
   */
  nextKey(key?: Uint8Array): Uint8Array | undefined {
    if (key !== undefined) this.checkKey(key);
    const fd = this.fd;
    let out: Uint8Array | undefined;
    try {
      bpfCall(
        'BPF_MAP_GET_NEXT_KEY',
        BPF_CMD.MAP_GET_NEXT_KEY,
        (attr, scratch) => {
          const next = scratch.alloc(this.keySize);
          attr.setUint32(MAP_NEXT_KEY.map_fd, fd, true);
          if (key !== undefined) attr.setBigUint64(MAP_NEXT_KEY.key, scratch.copy(key).address, true);
          attr.setBigUint64(MAP_NEXT_KEY.next_key, next.address, true);
          out = next.bytes;
        },
        {
          after: (_attr, ret) => {
            out = ret >= 0 && out !== undefined ? out.slice() : undefined;
          },
        },
      );
    } catch (error) {
      if (error instanceof KernelError && error.errnoName === 'ENOENT') return undefined;
      throw error;
    }
    return out;
  }

  /**
   * Every key, walked with {@link nextKey} from the first (what `bpftool map dump` does):
   * a snapshot in the kernel's order (index order for arrays, bucket order for hashes).
   * A hash map changed meanwhile may make the kernel restart the walk; keys are returned
   * once each, and the walk stops after `maxEntries` distinct keys.
   * @throws EbpfError EINVAL for a closed map; KernelError for other errnos.
   */
  keys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    // bounded: a walk that restarts (a concurrent delete) can revisit keys, at most maxEntries of them are distinct
    let steps = 0;
    const limit = 2 * this.maxEntries + 2;
    for (let key = this.nextKey(); key !== undefined && steps < limit; key = this.nextKey(key), steps++) {
      const id = Buffer.from(key).toString('hex');
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(key);
      if (out.length >= this.maxEntries) break;
    }
    return out;
  }

  /**
   * `BPF_MAP_FREEZE`: from now on user space may no longer change the map (updates and
   * deletes from `bpf()` fail with EPERM); programs still may unless the map was created
   * with `BPF_F_RDONLY_PROG` (then the verifier can treat its contents as constants, as
   * libbpf arranges for `.rodata`). Freezing twice is refused by the kernel (EPERM on 6.18: a frozen map is no longer writable).
   * @throws EbpfError EINVAL for a closed map; KernelError (EPERM when already frozen, EBUSY while writably mmapped, ...).
   */
  freeze(): void {
    const fd = this.fd;
    bpfCall('BPF_MAP_FREEZE', BPF_CMD.MAP_FREEZE, (attr) => {
      attr.setUint32(MAP_FREEZE.map_fd, fd, true);
    });
    this.#frozen = true;
  }

  /** True once {@link freeze} succeeded. */
  get frozen(): boolean {
    return this.#frozen;
  }

  private checkKey(key: Uint8Array): void {
    if (!(key instanceof Uint8Array) || key.length !== this.keySize) {
      throw new EbpfError('EINVAL', `KernelMap: key must be a Uint8Array of ${this.keySize} bytes`);
    }
  }
}

/**
 * Create a map in the running kernel (`BPF_MAP_CREATE`).
 * @throws EbpfError EINVAL for bad options, UNSUPPORTED without `bpf()`; KernelError if the
 * kernel refuses (e.g. EINVAL for sizes the type does not allow, EPERM without privilege).
 */
export function kernelMapCreate(options: KernelMapOptions): KernelMap {
  if (typeof options !== 'object' || options === null) throw new EbpfError('EINVAL', 'kernelMapCreate: options must be an object');
  const typeNumber = Object.hasOwn(BPF_MAP_TYPE, options.type) ? BPF_MAP_TYPE[options.type] : undefined;
  if (typeNumber === undefined) {
    throw new EbpfError(
      'EINVAL',
      `kernelMapCreate: unknown map type ${String(options.type)} (one of ${Object.keys(BPF_MAP_TYPE).join(', ')})`,
    );
  }
  checkU32('kernelMapCreate', 'keySize', options.keySize);
  checkU32('kernelMapCreate', 'valueSize', options.valueSize);
  checkU32('kernelMapCreate', 'maxEntries', options.maxEntries);
  const flags = options.flags ?? 0;
  checkU32('kernelMapCreate', 'flags', flags);
  if (options.name !== undefined) checkName('kernelMapCreate', options.name);
  const fd = bpfCall('BPF_MAP_CREATE', BPF_CMD.MAP_CREATE, (attr) => {
    attr.setUint32(MAP_CREATE.map_type, typeNumber, true);
    attr.setUint32(MAP_CREATE.key_size, options.keySize, true);
    attr.setUint32(MAP_CREATE.value_size, options.valueSize, true);
    attr.setUint32(MAP_CREATE.max_entries, options.maxEntries, true);
    attr.setUint32(MAP_CREATE.map_flags, flags, true);
    if (options.name !== undefined) writeName(attr, MAP_CREATE.map_name, options.name, BPF_OBJ_NAME_LEN);
  });
  return new KernelMap(fd, options.type, options.keySize, options.valueSize, options.maxEntries);
}
