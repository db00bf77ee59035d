/**
 * Assert that a call throws a BpfObjectError with a given code (and, optionally, fields).
 */
import { expect } from 'vitest';
import { BpfObjectError, type BpfObjectErrorCode } from '../errors.js';

/** The BpfObjectError `fn` throws; fails the test if it throws nothing or something else, or another code. */
export function expectError(fn: () => unknown, code: BpfObjectErrorCode, message?: RegExp): BpfObjectError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a BpfObjectError').toBeInstanceOf(BpfObjectError);
  const err = thrown as BpfObjectError;
  expect(err.code, err.message).toBe(code);
  if (message !== undefined) expect(err.message).toMatch(message);
  return err;
}
