import { type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, alu, rdtsc, ret, shift } from '@bpf-dispatcher/x86';
import { XdpError } from './errors.js';
import { assertArena, assertCodeBuffer, describe } from './validate.js';

const calibrations = new WeakMap<TextArena, number>();

/** Emit `rax = rdtsc()` as one 64-bit value (clobbers rdx). */
export function emitReadTsc(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'emitReadTsc');
  rdtsc(buf);
  shift(buf, 'shl', 'rdx', 32);
  alu(buf, 'or', 'rax', 'rdx');
}

/**
 * Nanoseconds per time-stamp-counter tick for this arena: measured once against the
 * process clock on the native arena; 1 on the simulated arena (its clock ticks once per
 * instruction, a nominal nanosecond).
 */
export function nsPerTick(arena: TextArena): number {
  assertArena(arena, 'nsPerTick');
  const known = calibrations.get(arena);
  if (known !== undefined) return known;
  let value = 1;
  if (arena.kind === 'native') {
    const region = emitText(arena, (buf) => {
      emitReadTsc(buf);
      ret(buf);
    });
    const t0 = process.hrtime.bigint();
    const c0 = arena.call(region.address);
    const until = t0 + 20_000_000n;
    while (process.hrtime.bigint() < until) {
      // spin 20 ms
    }
    const c1 = arena.call(region.address);
    const t1 = process.hrtime.bigint();
    arena.free(region);
    value = Number(t1 - t0) / Number(c1 - c0);
  }
  calibrations.set(arena, value);
  return value;
}

/** Convert time-stamp-counter ticks to nanoseconds for this arena. */
export function ticksToNanoseconds(arena: TextArena, ticks: bigint): bigint {
  if (typeof ticks !== 'bigint') throw new XdpError('EINVAL', `ticksToNanoseconds: ticks must be a bigint, got ${describe(ticks)}`);
  if (ticks === 0n) return 0n;
  return BigInt(Math.round(Number(ticks) * nsPerTick(arena)));
}
