import { EbpfError } from './errors.js';

/**
 * One eBPF instruction slot in the wire format of RFC 9669 (the kernel's `struct bpf_insn`):
 * 8 bytes, `code` (opcode), `dst` and `src` (4 bits each), `off` (signed 16), `imm`
 * (signed 32). A 64-bit immediate load (`lddw`) takes two slots; its second slot has
 * `code` 0 and carries the upper 32 bits of the immediate in `imm`.
 */
export interface Insn {
  /** Opcode byte: class in bits 0-2, then source/size/mode and operation bits. */
  readonly code: number;
  /** Destination register, 0..10 in a valid program (the field holds 0..15). */
  readonly dst: number;
  /** Source register, 0..10 in a valid program; pseudo-source tags for `lddw` and `call`. */
  readonly src: number;
  /** Signed 16-bit offset (branch target, memory displacement, or an operation variant). */
  readonly off: number;
  /** Signed 32-bit immediate. */
  readonly imm: number;
}

/** Size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/** Instruction classes (the low 3 bits of `code`). */
export const BPF_CLASS = Object.freeze({
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const);

/** Operand source bit of ALU and JMP instructions: `K` = the immediate, `X` = the src register. */
export const BPF_SRC = Object.freeze({ K: 0x00, X: 0x08 } as const);

/** ALU operations (bits 4-7 of `code` in classes ALU and ALU64). */
export const BPF_ALU_OP = Object.freeze({
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const);

/** Jump operations (bits 4-7 of `code` in classes JMP and JMP32). */
export const BPF_JMP_OP = Object.freeze({
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const);

/** Access sizes of loads and stores (bits 3-4 of `code`). */
export const BPF_SIZE = Object.freeze({ W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const);

/** Addressing modes of loads and stores (bits 5-7 of `code`). */
export const BPF_MODE = Object.freeze({
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const);

/** Atomic operations, in `imm` of a `STX | ATOMIC` instruction. */
export const BPF_ATOMIC = Object.freeze({
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe1,
  CMPXCHG: 0xf1,
} as const);

/** Every valid `imm` of a `STX | ATOMIC` instruction (RFC 9669's atomic operations). */
export const BPF_ATOMIC_OPS: ReadonlySet<number> = new Set([
  BPF_ATOMIC.ADD,
  BPF_ATOMIC.OR,
  BPF_ATOMIC.AND,
  BPF_ATOMIC.XOR,
  BPF_ATOMIC.ADD | BPF_ATOMIC.FETCH,
  BPF_ATOMIC.OR | BPF_ATOMIC.FETCH,
  BPF_ATOMIC.AND | BPF_ATOMIC.FETCH,
  BPF_ATOMIC.XOR | BPF_ATOMIC.FETCH,
  BPF_ATOMIC.XCHG,
  BPF_ATOMIC.CMPXCHG,
]);

/** Pseudo sources of `call` (in `src`): a helper by id, a local (BPF-to-BPF) call, a kfunc. */
export const BPF_PSEUDO_CALL = Object.freeze({ HELPER: 0, LOCAL: 1, KFUNC: 2 } as const);

/** Pseudo sources of `lddw` (in `src`): a plain 64-bit immediate, a map by fd, a map value. */
export const BPF_PSEUDO_LDDW = Object.freeze({ IMM64: 0, MAP_FD: 1, MAP_VALUE: 2 } as const);

/** `lddw dst, imm64`: the opcode of the first slot. */
export const LDDW_OPCODE = BPF_CLASS.LD | BPF_SIZE.DW | BPF_MODE.IMM;

/** The class of an opcode. */
export function insnClass(code: number): number {
  return code & 0x07;
}

/** Build an instruction, checking every field's range. @throws EbpfError EINVAL for a field out of range. */
export function insn(code: number, dst: number, src: number, off: number, imm: number): Insn {
  checkField('code', code, 0, 0xff);
  checkField('dst', dst, 0, 15);
  checkField('src', src, 0, 15);
  checkField('off', off, -0x8000, 0x7fff);
  checkField('imm', imm, -0x8000_0000, 0x7fff_ffff);
  return { code, dst, src, off, imm };
}

function checkField(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EbpfError('EINVAL', `instruction field ${name} = ${String(value)} is not an integer in ${min}..${max}`);
  }
}

/**
 * Encode instructions into the 8-byte wire format, little endian.
 * @throws EbpfError EINVAL if a field is out of range.
 */
export function encodeProgram(insns: readonly Insn[]): Uint8Array {
  if (!Array.isArray(insns)) throw new EbpfError('EINVAL', 'encodeProgram: expected an array of instructions');
  const out = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(out.buffer);
  insns.forEach((i, n) => {
    if (typeof i !== 'object' || i === null) throw new EbpfError('EINVAL', `encodeProgram: instruction ${n} is not an object`);
    const { code, dst, src, off, imm } = insn(i.code, i.dst, i.src, i.off, i.imm);
    const at = n * INSN_SIZE;
    out[at] = code;
    out[at + 1] = (src << 4) | dst;
    view.setInt16(at + 2, off, true);
    view.setInt32(at + 4, imm, true);
  });
  return out;
}

/**
 * Decode the 8-byte wire format (little endian) into instruction slots. Every byte
 * pattern decodes; whether the program is valid is the verifier's question.
 * @throws EbpfError DECODE if the length is not a multiple of 8; EINVAL if not bytes.
 */
export function decodeProgram(bytes: Uint8Array): Insn[] {
  if (!(bytes instanceof Uint8Array)) throw new EbpfError('EINVAL', 'decodeProgram: expected a Uint8Array');
  if (bytes.length % INSN_SIZE !== 0) {
    throw new EbpfError('DECODE', `decodeProgram: ${bytes.length} bytes is not a whole number of 8-byte instructions`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let at = 0; at < bytes.length; at += INSN_SIZE) {
    const regs = bytes[at + 1] as number;
    out.push({
      code: bytes[at] as number,
      dst: regs & 0x0f,
      src: regs >> 4,
      off: view.getInt16(at + 2, true),
      imm: view.getInt32(at + 4, true),
    });
  }
  return out;
}
