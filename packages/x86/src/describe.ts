/**
 * Describing and checking untrusted input for error messages: never throws, whatever the
 * value (bigints, symbols, null-prototype objects, cycles, throwing getters).
 */

/** A short, safe description of any value, for error messages. Never throws. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'bigint':
      return `${value}n`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    default:
      break;
  }
  if (value === null) return 'null';
  try {
    const o = value as { kind?: unknown; base?: unknown; disp?: unknown };
    if (o.kind === 'mem' && typeof o.base === 'string' && typeof o.disp === 'number') {
      return `[${o.base}${o.disp >= 0 ? '+' : ''}${o.disp}]`;
    }
    const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    return json === undefined ? 'an object' : json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return 'an object';
  }
}

/**
 * A lookup table of an operation table's own entries (`ALU_OPS`, `SHIFT_OPS`, ...): only
 * its own entries can be found in it, never an inherited `toString` or `constructor`.
 * Look entries up with {@link ownEntry}.
 */
export function ownTable<V>(table: Readonly<Record<string, V>>): ReadonlyMap<string, V> {
  return new Map(Object.entries(table));
}

/**
 * The entry `key` of a table made by {@link ownTable}, or `undefined` for any other key
 * (inherited names such as `toString` included, and non-strings).
 */
export function ownEntry<V>(table: ReadonlyMap<string, V>, key: unknown): V | undefined {
  return typeof key === 'string' ? table.get(key) : undefined;
}
