/**
 * Helpers for the verifier's tests (not exported from the package).
 */
import { expect } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { EbpfError } from '../errors.js';
import type { Insn } from '../insn.js';
import { type VerifiedProgram, VerifierError, type VerifyOptions } from '../verifier/types.js';
import { verify } from '../verifier/verify.js';

/** Options for the memory program type with a buffer of `size` bytes. */
export function memOpts(size = 64, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { progType: { kind: 'memory', size }, ...extra };
}

/** Options for XDP. */
export function xdpOpts(extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { progType: 'xdp', ...extra };
}

/** One hash map (fd 3: 4-byte key, 8-byte value) and one array map with direct value access (fd 4: 4-byte key, 16-byte value). */
export const MAPS = new Map([
  [3, { keySize: 4, valueSize: 8 }],
  [4, { keySize: 4, valueSize: 16, directValue: true }],
]);

function program(src: string | readonly Insn[]): readonly Insn[] {
  return typeof src === 'string' ? assemble(src) : src;
}

/** Verify and expect success. */
export function accepts(src: string | readonly Insn[], options: VerifyOptions = memOpts()): VerifiedProgram {
  return verify(program(src), options);
}

/** Verify and expect a VerifierError with this reason (exact string or pattern) and, if given, instruction index. */
export function rejects(src: string | readonly Insn[], options: VerifyOptions, reason: string | RegExp, insnIndex?: number): VerifierError {
  const insns = program(src);
  let error: unknown;
  try {
    verify(insns, options);
  } catch (e) {
    error = e;
  }
  expect(error, `expected a refusal: ${String(reason)}`).toBeInstanceOf(VerifierError);
  const ve = error as VerifierError;
  expect(EbpfError.hasCode(ve, 'VERIFY')).toBe(true);
  if (typeof reason === 'string') expect(ve.reason).toBe(reason);
  else expect(ve.reason).toMatch(reason);
  if (insnIndex !== undefined) expect(ve.insnIndex).toBe(insnIndex);
  return ve;
}
