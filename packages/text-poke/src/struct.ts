import { TextPokeError } from './errors.js';
import type { RegionMemory } from './region-memory.js';
import type { Region, TextArena, Word } from './types.js';

/** The scalar types a native struct field may have (x86-64 Linux: `ptr` is 8 bytes). */
export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 'ptr';

/** A field: just its type (placed at the next naturally aligned offset), or a type and an explicit offset. */
export type FieldSpec = FieldType | { readonly type: FieldType; readonly offset?: number };

/** The field list of a struct, in declaration order (object key order). */
export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

/** The type of a field spec. */
type TypeOf<S extends FieldSpec> = S extends FieldType ? S : S extends { readonly type: infer T } ? T : never;

/** What a load of a field returns: a number for u8/u16/u32, a bigint for u64/ptr. */
export type FieldValue<S extends FieldSpec> = TypeOf<S> extends 'u64' | 'ptr' ? bigint : number;

/** What a store accepts: a number for u8/u16/u32; a bigint or non-negative safe integer for u64/ptr. */
export type FieldInput<S extends FieldSpec> = TypeOf<S> extends 'u64' | 'ptr' ? Word : number;

/** One laid-out field. */
export interface StructField {
  readonly name: string;
  readonly type: FieldType;
  /** Byte offset from the start of the struct. */
  readonly offset: number;
  /** Size in bytes (1, 2, 4 or 8). */
  readonly size: number;
}

/** Options of {@link defineStruct}. */
export interface StructOptions {
  /** Total size in bytes (default: the C layout's, rounded up to the alignment); at least the fields' extent. */
  readonly size?: number;
  /** Alignment, a power of two (default: the largest field alignment, as C does). */
  readonly align?: number;
}

/** Little-endian accessors over one instance of a struct in arena data memory (checked on every use). */
export interface StructView<F extends FieldSpecs> {
  /** The struct's definition. */
  readonly struct: StructDef<F>;
  /** Address of the instance's first byte. */
  readonly address: bigint;
  /** Load a field. @throws TextPokeError UNKNOWN_FIELD; DISPOSED / EFAULT once the arena is disposed / the region freed. */
  get<K extends keyof F & string>(field: K): FieldValue<F[K]>;
  /**
   * Store a field.
   * @throws TextPokeError UNKNOWN_FIELD; EINVAL for a value that does not fit the field's type;
   *   DISPOSED / EFAULT as {@link get}.
   */
  set<K extends keyof F & string>(field: K, value: FieldInput<F[K]>): void;
  /** Zero the whole instance (`size` bytes). @throws like {@link get}. */
  clear(): void;
}

/**
 * A native struct defined once: its C layout (`offsets` for `[reg + off]` operands in
 * emitters, `size`, `align`) and typed views over arena memory. Frozen.
 */
export interface StructDef<F extends FieldSpecs> {
  readonly name: string;
  /** Size in bytes (what `sizeof` gives in C). */
  readonly size: number;
  /** Alignment in bytes (what `_Alignof` gives in C). */
  readonly align: number;
  /** Byte offset of each field (what `offsetof` gives in C). */
  readonly offsets: { readonly [K in keyof F]: number };
  /** The fields in declaration order. */
  readonly fields: readonly StructField[];
  /**
   * A view of the instance at byte `offset` of a data region's checked accessor
   * (`arena.memory(region)`).
   * @throws TextPokeError EINVAL for a bad offset or a misaligned instance; EFAULT if the
   *   instance does not lie inside the region; DISPOSED / EFAULT once disposed / freed.
   */
  view(memory: RegionMemory, offset?: number): StructView<F>;
  /**
   * A view of the instance at byte `offset` of `region` in `arena` (`arena.memory(region)`).
   * @throws like the other overload; the errors of `arena.memory`.
   */
  view(arena: TextArena, region: Region, offset?: number): StructView<F>;
}

const SIZES: Readonly<Record<FieldType, number>> = Object.freeze({ u8: 1, u16: 2, u32: 4, u64: 8, ptr: 8 });
const U64_LIMIT = 1n << 64n;
const MAX_STRUCT = 1 << 30;

