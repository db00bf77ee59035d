import { InvalidArgumentError } from 'commander';

/**
 * Parse an address as the cover letter writes them: hex (`0xffffffffc0020000`) or a
 * decimal, negative ones included (`-1` is 0xffffffffffffffff). Returns it unsigned.
 * @throws InvalidArgumentError (commander's) for anything else or a value beyond 64 bits.
 */
export function parseAddress(text: string): bigint {
  const t = text.trim();
  if (!/^(-?0x[0-9a-f]+|-?\d+)$/i.test(t)) throw new InvalidArgumentError(`"${text}" is not an address (use hex like 0xffffffffc0020000 or a decimal like -1)`);
  const negative = t.startsWith('-');
  const magnitude = BigInt(negative ? t.slice(1) : t);
  const value = negative ? -magnitude : magnitude;
  if (value < -(1n << 63n) || value >= 1n << 64n) throw new InvalidArgumentError(`"${text}" does not fit 64 bits`);
  return BigInt.asUintN(64, value);
}

/** Parse a positive integer option. @throws InvalidArgumentError. */
export function parseCount(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${text}"`);
    return n;
  };
}
