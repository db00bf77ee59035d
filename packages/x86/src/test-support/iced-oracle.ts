/**
 * Test oracle: decode bytes with iced-x86 and describe the instruction in the encoder's
 * own vocabulary (lower-case register names, signed immediates), so tests can state what
 * an encoding must mean rather than which bytes it must be.
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';

const require = createRequire(import.meta.url);
export const iced = require('iced-x86') as typeof Iced;

export type OracleOperand =
  | { readonly reg: string }
  | { readonly imm: bigint }
  | { readonly mem: { readonly base: string; readonly disp: bigint; readonly bits: number } }
  | { readonly target: bigint };

export interface Decoded {
  readonly mnemonic: string;
  readonly length: number;
  readonly operands: readonly OracleOperand[];
  readonly lock: boolean;
}

/** iced's register name in the encoder's spelling (R8L -> r8b). */
export function regName(reg: Iced.Register): string {
  const name = iced.Register[reg] as string;
  return /^R\d+L$/.test(name) ? `${name.slice(0, -1).toLowerCase()}b` : name.toLowerCase();
}

const MEMORY_BITS: Record<string, number> = { UInt8: 8, UInt16: 16, UInt32: 32, UInt64: 64, Int8: 8, Int16: 16, Int32: 32, Int64: 64 };

/**
 * An immediate as the operation sees it: zero-extended to the operand size for 8/16/32-bit
 * operations, sign-extended for 64-bit ones (whatever the encoded size).
 */
function immediateValue(kindName: string, raw: bigint): bigint {
  if (kindName === 'Immediate8') return BigInt.asUintN(8, raw);
  if (kindName === 'Immediate16' || kindName === 'Immediate8to16') return BigInt.asUintN(16, raw);
  if (kindName === 'Immediate32' || kindName === 'Immediate8to32') return BigInt.asUintN(32, raw);
  return BigInt.asIntN(64, raw);
}

/** Decode the first instruction of `bytes` at `ip`. */
export function decodeOne(bytes: Uint8Array, ip = 0n): Decoded {
  const decoder = new iced.Decoder(64, bytes, iced.DecoderOptions.None);
  decoder.ip = ip;
  const instr = decoder.decode();
  try {
    const operands: OracleOperand[] = [];
    for (let i = 0; i < instr.opCount; i++) {
      const kind = instr.opKind(i);
      const kindName = iced.OpKind[kind] as string;
      if (kind === iced.OpKind.Register) operands.push({ reg: regName(instr.opRegister(i)) });
      else if (kindName.startsWith('Immediate')) operands.push({ imm: immediateValue(kindName, instr.immediate(i)) });
      else if (kindName.startsWith('NearBranch')) operands.push({ target: instr.nearBranchTarget });
      else if (kind === iced.OpKind.Memory) {
        const sizeName = iced.MemorySize[instr.memorySize] as string;
        operands.push({
          mem: {
            base: regName(instr.memoryBase),
            disp: BigInt.asIntN(64, BigInt(instr.memoryDisplacement)),
            bits: MEMORY_BITS[sizeName] ?? 0,
          },
        });
      } else operands.push({ reg: `?${kindName}` });
    }
    return {
      mnemonic: instr.isInvalid ? '(bad)' : (iced.Mnemonic[instr.mnemonic] as string).toLowerCase(),
      length: instr.length,
      operands,
      lock: instr.hasLockPrefix,
    };
  } finally {
    instr.free();
    decoder.free();
  }
}

/** Encode one instruction with iced's own Encoder (for cross-checking our bytes). */
export function icedEncode(make: (I: typeof Iced) => Iced.Instruction, ip = 0n): Uint8Array {
  const instr = make(iced);
  const encoder = new iced.Encoder(64);
  try {
    encoder.encode(instr, ip);
    return encoder.takeBuffer();
  } finally {
    instr.free();
    encoder.free();
  }
}

/** Hex string of bytes, lower case, no separators. */
export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
