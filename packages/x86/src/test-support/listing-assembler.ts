/**
 * Re-assemble a reference listing line by line with the encoder: each line's instruction
 * is emitted at its address with the form its length implies (the next line's address
 * gives the length). Used to prove the encoder can produce every instruction the
 * dispatcher listings contain, independent of the code generator.
 */
import { CodeBuffer } from '../code-buffer.js';
import { cmp } from '../instructions/alu.js';
import { jcc, jmp } from '../instructions/branch.js';
import type { Condition } from '../instructions/conditions.js';

export interface ListingLine {
  readonly address: bigint;
  readonly mnemonic: string;
  readonly operands: string;
}

export function parseListing(text: string): ListingLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^([0-9a-f]+): (\S+)(?: (.*))?$/.exec(line);
      if (match === null) throw new Error(`not a listing line: ${line}`);
      return { address: BigInt(`0x${match[1]}`), mnemonic: match[2] as string, operands: match[3] ?? '' };
    });
}

/** Assemble the lines; `end` is the address after the last instruction. */
export function assembleListing(lines: readonly ListingLine[], end: bigint): Uint8Array {
  const first = lines[0];
  if (first === undefined) return new Uint8Array();
  const buf = new CodeBuffer(first.address);
  lines.forEach((line, i) => {
    const next = lines[i + 1]?.address ?? end;
    const length = Number(next - line.address);
    const operand = line.operands.split(',').at(-1) as string;
    if (line.mnemonic === 'cmp' && line.operands.startsWith('rdx,')) cmp(buf, 'rdx', BigInt(operand), 'imm32');
    else if (line.mnemonic === 'jmp') jmp(buf, BigInt(operand), length === 2 ? 'short' : 'near');
    else if (line.mnemonic.startsWith('j')) jcc(buf, line.mnemonic.slice(1) as Condition, BigInt(operand), length === 2 ? 'short' : 'near');
    else if (line.mnemonic === 'nop' || line.mnemonic === 'xchg') buf.nops(length);
    else throw new Error(`unexpected instruction in listing: ${line.mnemonic} ${line.operands}`);
    if (buf.address() !== next) throw new Error(`line ${i}: encoded ${line.mnemonic} does not end at ${next.toString(16)}`);
  });
  return buf.finish();
}
