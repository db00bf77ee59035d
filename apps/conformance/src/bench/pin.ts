import { createRequire } from 'node:module';
import { cpus } from 'node:os';

const require = createRequire(import.meta.url);

/**
 * Pin the calling thread to one CPU (sched_setaffinity), so that a benchmark is not
 * migrated mid-run. Returns the CPU, or null where pinning is unavailable.
 */
export function pinToCpu(cpu: number = cpus().length - 1): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const koffi = require('koffi') as {
      load(path: string): { func(signature: string): (...args: unknown[]) => number };
    };
    const setaffinity = koffi.load('libc.so.6').func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)');
    const mask = new Uint8Array(128);
    mask[cpu >> 3] = 1 << (cpu & 7);
    return setaffinity(0, mask.length, mask) === 0 ? cpu : null;
  } catch {
    return null;
  }
}
