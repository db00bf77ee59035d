import { isAddress } from '../address.js';
import { type CodeBuffer, type Label, type Target, assertCodeBuffer } from '../code-buffer.js';
import { describeValue } from '../describe.js';
import { emitRR } from '../encoding.js';
import { DisplacementRangeError, LabelError, OperandError } from '../errors.js';
import { type Gp64, isGp, regOfWidth } from '../registers.js';
import { CANONICAL_CONDITIONS, type Condition, conditionCode } from './conditions.js';

const JCC_NAMES = CANONICAL_CONDITIONS.map((cond) => `j${cond}`);

/** Branch displacement size: `short` = rel8, `near` = rel32. */
export type BranchForm = 'short' | 'near';

/** @throws OperandError unless `form` is `'short'` or `'near'`. */
function checkForm(form: unknown, what: string): asserts form is BranchForm {
  if (form !== 'short' && form !== 'near') throw new OperandError(`${what}: form must be 'short' or 'near', got ${describeValue(form)}`);
}

/**
 * A branch displacement, computed and checked before the first byte of the instruction
 * is written: a label (patched later or now) or a ready displacement value (a number).
 */
type BranchField = Label | number;

/**
 * Check a branch target and compute its field for an instruction whose opcode takes
 * `opcodeLength` bytes. Nothing is written.
 * @throws OperandError for something that is neither an address nor a label (a string,
 *   a fraction, ...); LabelError for a foreign label; DisplacementRangeError out of reach.
 */
function branchField(buf: CodeBuffer, target: unknown, form: BranchForm, opcodeLength: number, what: string): BranchField {
  const at = buf.length + opcodeLength;
  if (isAddress(target)) {
    const rel = buf.relToChecked(target, at + (form === 'short' ? 1 : 4));
    if (form === 'short' ? rel < -128 || rel > 127 : rel < -0x8000_0000 || rel > 0x7fff_ffff) {
      throw new DisplacementRangeError(BigInt(rel), form === 'short' ? 8 : 32, what);
    }
    return Number(rel);
  }
  if (typeof target === 'object' && target !== null) {
    buf.checkLabelField(target as Label, form === 'short' ? 'rel8' : 'rel32', at);
    return target as Label;
  }
  if (typeof target === 'string') throw new OperandError(`${what}: ${describeValue(target)} is not a register of this form, an address or a label (addresses are numbers or bigints)`);
  if (target === undefined) throw new LabelError('UNKNOWN_LABEL', `${what}: no target (undefined)`);
  throw new OperandError(`${what}: ${describeValue(target)} is not an address (use a safe integer or a 64-bit bigint) or a label`);
}

/** Write a field computed by {@link branchField}, right after the opcode. */
function writeField(buf: CodeBuffer, field: BranchField, form: BranchForm): void {
  if (typeof field !== 'number') buf.writeLabelField(field, form === 'short' ? 'rel8' : 'rel32');
  else if (form === 'short') buf.u8(field & 0xff);
  else buf.u32(field);
}

/**
 * `jcc target`: conditional jump, short (70+cc rel8) or near (0F 80+cc rel32, the default).
 * Every operand is checked before a byte is written: on any error the buffer is unchanged.
 * @throws DisplacementRangeError if the target is out of reach of the chosen form.
 * @throws LabelError for a label of another buffer; OperandError for an unknown condition,
 *   form or a target that is neither an address nor a label.
 */
export function jcc(buf: CodeBuffer, cond: Condition, target: Target, form: BranchForm = 'near'): void {
  assertCodeBuffer(buf, 'jcc');
  const cc = conditionCode(cond);
  const what = JCC_NAMES[cc] as string;
  checkForm(form, what);
  const field = branchField(buf, target, form, form === 'short' ? 1 : 2, what);
  if (form === 'short') buf.u8(0x70 | cc);
  else buf.u8x2(0x0f, 0x80 | cc);
  writeField(buf, field, form);
}

/**
 * `jmp target` (EB rel8 / E9 rel32, the default) or, given a 64-bit register,
 * the indirect `jmp reg` (FF /4) — which retpolines exist to avoid; see {@link indirectJump}.
 * On any error the buffer is unchanged.
 * @throws DisplacementRangeError if the target is out of reach of the chosen form.
 * @throws OperandError for a register that is not 64-bit, a bad form or a target that is
 *   neither a register, an address nor a label; LabelError for a foreign label.
 */
export function jmp(buf: CodeBuffer, target: Target | Gp64, form: BranchForm = 'near'): void {
  assertCodeBuffer(buf, 'jmp');
  checkForm(form, 'jmp');
  if (isGp(target)) {
    emitRR(buf, false, 0xff, 4, regOfWidth(target, 64, 'jmp reg').id);
    return;
  }
  const field = branchField(buf, target, form, 1, 'jmp');
  buf.u8(form === 'short' ? 0xeb : 0xe9);
  writeField(buf, field, form);
}

/**
 * `call target` (E8 rel32) or, given a 64-bit register, the indirect `call reg` (FF /2).
 * On any error the buffer is unchanged.
 * @throws DisplacementRangeError if the target is out of reach.
 * @throws OperandError for a register that is not 64-bit or a target that is neither a
 *   register, an address nor a label; LabelError for a foreign label.
 */
export function call(buf: CodeBuffer, target: Target | Gp64): void {
  assertCodeBuffer(buf, 'call');
  if (isGp(target)) {
    emitRR(buf, false, 0xff, 2, regOfWidth(target, 64, 'call reg').id);
    return;
  }
  const field = branchField(buf, target, 'near', 1, 'call');
  buf.u8(0xe8);
  writeField(buf, field, 'near');
}

/** `ret` (C3). @throws OperandError if `buf` is not a CodeBuffer; X86Error BUFFER_FINISHED. */
export function ret(buf: CodeBuffer): void {
  assertCodeBuffer(buf, 'ret');
  buf.u8(0xc3);
}
