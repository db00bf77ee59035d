import { describeValue, ownEntry, ownTable } from '../describe.js';
import { OperandError } from '../errors.js';

/**
 * Condition codes of Jcc/SETcc/CMOVcc and their 4-bit encodings (Intel SDM Vol. 1, B.1.4.7),
 * with the usual aliases (`z` = `e`, `nle` = `g`, ...). Signed comparisons are l/le/g/ge;
 * the dispatcher's binary search uses `g` (jg) because it sorts addresses as signed values.
 */
export const CONDITIONS = Object.freeze({
  o: 0, no: 1,
  b: 2, c: 2, nae: 2,
  ae: 3, nb: 3, nc: 3,
  e: 4, z: 4,
  ne: 5, nz: 5,
  be: 6, na: 6,
  a: 7, nbe: 7,
  s: 8, ns: 9,
  p: 10, pe: 10,
  np: 11, po: 11,
  l: 12, nge: 12,
  ge: 13, nl: 13,
  le: 14, ng: 14,
  g: 15, nle: 15,
} as const);

/** A condition name. */
export type Condition = keyof typeof CONDITIONS;

/** The 16 canonical condition names in encoding order. */
export const CANONICAL_CONDITIONS: readonly Condition[] = Object.freeze([
  'o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g',
] as const);

const CONDITION_CODES = ownTable<number>(CONDITIONS);

/** The 4-bit code of a condition. @throws OperandError for an unknown name. */
export function conditionCode(cond: Condition): number {
  const cc = ownEntry(CONDITION_CODES, cond);
  if (cc === undefined) throw new OperandError(`unknown condition ${describeValue(cond)}`);
  return cc;
}
