import {
  type Address,
  CodeBuffer,
  cmp,
  DisplacementRangeError,
  FALLBACK_INDIRECT,
  type Fallback as FallbackJump,
  emitFallbackJump,
  fallbackThunk,
  fitsInt32,
  isAddress,
  isFallback,
  jcc,
  toAddress,
} from '@bpf-dispatcher/x86';
import { DispatcherError, ImageTooLargeError, NotSimm32Error } from './errors.js';
import { assertCodeBuffer, describe, optionsObject } from './validate.js';

/**
 * How the image falls back when `rdx` matches no entry: `retpoline` jumps to the retpoline
 * thunk for rdx (`__x86_indirect_thunk_rdx`), `indirect` is a plain `jmp rdx` (what the
 * kernel emits when retpolines are off).
 */
export type Fallback = 'retpoline' | 'indirect';

/**
 * The one value saying how a leaf of the image (and the trampoline) reaches rdx when no
 * entry matches: x86's `Fallback`, `{ kind: 'thunk', thunk }` (`jmp` to a thunk at an
 * address) or `{ kind: 'indirect' }` (`jmp rdx`). A {@link Trampoline} creates it once
 * (`trampoline.fallbackJump`); the {@link Dispatcher} hands it unchanged to the generator.
 */
export type { FallbackJump };

/**
 * Options of {@link emitDispatcher}: the trampoline's {@link Trampoline.fallbackJump}
 * (`{ jump }`, what a {@link Dispatcher} passes, unchanged), or the older
 * `{ fallback, thunk? }` form.
 */
export type EmitDispatcherOptions =
  | { readonly jump: FallbackJump }
  | {
      readonly fallback: Fallback;
      /** The retpoline thunk for rdx; required when `fallback` is `retpoline`. */
      readonly thunk?: Address;
    };

/** Bytes of one dispatcher image half. */
export const HALF_SIZE = 2048;
/** Bytes of the whole double-buffered image (one page). */
export const IMAGE_SIZE = 4096;

