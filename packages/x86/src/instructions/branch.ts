import type { Address, CodeBuffer, Label, Target } from '../code-buffer.js';
import { emitRR } from '../encoding.js';
import { DisplacementRangeError, OperandError } from '../errors.js';
import { type Gp64, isGp, regOfWidth } from '../registers.js';
import { CANONICAL_CONDITIONS, type Condition, conditionCode } from './conditions.js';

const JCC_NAMES = CANONICAL_CONDITIONS.map((cond) => `j${cond}`);

/** Branch displacement size: `short` = rel8, `near` = rel32. */
export type BranchForm = 'short' | 'near';

function isAddress(target: unknown): target is Address {
  return typeof target === 'bigint' || typeof target === 'number';
}

/**
 * Emit the displacement of a branch whose opcode bytes are already written.
 * For a label the field is recorded as a fixup; for an address it is computed now.
 */
function branchField(buf: CodeBuffer, target: Target, form: BranchForm, what: string): void {
  if (!isAddress(target)) {
    buf.labelField(target as Label, form === 'short' ? 'rel8' : 'rel32');
    return;
  }
  if (typeof target === 'number' && !Number.isSafeInteger(target)) {
    throw new OperandError(`${what}: ${target} is not an address (use a safe integer or a bigint)`);
  }
  if (form === 'short') {
    const rel = buf.relTo(target, buf.length + 1);
    if (rel < -128 || rel > 127) throw new DisplacementRangeError(BigInt(rel), 8, what);
    buf.u8(Number(rel) & 0xff);
  } else {
    buf.u32(buf.rel32To(target, buf.length + 4, what));
  }
}

/**
 * `jcc target`: conditional jump, short (70+cc rel8) or near (0F 80+cc rel32, the default).
 * @throws DisplacementRangeError if the target is out of reach of the chosen form.
 * @throws LabelError for a label of another buffer; OperandError for an unknown condition.
 */
export function jcc(buf: CodeBuffer, cond: Condition, target: Target, form: BranchForm = 'near'): void {
  const cc = conditionCode(cond);
  if (form === 'short') buf.u8(0x70 | cc);
  else buf.u8x2(0x0f, 0x80 | cc);
  branchField(buf, target, form, JCC_NAMES[cc] as string);
}

/**
 * `jmp target` (EB rel8 / E9 rel32, the default) or, given a 64-bit register,
 * the indirect `jmp reg` (FF /4) — which retpolines exist to avoid; see {@link indirectJump}.
 * @throws DisplacementRangeError if the target is out of reach of the chosen form.
 */
export function jmp(buf: CodeBuffer, target: Target | Gp64, form: BranchForm = 'near'): void {
  if (isGp(target)) {
    emitRR(buf, false, 0xff, 4, regOfWidth(target, 64, 'jmp reg').id);
    return;
  }
  buf.u8(form === 'short' ? 0xeb : 0xe9);
  branchField(buf, target, form, 'jmp');
}

/**
 * `call target` (E8 rel32) or, given a 64-bit register, the indirect `call reg` (FF /2).
 * @throws DisplacementRangeError if the target is out of reach.
 */
export function call(buf: CodeBuffer, target: Target | Gp64): void {
  if (isGp(target)) {
    emitRR(buf, false, 0xff, 2, regOfWidth(target, 64, 'call reg').id);
    return;
  }
  buf.u8(0xe8);
  branchField(buf, target, 'near', 'call');
}

/** `ret` (C3). */
export const ret = (buf: CodeBuffer): void => void buf.u8(0xc3);