/** The error for a field name the struct does not have. */
export class UnknownFieldError extends TextPokeError {
  constructor(
    readonly struct: string,
    readonly field: string,
  ) {
    super('UNKNOWN_FIELD', `struct ${struct} has no field ${JSON.stringify(field)}`);
  }
}

function bad(name: string, message: string): TextPokeError {
  return new TextPokeError('EINVAL', `defineStruct(${name}): ${message}`);
}

function isPow2(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 4096;
}

/** Lay out the fields: explicit offsets where given (must be naturally aligned), else the next aligned offset. */
function layout(name: string, specs: FieldSpecs): StructField[] {
  if (typeof specs !== 'object' || specs === null || Array.isArray(specs)) throw bad(name, 'fields must be an object of name: type');
  const fields: StructField[] = [];
  let end = 0;
  for (const [field, spec] of Object.entries(specs)) {
    const type: unknown = typeof spec === 'object' && spec !== null ? spec.type : spec;
    if (typeof type !== 'string' || !Object.hasOwn(SIZES, type)) throw bad(name, `field ${field}: unknown type ${JSON.stringify(type)} (u8, u16, u32, u64, ptr)`);
    const size = SIZES[type as FieldType];
    const explicit: unknown = typeof spec === 'object' && spec !== null ? spec.offset : undefined;
    let offset: number;
    if (explicit === undefined) {
      offset = Math.ceil(end / size) * size;
    } else {
      if (typeof explicit !== 'number' || !Number.isSafeInteger(explicit) || explicit < 0 || explicit > MAX_STRUCT) throw bad(name, `field ${field}: bad offset ${String(explicit)}`);
      if (explicit % size !== 0) throw bad(name, `field ${field}: offset ${explicit} is not ${size}-byte aligned`);
      offset = explicit;
    }
    for (const other of fields) {
      if (offset < other.offset + other.size && other.offset < offset + size) throw bad(name, `field ${field} overlaps ${other.name}`);
    }
    fields.push(Object.freeze({ name: field, type: type as FieldType, offset, size }));
    end = Math.max(end, offset + size);
  }
  if (fields.length === 0) throw bad(name, 'a struct needs at least one field');
  return fields;
}

/**
 * Define a native struct once: its C layout on x86-64 (each field at its natural
 * alignment unless an explicit offset is given; size rounded up to the struct's alignment,
 * the largest field's unless given), the offsets emitters use for `[reg + off]` operands,
 * and little-endian typed views over arena data memory built on the checked
 * {@link RegionMemory} (so a view throws DISPOSED after the arena is disposed instead of
 * touching unmapped memory). Mirrors a C `struct` declaration with `offsetof`/`sizeof`.
 *
 * ```ts
 * const XdpBuff = defineStruct('xdp_buff', { data: 'ptr', data_end: 'ptr', data_meta: 'ptr', data_hard_start: 'ptr', rxq: 'ptr' });
 * mov(buf, 'rax', qword('rdi', XdpBuff.offsets.data_end));
 * XdpBuff.view(arena, region).set('data', address);
 * ```
 * @throws TextPokeError EINVAL for an empty or malformed field list, an unknown type, a
 *   misaligned or overlapping explicit offset, or a size/alignment that does not fit.
 */
