/**
 * Codecs: typed views over a map's key and value bytes. A codec turns bytes of a fixed
 * size into a JavaScript value and back; per-CPU values are summed field by field, the
 * way `bpftool map dump` totals are read.
 */
import type { FieldSpecs, StructDef } from '@bpf-dispatcher/text-poke';
import { RuntimeError } from './errors.js';

/** Bytes ↔ value for one key or value type. */
export interface Codec<T> {
  /** Size in bytes of the encoded form. */
  readonly size: number;
  decode(bytes: Uint8Array): T;
  encode(value: T): Uint8Array;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A little-endian u32 (array indexes, `__u32` keys and counters). */
export const u32: Codec<number> = Object.freeze({
  size: 4,
  decode: (bytes: Uint8Array) => viewOf(bytes).getUint32(0, true),
  encode: (value: number) => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RuntimeError('EINVAL', `u32 codec: ${String(value)} is not a u32`);
    const out = new Uint8Array(4);
    viewOf(out).setUint32(0, value, true);
    return out;
  },
});

/** A little-endian u64. */
export const u64: Codec<bigint> = Object.freeze({
  size: 8,
  decode: (bytes: Uint8Array) => viewOf(bytes).getBigUint64(0, true),
  encode: (value: bigint) => {
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) throw new RuntimeError('EINVAL', `u64 codec: ${String(value)} is not a u64`);
    const out = new Uint8Array(8);
    viewOf(out).setBigUint64(0, value, true);
    return out;
  },
});

/** The raw bytes of a given size. */
export function bytesCodec(size: number): Codec<Uint8Array> {
  return Object.freeze({
    size,
    decode: (bytes: Uint8Array) => bytes.slice(),
    encode: (value: Uint8Array) => {
      if (!(value instanceof Uint8Array) || value.length !== size) throw new RuntimeError('EINVAL', `bytes codec: expected ${size} bytes`);
      return value.slice();
    },
  });
}

/** A plain object of a struct's fields, numbers for u8/u16/u32 and bigints for u64/ptr. */
export type StructValue<F extends FieldSpecs> = { -readonly [K in keyof F]: number | bigint };

/**
 * A codec for a native struct defined with text-poke's `defineStruct`: decodes to an object
 * with one property per field.
 */
export function structCodec<F extends FieldSpecs>(def: StructDef<F>): Codec<StructValue<F>> {
  return Object.freeze({
    size: def.size,
    decode: (bytes: Uint8Array) => {
      const view = viewOf(bytes);
      const out: Record<string, number | bigint> = {};
      for (const f of def.fields) out[f.name] = readField(view, f.offset, f.size);
      return out as StructValue<F>;
    },
    encode: (value: StructValue<F>) => {
      const out = new Uint8Array(def.size);
      const view = viewOf(out);
      for (const f of def.fields) {
        const v = (value as Record<string, unknown>)[f.name];
        if (v === undefined) continue;
        writeField(view, f.offset, f.size, v, `${def.name}.${f.name}`);
      }
      return out;
    },
  });
}

/** Read an unsigned little-endian integer of 1, 2, 4 (number) or 8 (bigint) bytes. */
export function readField(view: DataView, offset: number, size: number): number | bigint {
  switch (size) {
    case 1:
      return view.getUint8(offset);
    case 2:
      return view.getUint16(offset, true);
    case 4:
      return view.getUint32(offset, true);
    default:
      return view.getBigUint64(offset, true);
  }
}

/** Write an unsigned little-endian integer of 1, 2, 4 or 8 bytes. @throws RuntimeError EINVAL if it does not fit. */
export function writeField(view: DataView, offset: number, size: number, value: unknown, what: string): void {
  if (size === 8) {
    const v = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
    if (typeof v !== 'bigint' || v < -(1n << 63n) || v >= 1n << 64n) throw new RuntimeError('EINVAL', `${what}: expected a bigint of 64 bits`);
    view.setBigUint64(offset, BigInt.asUintN(64, v), true);
    return;
  }
  const max = 2 ** (size * 8);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -(max / 2) || value >= max) throw new RuntimeError('EINVAL', `${what}: expected an integer of ${size * 8} bits`);
  const v = value < 0 ? value + max : value;
  if (size === 1) view.setUint8(offset, v);
  else if (size === 2) view.setUint16(offset, v, true);
  else view.setUint32(offset, v, true);
}

/**
 * The sum of per-CPU values: numbers and bigints add up, objects add up property by
 * property (non-numeric properties are taken from the first CPU).
 */
export function sumValues<T>(values: readonly T[]): T {
  const first = values[0];
  if (first === undefined) throw new RuntimeError('EINVAL', 'sumValues: no values');
  if (typeof first === 'number') return values.reduce((a, b) => (a as number) + (b as number), 0) as T;
  if (typeof first === 'bigint') return values.reduce((a, b) => (a as bigint) + (b as bigint), 0n) as T;
  if (typeof first === 'object' && first !== null && !(first instanceof Uint8Array)) {
    const out: Record<string, unknown> = { ...(first as Record<string, unknown>) };
    for (const key of Object.keys(out)) {
      const column = values.map((v) => (v as Record<string, unknown>)[key]);
      if (column.every((c) => typeof c === 'number' || typeof c === 'bigint' || (typeof c === 'object' && c !== null && !(c instanceof Uint8Array)))) {
        out[key] = sumValues(column);
      }
    }
    return out as T;
  }
  return first;
}
