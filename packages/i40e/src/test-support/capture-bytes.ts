/**
 * Test support for the capture-file tests: fixtures, byte concatenation and the assertion
 * that a read fails with a given CaptureError.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { readCapture } from '../capture/capture.js';
import { CaptureError } from '../capture/errors.js';

/** The bytes of `capture/fixtures/<name>` (real tcpdump / dumpcap output). */
export const captureFixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../capture/fixtures/${name}`, import.meta.url)));

/** The parts, one after another in one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs `fn`, expects a CaptureError (by its marker), returns it. */
export function captureError(fn: () => unknown): CaptureError {
  try {
    fn();
  } catch (error) {
    expect(CaptureError.isCaptureError(error)).toBe(true);
    return error as CaptureError;
  }
  throw new Error('expected a CaptureError, nothing was thrown');
}

/** Expects reading `bytes` to fail with this code, reason and byte offset. */
export function expectCaptureError(bytes: Uint8Array, code: string, reason: string, offset: number): void {
  expect(captureError(() => readCapture(bytes))).toMatchObject({ code, reason, offset });
}