export function defineStruct<const F extends FieldSpecs>(name: string, fields: F, options: StructOptions = {}): StructDef<F> {
  if (typeof name !== 'string' || name === '') throw new TextPokeError('EINVAL', 'defineStruct: name must be a non-empty string');
  if (typeof options !== 'object' || options === null) throw bad(name, 'options must be an object');
  const list = layout(name, fields);
  const natural = Math.max(...list.map((f) => f.size));
  const align = options.align ?? natural;
  if (!isPow2(align)) throw bad(name, `alignment ${String(align)} is not a power of two up to 4096`);
  const extent = Math.max(...list.map((f) => f.offset + f.size));
  const size = options.size ?? Math.ceil(extent / align) * align;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < extent || size > MAX_STRUCT) throw bad(name, `size ${String(size)} is smaller than the fields' ${extent} bytes or not an integer`);
  if (size % align !== 0) throw bad(name, `size ${size} is not a multiple of the alignment ${align}`);
  const byName = new Map(list.map((f) => [f.name, f]));
  const offsets = Object.freeze(Object.fromEntries(list.map((f) => [f.name, f.offset]))) as { readonly [K in keyof F]: number };

  const def: StructDef<F> = Object.freeze({
    name,
    size,
    align,
    offsets,
    fields: Object.freeze(list),
    view(target: RegionMemory | TextArena, regionOrOffset?: Region | number, maybeOffset?: number): StructView<F> {
      let memory: RegionMemory;
      let offset: unknown;
      if (typeof regionOrOffset === 'object' && regionOrOffset !== null) {
        const arena = target as TextArena;
        if (typeof arena !== 'object' || arena === null || typeof arena.memory !== 'function') throw new TextPokeError('EINVAL', `${name}.view: expected a TextArena`);
        memory = arena.memory(regionOrOffset);
        offset = maybeOffset ?? 0;
      } else {
        memory = target as RegionMemory;
        if (typeof memory !== 'object' || memory === null || typeof memory.getU8 !== 'function') {
          throw new TextPokeError('EINVAL', `${name}.view: expected arena.memory(region), or (arena, region)`);
        }
        offset = regionOrOffset ?? 0;
      }
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new TextPokeError('EINVAL', `${name}.view: bad offset ${String(offset)}`);
      memory.read(offset, 0); // throws DISPOSED / EFAULT for a disposed arena or a freed region
      const address = memory.address + BigInt(offset);
      if (address % BigInt(align) !== 0n) throw new TextPokeError('EINVAL', `${name}.view: 0x${address.toString(16)} is not ${align}-byte aligned`);
      if (offset + size > memory.size) {
        throw new TextPokeError('EFAULT', `${name}.view: ${size} bytes at offset ${offset} do not fit the ${memory.size}-byte region`);
      }
      return makeView(def, byName, memory, offset, address);
    },
  } as StructDef<F>);
  return def;
}

function makeView<F extends FieldSpecs>(def: StructDef<F>, byName: ReadonlyMap<string, StructField>, memory: RegionMemory, base: number, address: bigint): StructView<F> {
  const fieldOf = (field: unknown): StructField => {
    const f = typeof field === 'string' ? byName.get(field) : undefined;
    if (f === undefined) throw new UnknownFieldError(def.name, String(field));
    return f;
  };
  return Object.freeze({
    struct: def,
    address,
    get(field: string) {
      const f = fieldOf(field);
      const at = base + f.offset;
      switch (f.type) {
        case 'u8':
          return memory.getU8(at);
        case 'u16':
          return memory.getU16(at);
        case 'u32':
          return memory.getU32(at);
        default:
          return memory.getU64(at);
      }
    },
    set(field: string, value: Word) {
      const f = fieldOf(field);
      const at = base + f.offset;
      const what = `${def.name}.${f.name}`;
      if (f.size === 8) {
        const ok = typeof value === 'bigint' ? value >= 0n && value < U64_LIMIT : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
        if (!ok) throw new TextPokeError('EINVAL', `${what}: ${typeof value === 'bigint' ? `${value}n` : String(value)} is not a ${f.type} (a bigint in [0, 2^64) or a non-negative safe integer)`);
        memory.setU64(at, value);
        return;
      }
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** (f.size * 8)) {
        throw new TextPokeError('EINVAL', `${what}: ${typeof value === 'bigint' ? `${value}n` : String(value)} is not a ${f.type} (a number)`);
      }
      if (f.size === 1) memory.setU8(at, value);
      else if (f.size === 2) memory.setU16(at, value);
      else memory.setU32(at, value);
    },
    clear() {
      memory.write(base, new Uint8Array(def.size));
    },
  }) as StructView<F>;
}
