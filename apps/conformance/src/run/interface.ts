/**
 * Interface names to ifindexes, in the network namespace of the calling thread: libc's
 * `if_nametoindex(3)` (an ioctl on a socket of that namespace, so it also holds after a
 * `setns()` that left `/sys` mounted for another namespace), bound through koffi on first use.
 */
import { createRequire } from 'node:module';
import { CliError } from '../output.js';

const require = createRequire(import.meta.url);

/** The longest interface name (`IFNAMSIZ` less the terminating NUL). */
export const IFNAME_MAX = 15;

let nameToIndex: ((name: string) => number) | undefined;

function bind(): (name: string) => number {
  if (nameToIndex !== undefined) return nameToIndex;
  const koffi = require('koffi') as { load(path: string): { func(signature: string): (...args: unknown[]) => number } };
  const fn = koffi.load('libc.so.6').func('unsigned int if_nametoindex(const char *ifname)');
  nameToIndex = (name) => fn(name);
  return nameToIndex;
}

/**
 * The ifindex of interface `name` in the calling thread's network namespace.
 * @throws CliError INVALID_INPUT for a name that is no interface name or names no
 *   interface here; UNSUPPORTED off Linux or when libc cannot be bound.
 */
export function interfaceIndex(name: string): number {
  if (name.length === 0 || name.length > IFNAME_MAX || /[\s/:]/.test(name) || name === '.' || name === '..')
    throw new CliError(
      'INVALID_INPUT',
      `--dev ${JSON.stringify(name)} is not an interface name (1 to ${IFNAME_MAX} characters, no spaces, / or :)`,
    );
  if (process.platform !== 'linux') throw new CliError('UNSUPPORTED', `--dev needs Linux; this is ${process.platform}/${process.arch}`);
  let index: number;
  try {
    index = bind()(name);
  } catch (error) {
    throw new CliError('UNSUPPORTED', `--dev ${name}: cannot call if_nametoindex through koffi: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!Number.isInteger(index) || index <= 0)
    throw new CliError('INVALID_INPUT', `--dev ${name}: no such interface in this network namespace`);
  return index;
}
