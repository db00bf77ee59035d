/**
 * Decoding for the simulated CPU: iced-x86 decodes, and each instruction is turned once
 * into a small plain object the interpreter executes (iced's WebAssembly objects are
 * freed immediately).
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';
import { TextPokeError } from '../errors.js';

const require = createRequire(import.meta.url);

/** A decoded operand. Register ids are 0..15 (rax..r15); `bits` is the access width. */
export type SimOperand =
  | { readonly k: 'reg'; readonly id: number; readonly bits: 8 | 16 | 32 | 64 }
  | { readonly k: 'imm'; readonly value: bigint }
  | { readonly k: 'mem'; readonly base: number; readonly disp: bigint; readonly bits: number }
  | { readonly k: 'br'; readonly target: bigint };

/** A decoded instruction. `cc` is the 4-bit condition of jcc/cmovcc/setcc, else -1. */
export interface SimInsn {
  readonly address: bigint;
  readonly length: number;
  readonly next: bigint;
  readonly mnemonic: string;
  readonly cc: number;
  readonly operands: readonly SimOperand[];
  readonly text: string;
}

/** Memory base meaning "rip-relative": `disp` already holds the absolute address. */
export const BASE_RIP = -2;
/** No base register: `disp` is absolute. */
export const BASE_NONE = -1;

/** iced-x86 and the register table, loaded on the first decode (importing the package must not load iced-x86). */
let loaded: { readonly iced: typeof Iced; readonly registers: ReadonlyMap<number, { id: number; bits: 8 | 16 | 32 | 64 }> } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded !== undefined) return loaded;
  const iced = require('iced-x86') as typeof Iced;
  const registers = new Map<number, { id: number; bits: 8 | 16 | 32 | 64 }>();
  const families: [readonly string[], 8 | 16 | 32 | 64][] = [
    [['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'], 64],
    [['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI', 'R8D', 'R9D', 'R10D', 'R11D', 'R12D', 'R13D', 'R14D', 'R15D'], 32],
    [['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI', 'R8W', 'R9W', 'R10W', 'R11W', 'R12W', 'R13W', 'R14W', 'R15W'], 16],
    [['AL', 'CL', 'DL', 'BL', 'SPL', 'BPL', 'SIL', 'DIL', 'R8L', 'R9L', 'R10L', 'R11L', 'R12L', 'R13L', 'R14L', 'R15L'], 8],
  ];
  const table = iced.Register as unknown as Record<string, number>;
  for (const [names, bits] of families) {
    names.forEach((name, id) => {
      registers.set(table[name] as number, { id, bits });
    });
  }
  loaded = { iced, registers };
  return loaded;
}

const MEMORY_BITS: Record<string, number> = { UInt8: 8, Int8: 8, UInt16: 16, Int16: 16, UInt32: 32, Int32: 32, UInt64: 64, Int64: 64 };

let formatter: Iced.Formatter | undefined;

function fault(address: bigint, what: string): never {
  throw new TextPokeError('CPU_FAULT', `simulated CPU at 0x${address.toString(16)}: ${what}`);
}

/**
 * Decode the instruction at the start of `bytes` (which begin at `address`).
 * @throws TextPokeError CPU_FAULT for undecodable bytes or operands outside the subset.
 */
export function decodeInsn(bytes: Uint8Array, address: bigint): SimInsn {
  const { iced, registers: REGISTERS } = load();
  const decoder = new iced.Decoder(64, bytes, iced.DecoderOptions.None);
  decoder.ip = address;
  const instr = decoder.decode();
  try {
    if (instr.isInvalid) fault(address, `undecodable bytes ${Buffer.from(bytes.subarray(0, 8)).toString('hex')}`);
    formatter ??= new iced.Formatter(iced.FormatterSyntax.Intel);
    const text = formatter.format(instr);
    const mnemonic = (iced.Mnemonic[instr.mnemonic] as string).toLowerCase();
    const operands: SimOperand[] = [];
    // Multi-byte nops carry a memory operand (with an index) that is never accessed.
    const opCount = mnemonic === 'nop' ? 0 : instr.opCount;
    for (let i = 0; i < opCount; i++) {
      const kind = instr.opKind(i);
      const kindName = iced.OpKind[kind] as string;
      if (kind === iced.OpKind.Register) {
        const reg = REGISTERS.get(instr.opRegister(i));
        if (reg === undefined) fault(address, `register ${iced.Register[instr.opRegister(i)]} is outside the simulated subset (${text})`);
        operands.push({ k: 'reg', ...reg });
      } else if (kindName.startsWith('Immediate')) {
        operands.push({ k: 'imm', value: instr.immediate(i) });
      } else if (kindName.startsWith('NearBranch')) {
        operands.push({ k: 'br', target: instr.nearBranchTarget });
      } else if (kind === iced.OpKind.Memory) {
        if (instr.memoryIndex !== iced.Register.None) fault(address, `indexed addressing is outside the simulated subset (${text})`);
        const baseReg = instr.memoryBase;
        let base = BASE_NONE;
        if (baseReg === iced.Register.RIP) base = BASE_RIP;
        else if (baseReg !== iced.Register.None) {
          const reg = REGISTERS.get(baseReg);
          if (reg === undefined || reg.bits !== 64) fault(address, `memory base ${iced.Register[baseReg]} is outside the simulated subset`);
          base = reg.id;
        }
        operands.push({ k: 'mem', base, disp: BigInt.asUintN(64, BigInt(instr.memoryDisplacement)), bits: MEMORY_BITS[iced.MemorySize[instr.memorySize] as string] ?? 0 });
      } else {
        fault(address, `operand kind ${kindName} is outside the simulated subset (${text})`);
      }
    }
    const cc = instr.conditionCode === iced.ConditionCode.None ? -1 : instr.conditionCode - 1;
    return {
      address,
      length: instr.length,
      next: BigInt.asUintN(64, address + BigInt(instr.length)),
      mnemonic,
      cc,
      operands,
      text,
    };
  } finally {
    instr.free();
    decoder.free();
  }
}
