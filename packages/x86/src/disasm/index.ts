/**
 * `@bpf-dispatcher/x86/disasm`: decode x86-64 bytes with iced-x86 and print them the way
 * `objdump -D -b binary -mi386:x86-64 -M intel` does, one instruction a line:
 * `ffffffffc0020000: cmp rdx,0xfffffffffffffff7`.
 *
 * A separate entry point so that the encoder itself stays dependency-free.
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';
import { assertAddress } from '../address.js';
import { describeValue } from '../describe.js';
import { OperandError } from '../errors.js';

const require = createRequire(import.meta.url);
// iced-x86 ships CommonJS that instantiates its WebAssembly synchronously.
const iced = require('iced-x86') as typeof Iced;

/** One decoded instruction. */
export interface DecodedInstruction {
  /** Its address, unsigned 64-bit. */
  readonly address: bigint;
  /** Its length in bytes. */
  readonly length: number;
  /** Its bytes (a copy). */
  readonly bytes: Uint8Array;
  /** The mnemonic as objdump prints it (e.g. `cmp`, `je`, `nop`). */
  readonly mnemonic: string;
  /** Intel syntax as objdump prints it (e.g. `cmp rdx,0xfffffffffffffff7`). */
  readonly text: string;
  /** False for bytes that do not decode (`(bad)` in the listing). */
  readonly valid: boolean;
}

let formatter: Iced.Formatter | undefined;

/** The shared iced formatter configured to print objdump's Intel syntax. */
function objdumpFormatter(): Iced.Formatter {
  if (formatter !== undefined) return formatter;
  const f = new iced.Formatter(iced.FormatterSyntax.Intel);
  f.hexPrefix = '0x';
  f.hexSuffix = '';
  f.uppercaseHex = false;
  f.addLeadingZeroToHexNumbers = false;
  f.branchLeadingZeros = false;
  f.showBranchSize = false;
  f.spaceAfterOperandSeparator = false;
  f.showZeroDisplacements = true;
  f.alwaysShowScale = true;
  f.uppercaseKeywords = true;
  f.signedImmediateOperands = false;
  f.smallHexNumbersInDecimal = false;
  f.memorySizeOptions = iced.MemorySizeOptions.Always;
  formatter = f;
  return f;
}

/** @throws OperandError unless `bytes` is a Uint8Array and `address` an address. */
function checkInput(bytes: unknown, address: unknown, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new OperandError(`${what}: bytes must be a Uint8Array, got ${describeValue(bytes)}`);
  assertAddress(address, `${what} address`);
}

/**
 * Decode `bytes` as 64-bit code whose first byte is at `address`.
 * Undecodable bytes come back one at a time with `valid: false` and text `(bad)`.
 * @throws OperandError (INVALID_OPERAND) unless `bytes` is a Uint8Array and `address` a
 *   safe integer or a 64-bit bigint.
 */
export function disassemble(bytes: Uint8Array, address: bigint | number = 0n): DecodedInstruction[] {
  checkInput(bytes, address, 'disassemble');
  const base = BigInt.asUintN(64, BigInt(address));
  const decoder = new iced.Decoder(64, bytes, iced.DecoderOptions.None);
  decoder.ip = base;
  const f = objdumpFormatter();
  const out: DecodedInstruction[] = [];
  try {
    while (decoder.canDecode) {
      const offset = decoder.position;
      const instr = decoder.decode();
      try {
        const valid = !instr.isInvalid;
        const length = valid ? instr.length : 1;
        if (!valid) decoder.position = offset + 1;
        out.push({
          address: BigInt.asUintN(64, base + BigInt(offset)),
          length,
          bytes: bytes.slice(offset, offset + length),
          mnemonic: valid ? f.formatMnemonic(instr) : '(bad)',
          text: valid ? f.format(instr) : '(bad)',
          valid,
        });
      } finally {
        instr.free();
      }
    }
  } finally {
    decoder.free();
  }
  return out;
}

/**
 * Format one instruction as a listing line: `<address in 16 hex digits>: <text>`.
 * @throws OperandError unless `instruction` has a bigint `address` and a string `text`.
 */
export function formatLine(instruction: Pick<DecodedInstruction, 'address' | 'text'>): string {
  if (typeof instruction !== 'object' || instruction === null || typeof instruction.address !== 'bigint' || typeof instruction.text !== 'string') {
    throw new OperandError(`formatLine: expected { address: bigint, text: string }, got ${describeValue(instruction)}`);
  }
  return `${instruction.address.toString(16).padStart(16, '0')}: ${instruction.text}`;
}

/**
 * The objdump-style listing of `bytes` at `address`, one instruction a line, each line
 * ending in a newline: exactly the format of the reference dispatcher listings.
 * @throws OperandError as {@link disassemble} does.
 */
export function listing(bytes: Uint8Array, address: bigint | number = 0n): string {
  checkInput(bytes, address, 'listing');
  let text = '';
  for (const instruction of disassemble(bytes, address)) text += `${formatLine(instruction)}\n`;
  return text;
}
