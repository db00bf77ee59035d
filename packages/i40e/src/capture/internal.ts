/** Helpers shared by the pcap and pcapng readers and writers (not exported from the package). */
import { I40eError } from '../errors.js';
import type { CaptureFrameInput } from './types.js';

/** A DataView over exactly `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * `bytes[start, end)` as a fresh plain Uint8Array (`copy`) or a view. `new Uint8Array(typedArray)` copies
 * even when the input is a Node Buffer, whose `slice` would return a view.
 */
export function extract(bytes: Uint8Array, start: number, end: number, copy: boolean): Uint8Array {
  const view = bytes.subarray(start, end);
  return copy ? new Uint8Array(view) : view;
}

/** Throws EINVAL unless `bytes` is a Uint8Array (a Node Buffer is one). */
export function assertBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new I40eError('EINVAL', 'a capture must be given as a Uint8Array');
}

const NS_PER_SECOND = 1_000_000_000n;

/** Timestamp units per second of a pcapng `if_tsresol` byte: 10^v, or 2^(v & 0x7f) with bit 7 set. */
export function unitsPerSecond(tsresol: number): bigint {
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

/** Timestamp units (of `perSecond`) to nanoseconds, rounding down. */
export function unitsToNs(units: bigint, perSecond: bigint): bigint {
  if (perSecond === NS_PER_SECOND) return units;
  if (perSecond === 1_000_000n) return units * 1000n;
  return (units * NS_PER_SECOND) / perSecond;
}

/** Nanoseconds to timestamp units (of `perSecond`), rounding down. */
export function nsToUnits(ns: bigint, perSecond: bigint): bigint {
  if (perSecond === NS_PER_SECOND) return ns;
  return (ns * perSecond) / NS_PER_SECOND;
}

/** Rounds up to a multiple of 4 (pcapng padding). */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** A validated frame to write: the bytes kept, the wire length, the timestamp. */
export interface FrameToWrite {
  readonly data: Uint8Array;
  readonly originalLength: number;
  readonly timestampNs: bigint;
  readonly interface: number;
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Validates a writer option that must be an integer in [min, max] (EINVAL otherwise); undefined gives `fallback`. */
export function integerOption(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isInteger(value, min, max)) throw new I40eError('EINVAL', `${name} must be an integer in ${min}..${max}, not ${String(value)}`);
  return value;
}

/**
 * Validates the frames given to a writer and truncates each to `snaplen` (EINVAL for a frame without
 * Uint8Array data, an original length below the data's, a negative or non-bigint timestamp, an interface index outside `interfaces`, when not null).
 */
export function framesToWrite(frames: Iterable<CaptureFrameInput>, snaplen: number, interfaces: number | null): FrameToWrite[] {
  const out: FrameToWrite[] = [];
  if (frames === null || typeof frames !== 'object' || typeof (frames as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function') {
    throw new I40eError('EINVAL', 'frames must be an iterable of { data: Uint8Array, ... }');
  }
  let i = 0;
  for (const frame of frames) {
    const what = `frame ${i}`;
    if (frame === null || typeof frame !== 'object' || !(frame.data instanceof Uint8Array))
      throw new I40eError('EINVAL', `${what}: data must be a Uint8Array`);
    const originalLength = frame.originalLength ?? frame.data.length;
    if (!isInteger(originalLength, frame.data.length, 0xffff_ffff)) {
      throw new I40eError(
        'EINVAL',
        `${what}: originalLength ${String(originalLength)} must be an integer from data.length (${frame.data.length}) to 2^32-1`,
      );
    }
    const timestampNs = frame.timestampNs ?? 0n;
    if (typeof timestampNs !== 'bigint' || timestampNs < 0n) throw new I40eError('EINVAL', `${what}: timestampNs must be a bigint >= 0n`);
    const iface = interfaces === null ? 0 : (frame.interface ?? 0);
    if (interfaces !== null && !isInteger(iface, 0, interfaces - 1))
      throw new I40eError('EINVAL', `${what}: interface ${String(iface)} is not one of the ${interfaces} written`);
    const data = frame.data.length > snaplen ? frame.data.subarray(0, snaplen) : frame.data;
    out.push({ data, originalLength, timestampNs, interface: iface });
    i++;
  }
  return out;
}
