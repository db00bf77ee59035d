import { EbpfError } from '../errors.js';

/** @throws EbpfError EINVAL unless `value` is an integer in 0..2^32-1. */
export function checkU32(where: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new EbpfError('EINVAL', `${where}: ${name} must be an integer in 0..2^32-1, got ${String(value)}`);
  }
}

/** @throws EbpfError EINVAL unless `name` is a valid BPF object name (≤ 15 of `[A-Za-z0-9_.]`). */
export function checkName(where: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.]{0,15}$/.test(name)) {
    throw new EbpfError('EINVAL', `${where}: name must be at most 15 characters of [A-Za-z0-9_.], got ${JSON.stringify(name)}`);
  }
}

/** Write an ASCII name, NUL-padded, into `length` bytes at `offset`. */
export function writeName(view: DataView, offset: number, name: string, length: number): void {
  for (let i = 0; i < length - 1 && i < name.length; i++) view.setUint8(offset + i, name.charCodeAt(i));
}
