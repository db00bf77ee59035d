import { type Address, assertAddress, toAddress } from '../address.js';
import { type CodeBuffer, assertCodeBuffer } from '../code-buffer.js';
import { describeValue } from '../describe.js';
import { OperandError } from '../errors.js';
import { jmp } from './branch.js';

/**
 * How generated code reaches a target held in a register when no direct branch applies
 * (the dispatcher's miss path, the trampoline's default): one value, created once by whoever
 * owns the thunk, carried unchanged to every emitter.
 *
 * - `{ kind: 'thunk', thunk }`: `jmp rel32` to a retpoline thunk at `thunk` (the kernel's
 *   `emit_indirect_jump` with `X86_FEATURE_RETPOLINE`: a jump to `__x86_indirect_thunk_<reg>`).
 * - `{ kind: 'indirect' }`: a plain `jmp reg` (the kernel without retpolines).
 *
 * `thunk` is an unsigned 64-bit address (see {@link fallbackThunk}).
 */
export type Fallback = { readonly kind: 'thunk'; readonly thunk: bigint } | { readonly kind: 'indirect' };

/** The fallback that is a plain `jmp reg` (frozen; compare by `kind`, not identity). */
export const FALLBACK_INDIRECT: Fallback = Object.freeze({ kind: 'indirect' });

/**
 * The fallback that jumps to the retpoline thunk at `address` (normalised to an unsigned
 * 64-bit bigint; the result is frozen).
 * @throws OperandError (INVALID_OPERAND) unless `address` is an {@link Address}.
 */
export function fallbackThunk(address: Address): Fallback {
  assertAddress(address, 'fallbackThunk');
  return Object.freeze({ kind: 'thunk', thunk: toAddress(address) });
}

/** True if `value` is a well-formed {@link Fallback}. Never throws. */
export function isFallback(value: unknown): value is Fallback {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'indirect') return true;
  if (kind !== 'thunk') return false;
  const thunk = (value as { thunk?: unknown }).thunk;
  return typeof thunk === 'bigint' && thunk >= 0n && thunk < 1n << 64n;
}

/**
 * Check that `value` is a {@link Fallback}.
 * @throws OperandError (INVALID_OPERAND) otherwise, naming `what`.
 */
export function assertFallback(value: unknown, what: string): asserts value is Fallback {
  if (!isFallback(value)) {
    throw new OperandError(
      `${what}: fallback must be { kind: 'thunk', thunk: <u64 bigint> } or { kind: 'indirect' } (see fallbackThunk / FALLBACK_INDIRECT), got ${describeValue(value)}`,
    );
  }
}

/**
 * Emit the fallback jump to the address in `rdx` (where the dispatcher and the trampoline
 * hold the program, as the kernel's dispatcher does): `jmp rel32` to the thunk (E9 cd,
 * 5 bytes; a thunk for rdx, see `retpolineThunk`), or `jmp rdx` (FF /4: `ff e2`). The kernel's
 * `emit_indirect_jump()` as used by its dispatcher's `emit_fallback_jump()`.
 * On any error the buffer is unchanged.
 * @throws OperandError for a bad buffer or fallback; DisplacementRangeError if
 *   the thunk is beyond rel32 reach.
 */
export function emitFallbackJump(buf: CodeBuffer, fallback: Fallback): void {
  assertCodeBuffer(buf, 'emitFallbackJump');
  assertFallback(fallback, 'emitFallbackJump');
  if (fallback.kind === 'thunk') jmp(buf, fallback.thunk);
  else jmp(buf, 'rdx');
}
