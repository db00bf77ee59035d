/**
 * Typed instruction objects: a discriminated-union view of an eBPF program (RFC 9669),
 * one object per instruction (a 64-bit immediate load is one object over two slots).
 * `fromInsns` decodes wire slots into objects, refusing anything the RFC does not define
 * (including reserved fields that are not zero); `toInsns` encodes objects back.
 * The codec itself lives in `program-codec.ts`.
 */

/** Width of an ALU or jump operation: class `ALU`/`JMP32` (32) or `ALU64`/`JMP` (64). */
export type Width = 32 | 64;

/** Second operand of an ALU or conditional jump: a register (`BPF_X`) or the immediate (`BPF_K`). */
export type Source = { readonly reg: number } | { readonly imm: number };

/**
 * Two-operand ALU operations. `sdiv`/`smod` are `div`/`mod` with `off = 1` (RFC 9669
 * section 4.1); `mov` here is the plain move (the sign-extending one is {@link MovsxOp}).
 */
export type AluOperation = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh' | 'mod' | 'smod' | 'xor' | 'mov' | 'arsh';

/** Conditions of conditional jumps (the kernel's `BPF_JEQ` ... `BPF_JSLE`). */
export type JmpCondition = 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';

/** Access sizes: byte, half word (16), word (32), double word (64). */
export type MemSize = 'b' | 'h' | 'w' | 'dw';

/** Atomic operations of `STX | ATOMIC` (RFC 9669 section 5.3). */
export type AtomicOperation = 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg';

/** `dst = dst OP source` (classes `ALU` and `ALU64`). 32-bit results are zero-extended. */
export interface AluOp {
  readonly op: 'alu';
  readonly width: Width;
  readonly operation: AluOperation;
  readonly dst: number;
  readonly source: Source;
}

/** `dst = -dst` (`BPF_NEG`, immediate form only). */
export interface NegOp {
  readonly op: 'neg';
  readonly width: Width;
  readonly dst: number;
}

/** `dst = (sign-extended low `bits` of src)` (`BPF_MOV | BPF_X` with `off` 8, 16 or 32). */
export interface MovsxOp {
  readonly op: 'movsx';
  readonly width: Width;
  /** Bits taken from `src` and sign-extended: 8 or 16 (both widths) or 32 (64-bit only). */
  readonly bits: 8 | 16 | 32;
  readonly dst: number;
  readonly src: number;
}

/**
 * Byte swaps (`BPF_END`): `le`/`be` convert to that byte order (class `ALU`, source bit
 * K/X), `bswap` swaps unconditionally (class `ALU64`). `bits` is 16, 32 or 64; the result
 * is zero-extended from `bits`.
 */
export interface EndianOp {
  readonly op: 'endian';
  readonly order: 'le' | 'be' | 'bswap';
  readonly bits: 16 | 32 | 64;
  readonly dst: number;
}

/** `if (dst COND source) goto pc + 1 + off` (classes `JMP` and `JMP32`). */
export interface JmpOp {
  readonly op: 'jmp';
  readonly width: Width;
  readonly cond: JmpCondition;
  readonly dst: number;
  readonly source: Source;
  /** Signed 16-bit offset in slots, relative to the next instruction. */
  readonly off: number;
}

/** `goto pc + 1 + off`: `JMP | JA` with a 16-bit offset. */
export interface JaOp {
  readonly op: 'ja';
  readonly off: number;
}

/** `gotol`: `JMP32 | JA`, an unconditional jump whose offset is the 32-bit `imm`. */
export interface GotolOp {
  readonly op: 'gotol';
  /** Signed 32-bit offset in slots (held in the instruction's `imm`). */
  readonly off: number;
}

/** `dst = *(size *)(src + off)`; `sign` selects `BPF_MEMSX` (b/h/w only). */
export interface LdxOp {
  readonly op: 'ldx';
  readonly size: MemSize;
  readonly sign: boolean;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
}

/** `*(size *)(dst + off) = imm` (class `ST`); a double word stores `imm` sign-extended. */
export interface StOp {
  readonly op: 'st';
  readonly size: MemSize;
  readonly dst: number;
  readonly off: number;
  readonly imm: number;
}

/** `*(size *)(dst + off) = src` (class `STX`, mode `MEM`). */
export interface StxOp {
  readonly op: 'stx';
  readonly size: MemSize;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
}

/**
 * Atomic read-modify-write on `*(width *)(dst + off)` with `src` (`STX | ATOMIC`, sizes
 * W and DW). With `fetch` the old value lands in `src`; `xchg` and `cmpxchg` always fetch
 * (`cmpxchg` compares with r0 and loads the old value into r0).
 */
export interface AtomicOp {
  readonly op: 'atomic';
  readonly width: Width;
  readonly operation: AtomicOperation;
  readonly fetch: boolean;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
}

/**
 * `lddw dst, imm64` (`LD | IMM | DW`, two slots). `pseudo` is the `src` field: 0 for a
 * plain immediate, else one of RFC 9669's 64-bit immediate kinds (map by fd, ...; see
 * `BPF_PSEUDO_LDDW`), 0..6.
 */
export interface LddwOp {
  readonly op: 'lddw';
  readonly dst: number;
  /** The 64-bit immediate, unsigned (0 .. 2^64-1). */
  readonly imm: bigint;
  readonly pseudo: number;
}

/** Legacy packet access `LD | ABS` (r0 = packet[imm], network order). */
export interface LdAbsOp {
  readonly op: 'ldabs';
  readonly size: 'b' | 'h' | 'w';
  readonly imm: number;
}

/** Legacy packet access `LD | IND` (r0 = packet[src + imm], network order). */
export interface LdIndOp {
  readonly op: 'ldind';
  readonly size: 'b' | 'h' | 'w';
  readonly src: number;
  readonly imm: number;
}

/**
 * `call`: a helper by id (`kind: 'helper'`, src 0), a BPF-to-BPF call whose `imm` is the
 * slot offset of the callee relative to the next instruction (`'local'`, src 1), or a
 * kernel function by BTF id (`'kfunc'`, src 2).
 */
export interface CallOp {
  readonly op: 'call';
  readonly kind: 'helper' | 'local' | 'kfunc';
  readonly imm: number;
}

/** `exit`: return r0 (from a BPF-to-BPF call: to the caller). */
export interface ExitOp {
  readonly op: 'exit';
}

/** One typed eBPF instruction (RFC 9669): the discriminated union of every instruction form. */
export type Op =
  | AluOp
  | NegOp
  | MovsxOp
  | EndianOp
  | JmpOp
  | JaOp
  | GotolOp
  | LdxOp
  | StOp
  | StxOp
  | AtomicOp
  | LddwOp
  | LdAbsOp
  | LdIndOp
  | CallOp
  | ExitOp;

/** Number of 8-byte slots an instruction takes: 2 for `lddw`, else 1. */
export function opSlots(op: Op): 1 | 2 {
  return op.op === 'lddw' ? 2 : 1;
}

/** Register numbers of a valid program: r0..r10 (r10 is the read-only frame pointer). */
export const MAX_REG = 10;
