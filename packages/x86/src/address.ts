/**
 * Addresses: the one place that says what an address is and how it is normalised
 * (every package normalises addresses through {@link toAddress}).
 */
import { describeValue } from './describe.js';
import { OperandError } from './errors.js';

/** A 64-bit absolute address: a bigint (any 64-bit pattern) or a safe integer read as signed. */
export type Address = bigint | number;

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** True if `value` is an {@link Address}: a safe integer or a bigint in the 64-bit range (signed or unsigned). */
export function isAddress(value: unknown): value is Address {
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'bigint' && value >= INT64_MIN && value <= UINT64_MAX;
}

/**
 * Check that `value` is an {@link Address}.
 * @throws OperandError (INVALID_OPERAND) otherwise: strings, non-integers, unsafe numbers,
 *   bigints beyond 64 bits.
 */
export function assertAddress(value: unknown, what: string): asserts value is Address {
  if (!isAddress(value)) {
    throw new OperandError(`${what}: ${describeValue(value)} is not an address (use a safe integer or a 64-bit bigint)`);
  }
}

/**
 * Normalise an {@link Address} to the unsigned 64-bit bigint every layer stores and
 * compares (`-1` and `0xffffffffffffffffn` are the same address, as the kernel's
 * `unsigned long`; a bigint is taken modulo 2^64, as a C cast would). Packages with their
 * own error class pass `error` to throw it instead.
 * @param what names the value in the error message.
 * @param error builds the error to throw (default: x86's OperandError, INVALID_OPERAND).
 * @throws OperandError (or what `error` returns) unless `value` is a safe integer or a bigint.
 */
export function toAddress(value: unknown, what = 'address', error?: (message: string) => Error): bigint {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  const message = `${what}: ${describeValue(value)} is not an address (use a safe integer or a bigint)`;
  throw error === undefined ? new OperandError(message) : error(message);
}