/** Program addresses as sorted signed numbers. @throws NotSimm32Error / DispatcherError EINVAL. */
function sortedSigned(progs: readonly Address[]): number[] {
  const out = new Array<number>(progs.length);
  for (let i = 0; i < progs.length; i++) {
    const p = progs[i];
    if (!isAddress(p)) throw new DispatcherError('EINVAL', `emitDispatcher: ${String(p)} is not a program address`);
    if (!fitsInt32(p)) throw new NotSimm32Error(toAddress(p));
    out[i] = Number(BigInt.asIntN(64, BigInt(p)));
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
  assertCodeBuffer(buf, 'emitDispatcher');
  if (!Array.isArray(progs)) throw new DispatcherError('EINVAL', `emitDispatcher: progs must be an array of addresses, got ${describe(progs)}`);
  if (progs.length === 0) throw new DispatcherError('EINVAL', 'emitDispatcher: no programs (an empty dispatcher is the trampoline nop)');
  const jump = fallbackJumpOf(options, 'emitDispatcher');
  const sorted = sortedSigned(progs);
  try {
    emitRange(buf, sorted, 0, sorted.length - 1, jump);
  } catch (error) {
    if (error instanceof DisplacementRangeError) {
      throw new DispatcherError('ERANGE', `emitDispatcher: a jump from the image at 0x${buf.base.toString(16)} does not reach its target (${error.message})`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The options' fallback as the one {@link FallbackJump} value: `{ jump }` as given (checked),
 * `{ fallback: 'retpoline', thunk }` as a jump to the thunk, `{ fallback: 'indirect' }` as
 * `jmp rdx`.
 * @throws DispatcherError EINVAL for anything else (or a retpoline fallback without a thunk).
 * @internal shared with emit-profile.ts; not exported from the package.
 */
export function fallbackJumpOf(options: EmitDispatcherOptions, what: string): FallbackJump {
  const opts = optionsObject(options, what) as { jump?: unknown; fallback?: unknown; thunk?: unknown };
  if (opts.jump !== undefined) return checkJump(opts.jump, what);
  const { fallback, thunk } = opts;
  if (fallback !== 'retpoline' && fallback !== 'indirect') throw new DispatcherError('EINVAL', `${what}: unknown fallback ${describe(fallback)}`);
  if (fallback === 'indirect') return FALLBACK_INDIRECT;
  if (!isAddress(thunk)) throw new DispatcherError('EINVAL', `${what}: the retpoline fallback needs a thunk address, got ${describe(thunk)}`);
  return fallbackThunk(thunk);
}

function checkJump(jump: unknown, what: string): FallbackJump {
  if (isFallback(jump)) return jump;
  throw new DispatcherError('EINVAL', `${what}: jump must be a fallback (fallbackThunk(address) or FALLBACK_INDIRECT), got ${describe(jump)}`);
}

function emitRange(buf: CodeBuffer, progs: readonly number[], a: number, b: number, jump: FallbackJump): void {
  if (a === b) {
    const prog = progs[a] as number;
    cmp(buf, 'rdx', prog, 'imm32');
    jcc(buf, 'e', prog);
    emitFallbackJump(buf, jump);
    return;
  }
  const pivot = Math.floor((b - a) / 2);
  cmp(buf, 'rdx', progs[a + pivot] as number, 'imm32');
  const upper = buf.newLabel();
  jcc(buf, 'g', upper, pivot > 2 ? 'near' : 'short');
  emitRange(buf, progs, a, a + pivot, jump);
  buf.align(16);
  buf.bind(upper);
  emitRange(buf, progs, a + pivot + 1, b, jump);
}

/**
 * Generate a complete image for `progs` to run at `address` and check that it fits
 * `limit` bytes. Without `staging` the bytes are a fresh array the caller owns; with it
 * (a dispatcher's own staging buffer, at least `limit` bytes long to avoid growing) they
 * are a view of `staging`, valid until the caller reuses it.
 * @throws ImageTooLargeError if it does not fit; DispatcherError EINVAL for a bad address,
 *   limit or staging buffer; the errors of {@link emitDispatcher}.
 */
export function generateImage(address: Address, progs: readonly Address[], options: EmitDispatcherOptions, limit = HALF_SIZE, staging?: Uint8Array): Uint8Array {
  if (!isAddress(address)) throw new DispatcherError('EINVAL', `generateImage: address must be a bigint or safe integer, got ${describe(address)}`);
  if (!Number.isSafeInteger(limit) || limit < 0) throw new DispatcherError('EINVAL', `generateImage: limit must be a non-negative integer, got ${describe(limit)}`);
  if (staging !== undefined && !(staging instanceof Uint8Array)) throw new DispatcherError('EINVAL', `generateImage: staging must be a Uint8Array, got ${describe(staging)}`);
  const buf = new CodeBuffer(address, staging ?? HALF_SIZE * 2);
  emitDispatcher(buf, progs, options);
  const bytes = buf.finish();
  if (bytes.length > limit) throw new ImageTooLargeError(bytes.length, limit, progs.length);
  return bytes;
}

/** The largest `n` {@link dispatcherImageSize} accepts (the kernel's `num_progs` is far smaller). */
export const MAX_IMAGE_PROGS = 2 ** 31;

const CMP_SIZE = 7; // cmp rdx, imm32 (48 81 FA id)
const JG_SHORT = 2; // jg rel8 (7F cb)
const JG_NEAR = 6; // jg rel32 (0F 8F cd)
const JE_NEAR = 6; // je rel32 (0F 84 cd)
const JMP_THUNK = 5; // jmp rel32 (E9 cd)
const JMP_RDX = 2; // jmp rdx (FF E2)

/** The fallback's size class: a 5-byte `jmp thunk` or a 2-byte `jmp rdx`. @throws DispatcherError EINVAL. */
function leafKind(fallback: unknown, what: string): 'thunk' | 'indirect' {
  if (fallback === 'retpoline') return 'thunk';
  if (fallback === 'indirect') return 'indirect';
  if (typeof fallback === 'object' && fallback !== null) return checkJump(fallback, what).kind;
  throw new DispatcherError('EINVAL', `${what}: fallback must be 'retpoline', 'indirect' or a fallback jump, got ${describe(fallback)}`);
}

/**
 * Size of the subtree {@link emitRange} emits for `count` programs starting at a byte offset
 * congruent to `phase` mod 16: the same recursion, counting bytes instead of emitting them.
 * Only two subtree sizes occur per level of the binary search, so memoising on (count,
 * phase) makes this O(log n).
 */
function rangeSize(count: number, phase: number, leaf: number, memo: Map<number, number>): number {
  if (count === 1) return leaf;
  const key = count * 16 + phase;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const pivot = Math.floor((count - 1) / 2);
  const head = CMP_SIZE + (pivot > 2 ? JG_NEAR : JG_SHORT);
  const lower = rangeSize(pivot + 1, (phase + head) % 16, leaf, memo);
  const end = (phase + head + lower) % 16;
  const pad = (16 - end) % 16;
  const size = head + lower + pad + rangeSize(count - pivot - 1, 0, leaf, memo);
  memo.set(key, size);
  return size;
}

/**
 * Size in bytes of the image for `n` programs (it depends only on `n` and the fallback):
 * 18, 50, 98, 130, 162 for 1..5 programs and 594 for 16 with the retpoline fallback.
 * Computed in closed form from the shape of the binary search (O(log n)), so any `n` up to
 * {@link MAX_IMAGE_PROGS} answers at once.
 * @throws DispatcherError EINVAL unless `n` is an integer from 0 to MAX_IMAGE_PROGS and
 *   `fallback` is `retpoline` or `indirect`.
 */
export function dispatcherImageSize(n: number, fallback: Fallback | FallbackJump = 'retpoline'): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_IMAGE_PROGS) {
    throw new DispatcherError('EINVAL', `dispatcherImageSize: n must be an integer from 0 to ${MAX_IMAGE_PROGS}, got ${describe(n)}`);
  }
  const kind = leafKind(fallback, 'dispatcherImageSize');
  if (n === 0) return 0;
  const leaf = CMP_SIZE + JE_NEAR + (kind === 'thunk' ? JMP_THUNK : JMP_RDX);
  // images start 16-byte aligned (a half is 2048-aligned)
  return rangeSize(n, 0, leaf, new Map());
}

/**
 * The largest number of programs whose image fits `halfSize` bytes (52 for a 2048-byte half
 * with retpolines). A binary search over {@link dispatcherImageSize} (sizes grow with n).
 * @throws DispatcherError EINVAL unless `halfSize` is a non-negative safe integer and
 *   `fallback` is `retpoline` or `indirect`.
 */
export function maxProgsForHalf(halfSize: number = HALF_SIZE, fallback: Fallback | FallbackJump = 'retpoline'): number {
  if (!Number.isSafeInteger(halfSize) || halfSize < 0) throw new DispatcherError('EINVAL', `maxProgsForHalf: halfSize must be a non-negative integer, got ${describe(halfSize)}`);
  const kind = leafKind(fallback, 'maxProgsForHalf');
  if (halfSize !== HALF_SIZE) return searchMaxProgs(halfSize, kind);
  const known = halfLimits[kind];
  if (known !== undefined) return known;
  const limit = searchMaxProgs(halfSize, kind);
  halfLimits[kind] = limit;
  return limit;
}

/** {@link maxProgsForHalf} of the real half size, per size class (every Dispatcher asks). */
const halfLimits: Partial<Record<'thunk' | 'indirect', number>> = {};

function searchMaxProgs(halfSize: number, kind: 'thunk' | 'indirect'): number {
  // every program costs at least one leaf (15 bytes), so n <= halfSize / 15
  let lo = 0;
  let hi = Math.min(MAX_IMAGE_PROGS, Math.floor(halfSize / (CMP_SIZE + JE_NEAR + JMP_RDX)) + 1);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (dispatcherImageSize(mid, kind === 'thunk' ? 'retpoline' : 'indirect') <= halfSize) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
