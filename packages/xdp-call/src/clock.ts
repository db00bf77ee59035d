import { clockCalibration, emitReadTsc as emitTsc } from '@bpf-dispatcher/runtime';
import type { TextArena } from '@bpf-dispatcher/text-poke';
import type { CodeBuffer } from '@bpf-dispatcher/x86';
import { XdpError } from './errors.js';
import { assertArena, assertCodeBuffer, describe } from './validate.js';

/** Emit `rax = rdtsc()` as one 64-bit value (clobbers rdx). */
export function emitReadTsc(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'emitReadTsc');
  emitTsc(buf);
}

/**
 * Nanoseconds per time-stamp-counter tick for this arena: the runtime's calibration (the
 * one `bpf_ktime_get_ns` uses), measured once against the process clock on the native
 * arena; 1 on the simulated arena (its clock ticks once per instruction, a nominal
 * nanosecond).
 */
export function nsPerTick(arena: TextArena): number {
  assertArena(arena, 'nsPerTick');
  return clockCalibration(arena).nsPerTick;
}

/** Convert time-stamp-counter ticks to nanoseconds for this arena. */
export function ticksToNanoseconds(arena: TextArena, ticks: bigint): bigint {
  if (typeof ticks !== 'bigint') throw new XdpError('EINVAL', `ticksToNanoseconds: ticks must be a bigint, got ${describe(ticks)}`);
  if (ticks === 0n) return 0n;
  return BigInt(Math.round(Number(ticks) * nsPerTick(arena)));
}
