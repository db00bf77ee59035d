/**
 * The time-stamp counter as a clock: one calibration per arena, shared by
 * `bpf_ktime_get_ns` (native code reads it) and by TypeScript that converts ticks
 * (program statistics).
 */
import { type TextArena, defineStruct, emitText } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, alu, rdtsc, ret, shift } from '@bpf-dispatcher/x86';

/**
 * The calibration in native memory, read by the `ktime_get_ns` helper:
 * `ns = ns0 + ((tsc - tsc0) * mult) >> 32` (`mult` is nanoseconds per tick in 32.32 fixed
 * point), the kernel's clocksource `mult`/`shift` with `shift` = 32.
 */
export const ClockStruct = defineStruct('bpf_clock', { tsc0: 'u64', ns0: 'u64', mult: 'u64' });

/** A calibration: nanoseconds per tick and the fixed-point form native code uses. */
export interface ClockCalibration {
  /** Nanoseconds per time-stamp-counter tick (1 on the simulated arena: its counter ticks once per instruction, a nominal nanosecond). */
  readonly nsPerTick: number;
  /** A counter reading and the CLOCK_MONOTONIC time (ns) taken with it. */
  readonly tsc0: bigint;
  readonly ns0: bigint;
  /** `nsPerTick` in 32.32 fixed point. */
  readonly mult: bigint;
}

const calibrations = new WeakMap<TextArena, ClockCalibration>();

/** Emit `rax = rdtsc()` as one 64-bit value (clobbers rdx). */
export function emitReadTsc(buf: CodeBuffer): void {
  rdtsc(buf);
  shift(buf, 'shl', 'rdx', 32);
  alu(buf, 'or', 'rax', 'rdx');
}

/**
 * The arena's clock calibration, measured once (about 20 ms against the process's
 * monotonic clock on the native arena; nominal on the simulated arena).
 * @throws the arena's TextPokeError (DISPOSED, ENOMEM).
 */
export function clockCalibration(arena: TextArena): ClockCalibration {
  const known = calibrations.get(arena);
  if (known !== undefined) return known;
  const region = emitText(arena, (buf) => {
    emitReadTsc(buf);
    ret(buf);
  });
  let result: ClockCalibration;
  try {
    if (arena.kind === 'native') {
      // each end: the counter read between two clock reads, the tightest of a few tries (a
      // thread descheduled between the reads only widens that try, which is then not used)
      const sample = () => {
        let best = { tsc: 0n, ns: 0n, width: 1n << 62n };
        for (let i = 0; i < 7; i++) {
          const before = process.hrtime.bigint();
          const tsc = arena.call(region.address);
          const after = process.hrtime.bigint();
          if (after - before < best.width) best = { tsc, ns: (before + after) / 2n, width: after - before };
        }
        return best;
      };
      const first = sample();
      const until = first.ns + 20_000_000n;
      while (process.hrtime.bigint() < until) {
        // spin 20 ms
      }
      const last = sample();
      const nsPerTick = Number(last.ns - first.ns) / Number(last.tsc - first.tsc);
      result = { nsPerTick, tsc0: last.tsc, ns0: last.ns, mult: BigInt(Math.round(nsPerTick * 2 ** 32)) };
    } else {
      result = { nsPerTick: 1, tsc0: arena.call(region.address), ns0: process.hrtime.bigint(), mult: 1n << 32n };
    }
  } finally {
    arena.free(region);
  }
  calibrations.set(arena, Object.freeze(result));
  return result;
}
