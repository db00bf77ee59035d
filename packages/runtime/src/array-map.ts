/**
 * ARRAY and PERCPU_ARRAY maps (the kernel's kernel/bpf/arraymap.c): `max_entries` values
 * preallocated in arena data memory, indexed by a u32 key; per-CPU arrays keep one copy of
 * the whole array per CPU. Programs reach values through the map's own native functions
 * or, where the verifier knows the map, through the lookup the JIT inlines
 * (`array_map_gen_lookup`); TypeScript reads and writes the values in place.
 */
import { type Region, emitText } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError, type CodeBuffer, alu, dword, imul, jcc, mov, ret } from '@bpf-dispatcher/x86';
import { emitCopy } from './emit-copy.js';
import { ERRNO, RuntimeError } from './errors.js';
import type { InlineArrayLookup, MapBackend, MapContext } from './map-types.js';

/** Round up to a multiple of `n` (a power of two). */
const roundUp = (v: number, n: number) => Math.ceil(v / n) * n;

/** The most bytes one CPU's copy of an array may take (bounds every offset to 32 bits). */
export const MAX_ARRAY_BYTES = 1 << 30;

/**
 * `rax = &value[index]` for the index in eax (already checked below max_entries), of CPU
 * r12 for per-CPU arrays; clobbers rcx.
 */
function emitValueAddress(b: CodeBuffer, layout: InlineArrayLookup): void {
  imul(b, 'rax', 'rax', layout.elemSize);
  if (layout.cpuStride !== 0) {
    imul(b, 'rcx', 'r12', layout.cpuStride);
    alu(b, 'add', 'rax', 'rcx');
  }
  mov(b, 'rcx', layout.values);
  alu(b, 'add', 'rax', 'rcx');
}

/** Run an allocation, turning the arena's ENOMEM into the runtime's. */
function noRoom<T>(allocate: () => T, what: string): T {
  try {
    return allocate();
  } catch (error) {
    if (BpfDispatcherError.hasCode(error, 'ENOMEM')) throw new RuntimeError('ENOMEM', what, { cause: error });
    throw error;
  }
}

/**
 * Create the storage and native functions of an array map.
 * @throws RuntimeError E2BIG when the values would exceed {@link MAX_ARRAY_BYTES} per CPU;
 *   ENOMEM when the arena cannot hold them or the code (nothing stays allocated).
 */
export function createArrayBackend(ctx: MapContext): MapBackend {
  const { arena, def } = ctx;
  const perCpu = def.type === 'percpu_array';
  const elemSize = roundUp(def.valueSize, 8);
  const oneCopy = elemSize * def.maxEntries;
  if (oneCopy > MAX_ARRAY_BYTES) throw new RuntimeError('E2BIG', `array map ${def.name}: ${def.maxEntries} values of ${def.valueSize} bytes exceed ${MAX_ARRAY_BYTES} bytes`);
  const copies = perCpu ? ctx.cpus : 1;
  const cpuStride = perCpu ? roundUp(oneCopy, 64) : 0;
  const storage = noRoom(() => arena.allocData(perCpu ? cpuStride * copies : oneCopy, 64), `array map ${def.name}: no room in the arena for the values`);
  const layout: InlineArrayLookup = Object.freeze({ kind: 'array', values: storage.address, elemSize, maxEntries: def.maxEntries, cpuStride });
  /** Offsets of the update and delete functions in the map's code (set while emitting). */
  const offsets = { update: 0, delete: 0 };
  let code: Region;
  try {
    code = noRoom(() => emitText(arena, (b) => {
      const nul = b.newLabel();
      // lookup(map, key) -> value or NULL
      mov(b, 'eax', dword('rsi', 0));
      alu(b, 'cmp', 'eax', def.maxEntries, 'imm32');
      jcc(b, 'ae', nul);
      emitValueAddress(b, layout);
      ret(b);
      b.bind(nul);
      alu(b, 'xor', 'eax', 'eax');
      ret(b);
      // update(map, key, value, flags) -> 0 or -errno
      b.align(16);
      const update = b.length;
      const einval = b.newLabel();
      const e2big = b.newLabel();
      const eexist = b.newLabel();
      alu(b, 'cmp', 'rcx', 2);
      jcc(b, 'a', einval);
      mov(b, 'eax', dword('rsi', 0));
      alu(b, 'cmp', 'eax', def.maxEntries, 'imm32');
      jcc(b, 'ae', e2big);
      alu(b, 'cmp', 'rcx', 1);
      jcc(b, 'e', eexist);
      emitValueAddress(b, layout);
      emitCopy(b, 'rax', 'rdx', def.valueSize, 'rcx', 'rsi');
      alu(b, 'xor', 'eax', 'eax');
      ret(b);
      b.bind(einval);
      mov(b, 'rax', -ERRNO.EINVAL);
      ret(b);
      b.bind(e2big);
      mov(b, 'rax', -ERRNO.E2BIG);
      ret(b);
      b.bind(eexist);
      mov(b, 'rax', -ERRNO.EEXIST);
      ret(b);
      // delete(map, key): array entries cannot be deleted
      b.align(16);
      offsets.update = update;
      offsets.delete = b.length;
      mov(b, 'rax', -ERRNO.EINVAL);
      ret(b);
    }), `array map ${def.name}: no room in the arena for the code`);
  } catch (error) {
    arena.free(storage);
    throw error;
  }
  const at = (offset: number) => code.address + BigInt(offset);
  const valueAt = (index: number, cpu: number) => storage.address + BigInt(cpu * cpuStride + index * elemSize);
  const indexOf = (key: Uint8Array) => new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  return {
    ops: { lookup: code.address, update: at(offsets.update), delete: at(offsets.delete) },
    values: storage.address,
    elemSize,
    cpuStride,
    inlineLookup: layout,
    directValue: storage.address,
    regions: [storage, code],
    lookup(key) {
      const index = indexOf(key);
      if (index >= def.maxEntries) return undefined;
      return Array.from({ length: copies }, (_, cpu) => arena.read(valueAt(index, cpu), def.valueSize));
    },
    update(key, values, flags) {
      if (flags > 2) return -ERRNO.EINVAL;
      const index = indexOf(key);
      if (index >= def.maxEntries) return -ERRNO.E2BIG;
      if (flags === 1) return -ERRNO.EEXIST;
      for (let cpu = 0; cpu < copies; cpu++) arena.write(valueAt(index, cpu), (values.length === 1 ? values[0] : values[cpu]) as Uint8Array);
      return 0;
    },
    delete() {
      return -ERRNO.EINVAL;
    },
    nextKey(key) {
      const index = key === undefined ? -1 : indexOf(key);
      const next = index >= def.maxEntries || index < 0 ? 0 : index + 1;
      if (next >= def.maxEntries) return undefined;
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, next, true);
      return out;
    },
    keys() {
      return Array.from({ length: def.maxEntries }, (_, i) => {
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, i, true);
        return out;
      });
    },
  };
}
