/**
 * eBPF ALU semantics written from RFC 9669 section 4.1 with bigints: the expected values of
 * the JIT's tests (independent of both the JIT and the interpreter).
 */
import type { AluName } from './jit-builders.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffff_ffffn;

/**
 * `dst OP src` at `bits` (ALU64: 64, ALU: 32), on unsigned 64-bit inputs; `src` is the
 * register value or the immediate sign-extended to 64 bits. `off` 1 selects sdiv/smod,
 * 8/16/32 movsx. Returns the new dst, unsigned 64-bit (32-bit results zero-extended).
 */
export function aluRef(op: AluName, bits: 32 | 64, dst: bigint, src: bigint, off = 0): bigint {
  const mask = bits === 64 ? M64 : M32;
  const x = dst & mask;
  const y = src & mask;
  const sx = BigInt.asIntN(bits, x);
  const sy = BigInt.asIntN(bits, y);
  let r: bigint;
  switch (op) {
    case 'ADD':
      r = x + y;
      break;
    case 'SUB':
      r = x - y;
      break;
    case 'MUL':
      r = x * y;
      break;
    case 'DIV':
      r = off === 1 ? (sy === 0n ? 0n : sy === -1n ? -sx : sx / sy) : y === 0n ? 0n : x / y;
      break;
    case 'MOD':
      r = off === 1 ? (sy === 0n ? sx : sy === -1n ? 0n : sx % sy) : y === 0n ? x : x % y;
      break;
    case 'OR':
      r = x | y;
      break;
    case 'AND':
      r = x & y;
      break;
    case 'XOR':
      r = x ^ y;
      break;
    case 'LSH':
      r = x << (y & BigInt(bits - 1));
      break;
    case 'RSH':
      r = x >> (y & BigInt(bits - 1));
      break;
    case 'ARSH':
      r = sx >> (y & BigInt(bits - 1));
      break;
    case 'NEG':
      r = -x;
      break;
    case 'MOV':
      r = off === 0 ? y : BigInt.asIntN(off, src);
      break;
    default:
      throw new Error(`aluRef: ${op}`);
  }
  return r & mask;
}

/** Byte-swap the low `bits` bits of `v` (result zero-extended). */
export function swapRef(v: bigint, bits: 16 | 32 | 64): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}
