import { type Address, CodeBuffer, DisplacementRangeError, aluImm32, indirectJump, jcc } from '@bpf-dispatcher/x86';
import { DispatcherError, ImageTooLargeError, NotSimm32Error } from './errors.js';

/**
 * How the image falls back when `rdx` matches no entry: `retpoline` jumps to the retpoline
 * thunk for rdx (`__x86_indirect_thunk_rdx`), `indirect` is a plain `jmp rdx` (what the
 * kernel emits when retpolines are off).
 */
export type Fallback = 'retpoline' | 'indirect';

/** Options of {@link emitDispatcher}. */
export interface EmitDispatcherOptions {
  readonly fallback: Fallback;
  /** The retpoline thunk for rdx; required when `fallback` is `retpoline`. */
  readonly thunk?: Address;
}

/** Bytes of one dispatcher image half. */
export const HALF_SIZE = 2048;
/** Bytes of the whole double-buffered image (one page). */
export const IMAGE_SIZE = 4096;

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/** Program addresses as sorted signed numbers. @throws NotSimm32Error / DispatcherError EINVAL. */
function sortedSigned(progs: readonly Address[]): number[] {
  const out = new Array<number>(progs.length);
  for (let i = 0; i < progs.length; i++) {
    const p = progs[i];
    let v: number;
    if (typeof p === 'bigint') {
      const s = BigInt.asIntN(64, p);
      if (s < -0x8000_0000n || s > 0x7fff_ffffn) throw new NotSimm32Error(BigInt.asUintN(64, p));
      v = Number(s);
    } else if (typeof p === 'number' && Number.isSafeInteger(p)) {
      v = p;
      if (v < INT32_MIN || v > INT32_MAX) throw new NotSimm32Error(BigInt.asUintN(64, BigInt(p)));
    } else {
      throw new DispatcherError('EINVAL', `emitDispatcher: ${String(p)} is not a program address`);
    }
    out[i] = v;
  }
  return out.sort((a, b) => a - b);
}

/**
 * Emit the dispatcher image into `buf`: the kernel's `emit_bpf_dispatcher()`, a binary
 * search over the program addresses sorted as signed values. Each inner node is
 * `cmp rdx, imm32` (48 81 FA id) and `jg upper` — near (0F 8F rel32) when the pivot is
 * greater than 2, else short (7F rel8) — with the upper half's start aligned to 16 bytes
 * with P6 nops; each leaf is `cmp rdx, prog; je prog` (0F 84 rel32) followed by the
 * fallback (`jmp thunk` or `jmp rdx`). The image therefore behaves as the identity on rdx:
 * every path ends in a jump to the value in rdx.
 *
 * @throws NotSimm32Error if an address is not a sign-extended imm32.
 * @throws DispatcherError ERANGE if a program or the thunk is beyond rel32 reach of the
 *   image; EINVAL for no programs, a bad address or a missing thunk.
 */
export function emitDispatcher(buf: CodeBuffer, progs: readonly Address[], options: EmitDispatcherOptions): void {
  if (progs.length === 0) throw new DispatcherError('EINVAL', 'emitDispatcher: no programs (an empty dispatcher is the trampoline nop)');
  const { fallback, thunk } = options;
  if (fallback !== 'retpoline' && fallback !== 'indirect') throw new DispatcherError('EINVAL', `emitDispatcher: unknown fallback ${String(fallback)}`);
  if (fallback === 'retpoline' && thunk === undefined) throw new DispatcherError('EINVAL', 'emitDispatcher: the retpoline fallback needs a thunk address');
  const sorted = sortedSigned(progs);
  try {
    emitRange(buf, sorted, 0, sorted.length - 1, fallback === 'retpoline' ? (thunk as Address) : undefined);
  } catch (error) {
    if (error instanceof DisplacementRangeError) {
      throw new DispatcherError('ERANGE', `emitDispatcher: a jump from the image at 0x${buf.base.toString(16)} does not reach its target (${error.message})`, {
        cause: error,
      });
    }
    throw error;
  }
}

function emitRange(buf: CodeBuffer, progs: readonly number[], a: number, b: number, thunk: Address | undefined): void {
  if (a === b) {
    const prog = progs[a] as number;
    aluImm32(buf, 'cmp', 'rdx', prog);
    jcc(buf, 'e', prog);
    indirectJump(buf, 'rdx', thunk === undefined ? { retpoline: false } : { retpoline: true, thunk });
    return;
  }
  const pivot = Math.floor((b - a) / 2);
  aluImm32(buf, 'cmp', 'rdx', progs[a + pivot] as number);
  const upper = buf.newLabel();
  jcc(buf, 'g', upper, pivot > 2 ? 'near' : 'short');
  emitRange(buf, progs, a, a + pivot, thunk);
  buf.align(16);
  buf.bind(upper);
  emitRange(buf, progs, a + pivot + 1, b, thunk);
}

const staging = new Uint8Array(HALF_SIZE * 2);

/**
 * Generate a complete image for `progs` to run at `address` and check that it fits
 * `limit` bytes. The bytes are a view of a shared staging array: copy or write them out
 * before the next call.
 * @throws ImageTooLargeError if it does not fit; the errors of {@link emitDispatcher}.
 */
export function generateImage(address: Address, progs: readonly Address[], options: EmitDispatcherOptions, limit = HALF_SIZE): Uint8Array {
  const buf = new CodeBuffer(address, staging);
  emitDispatcher(buf, progs, options);
  const bytes = buf.finish();
  if (bytes.length > limit) throw new ImageTooLargeError(bytes.length, limit, progs.length);
  return bytes;
}

/**
 * Size in bytes of the image for `n` programs (it depends only on `n` and the fallback):
 * 18, 50, 98, 130, 162 for 1..5 programs and 594 for 16 with the retpoline fallback.
 */
export function dispatcherImageSize(n: number, fallback: Fallback = 'retpoline'): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new DispatcherError('EINVAL', `dispatcherImageSize: n must be a non-negative integer, got ${n}`);
  if (n === 0) return 0;
  const progs = Array.from({ length: n }, (_, i) => -1 - i);
  const buf = new CodeBuffer(-0x4000_0000, Math.max(64, n * 48));
  emitDispatcher(buf, progs, { fallback, thunk: -0x4000_0000 - 0x1000 });
  return buf.finish().length;
}

/** The largest number of programs whose image fits `halfSize` bytes (52 for a 2048-byte half with retpolines). */
export function maxProgsForHalf(halfSize: number = HALF_SIZE, fallback: Fallback = 'retpoline'): number {
  let n = 0;
  while (dispatcherImageSize(n + 1, fallback) <= halfSize) n++;
  return n;
}
