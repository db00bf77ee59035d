/**
 * Machine code over keys and values of a fixed size, specialised at map creation: the
 * hash function (the role of the kernel's `htab_map_hash`, jhash there), key compares,
 * copies and zeroing. Small sizes are unrolled; large ones loop over 8-byte words. Every
 * routine reads exactly the caller's bytes — never past the end of a key or value that
 * may sit at the edge of a stack or a packet — and writes whole zero-padded words into
 * elements.
 *
 * Register contract of every routine here: the temporaries are r8–r11 (the hash also
 * uses rax); base registers passed in must be none of them. Only the hash touches rax.
 */

import {
  alu,
  byte,
  type CodeBuffer,
  dword,
  GP32,
  GP64,
  type Gp32,
  type Gp64,
  imul,
  jcc,
  type Label,
  lea,
  mov,
  movzx,
  ptr,
  qword,
  shift,
  word,
} from '@bpf-dispatcher/x86';
import { RuntimeError } from '../errors.js';

/** Words compared or hashed without a loop (keys up to 64 bytes). */
export const UNROLL_KEY_WORDS = 8;
/** Words copied without a loop (values up to 128 bytes). */
export const UNROLL_COPY_WORDS = 16;

/** The hash's multiplier (2^64 / golden ratio, odd). */
export const HASH_MULTIPLIER = 0x9e3779b97f4a7c15n;
/** The hash's initial state before the seed and the key size are mixed in (digits of pi). */
export const HASH_BASIS = 0x243f6a8885a308d3n;

const TEMPS: readonly Gp64[] = ['r8', 'r9', 'r10', 'r11'];

/** The 32-bit view of a 64-bit register. */
export function low32(reg: Gp64): Gp32 {
  return GP32[GP64.indexOf(reg)] as Gp32;
}

function assertNotTemp(reg: Gp64, what: string, alsoRax = false): void {
  if (TEMPS.includes(reg) || (alsoRax && reg === 'rax')) throw new RuntimeError('EINVAL', `${what}: ${reg} is a temporary of the routine`);
}

/** The hash's state after the seed and the key size: the constant the emitted code starts from. */
export function hashInit(seed: number, keySize: number): bigint {
  return HASH_BASIS ^ (BigInt(seed >>> 0) << 32n) ^ BigInt(keySize);
}

/**
 * The map hash function in TypeScript, bit for bit what {@link emitHashKey} computes: per
 * 8-byte little-endian word `w` (the last one zero-extended), `h = (h ^ w) * M; h ^= h >> 29`;
 * then `h ^= h >> 32; h *= M; h ^= h >> 32`, truncated to 32 bits. For tests and audits.
 */
export function hashKey(key: Uint8Array, seed: number): number {
  let h = hashInit(seed, key.length);
  const mix = (w: bigint): void => {
    h = BigInt.asUintN(64, (h ^ w) * HASH_MULTIPLIER);
    h ^= h >> 29n;
  };
  for (let at = 0; at < key.length; at += 8) {
    let w = 0n;
    for (let i = Math.min(key.length, at + 8) - 1; i >= at; i--) w = (w << 8n) | BigInt(key[i] as number);
    mix(w);
  }
  h ^= h >> 32n;
  h = BigInt.asUintN(64, h * HASH_MULTIPLIER);
  h ^= h >> 32n;
  return Number(h & 0xffff_ffffn);
}

/**
 * Load the `count` (1..7) bytes at `[base + disp]` into `dst`, zero-extended, without
 * touching any byte after them: one 4-, 2- and 1-byte load as needed. Clobbers `tmp`.
 */
export function emitLoadTail(buf: CodeBuffer, dst: Gp64, tmp: Gp64, base: Gp64, disp: number, count: number): void {
  const d = low32(dst);
  const t = low32(tmp);
  if (count >= 4) {
    mov(buf, d, dword(base, disp));
    if (count >= 6) {
      movzx(buf, t, word(base, disp + 4));
      shift(buf, 'shl', tmp, 32);
      alu(buf, 'or', dst, tmp);
    } else if (count === 5) {
      movzx(buf, t, byte(base, disp + 4));
      shift(buf, 'shl', tmp, 32);
      alu(buf, 'or', dst, tmp);
    }
    if (count === 7) {
      movzx(buf, t, byte(base, disp + 6));
      shift(buf, 'shl', tmp, 48);
      alu(buf, 'or', dst, tmp);
    }
    return;
  }
  movzx(buf, d, count === 1 ? byte(base, disp) : word(base, disp));
  if (count === 3) {
    movzx(buf, t, byte(base, disp + 2));
    shift(buf, 'shl', t, 16);
    alu(buf, 'or', d, t);
  }
}

/** One round of the hash on the word in r8: `rax = (rax ^ r8) * r11; rax ^= rax >> 29`. */
function emitMix(buf: CodeBuffer): void {
  alu(buf, 'xor', 'rax', 'r8');
  imul(buf, 'rax', 'r11');
  mov(buf, 'r8', 'rax');
  shift(buf, 'shr', 'r8', 29);
  alu(buf, 'xor', 'rax', 'r8');
}

/**
 * Emit the map's hash of the `keySize` bytes at `[key]` (see {@link hashKey}) with the
 * seed baked in: eax = the hash (rax zero-extended). Clobbers rax, r8–r11 and the flags.
 * @throws RuntimeError EINVAL if `key` is rax or r8–r11.
 */
export function emitHashKey(buf: CodeBuffer, keySize: number, seed: number, key: Gp64): void {
  assertNotTemp(key, 'emitHashKey', true);
  const words = Math.floor(keySize / 8);
  const tail = keySize % 8;
  mov(buf, 'rax', BigInt.asIntN(64, hashInit(seed, keySize)));
  mov(buf, 'r11', BigInt.asIntN(64, HASH_MULTIPLIER));
  let tailBase: Gp64 = key;
  let tailDisp = words * 8;
  if (words <= UNROLL_KEY_WORDS) {
    for (let i = 0; i < words; i++) {
      mov(buf, 'r8', qword(key, i * 8));
      emitMix(buf);
    }
  } else {
    const loop = buf.newLabel();
    mov(buf, 'r10', key);
    lea(buf, 'r9', ptr(key, words * 8));
    buf.bind(loop);
    mov(buf, 'r8', qword('r10', 0));
    emitMix(buf);
    alu(buf, 'add', 'r10', 8);
    alu(buf, 'cmp', 'r10', 'r9');
    jcc(buf, 'b', loop);
    tailBase = 'r10';
    tailDisp = 0;
  }
  if (tail > 0) {
    emitLoadTail(buf, 'r8', 'r9', tailBase, tailDisp, tail);
    emitMix(buf);
  }
  mov(buf, 'r8', 'rax');
  shift(buf, 'shr', 'r8', 32);
  alu(buf, 'xor', 'rax', 'r8');
  imul(buf, 'rax', 'r11');
  mov(buf, 'r8', 'rax');
  shift(buf, 'shr', 'r8', 32);
  alu(buf, 'xor', 'eax', 'r8d');
}

/**
 * Emit a compare of the `keySize` bytes at `[key]` with the zero-padded key of the element
 * at `elem` (at `elem + keyOffset`): falls through when they are equal, jumps to
 * `mismatch` otherwise. Clobbers r8–r11 and the flags.
 * @throws RuntimeError EINVAL if `key` or `elem` is one of r8–r11.
 */
export function emitKeyCompare(buf: CodeBuffer, keySize: number, key: Gp64, elem: Gp64, keyOffset: number, mismatch: Label): void {
  assertNotTemp(key, 'emitKeyCompare');
  assertNotTemp(elem, 'emitKeyCompare');
  const words = Math.floor(keySize / 8);
  const tail = keySize % 8;
  if (words <= UNROLL_KEY_WORDS) {
    for (let i = 0; i < words; i++) {
      mov(buf, 'r8', qword(key, i * 8));
      alu(buf, 'cmp', 'r8', qword(elem, keyOffset + i * 8));
      jcc(buf, 'ne', mismatch);
    }
    if (tail > 0) {
      emitLoadTail(buf, 'r8', 'r9', key, words * 8, tail);
      alu(buf, 'cmp', 'r8', qword(elem, keyOffset + words * 8));
      jcc(buf, 'ne', mismatch);
    }
    return;
  }
  const loop = buf.newLabel();
  mov(buf, 'r10', key);
  lea(buf, 'r11', ptr(elem, keyOffset));
  lea(buf, 'r9', ptr(key, words * 8));
  buf.bind(loop);
  mov(buf, 'r8', qword('r10', 0));
  alu(buf, 'cmp', 'r8', qword('r11', 0));
  jcc(buf, 'ne', mismatch);
  alu(buf, 'add', 'r10', 8);
  alu(buf, 'add', 'r11', 8);
  alu(buf, 'cmp', 'r10', 'r9');
  jcc(buf, 'b', loop);
  if (tail > 0) {
    emitLoadTail(buf, 'r8', 'r9', 'r10', 0, tail);
    alu(buf, 'cmp', 'r8', qword('r11', 0));
    jcc(buf, 'ne', mismatch);
  }
}

/**
 * Emit a copy of the `size` bytes at `[src + srcDisp]` to `[dst + dstDisp]`, writing
 * round_up(size, 8) bytes (the last word zero-padded) and reading exactly `size`.
 * Clobbers r8–r11 and the flags.
 * @throws RuntimeError EINVAL if `src` or `dst` is one of r8–r11.
 */
export function emitCopy(buf: CodeBuffer, size: number, src: Gp64, srcDisp: number, dst: Gp64, dstDisp: number): void {
  assertNotTemp(src, 'emitCopy');
  assertNotTemp(dst, 'emitCopy');
  const words = Math.floor(size / 8);
  const tail = size % 8;
  let s: Gp64 = src;
  let sd = srcDisp + words * 8;
  let d: Gp64 = dst;
  let dd = dstDisp + words * 8;
  if (words <= UNROLL_COPY_WORDS) {
    for (let i = 0; i < words; i++) {
      mov(buf, 'r8', qword(src, srcDisp + i * 8));
      mov(buf, qword(dst, dstDisp + i * 8), 'r8');
    }
  } else {
    const loop = buf.newLabel();
    lea(buf, 'r10', ptr(src, srcDisp));
    lea(buf, 'r11', ptr(dst, dstDisp));
    lea(buf, 'r9', ptr(src, srcDisp + words * 8));
    buf.bind(loop);
    mov(buf, 'r8', qword('r10', 0));
    mov(buf, qword('r11', 0), 'r8');
    alu(buf, 'add', 'r10', 8);
    alu(buf, 'add', 'r11', 8);
    alu(buf, 'cmp', 'r10', 'r9');
    jcc(buf, 'b', loop);
    s = 'r10';
    sd = 0;
    d = 'r11';
    dd = 0;
  }
  if (tail > 0) {
    emitLoadTail(buf, 'r8', 'r9', s, sd, tail);
    mov(buf, qword(d, dd), 'r8');
  }
}

/**
 * Emit the zeroing of `size` bytes (a multiple of 8) at `[dst + dstDisp]`. Clobbers r8–r10
 * and the flags.
 * @throws RuntimeError EINVAL if `dst` is one of r8–r11, or `size` is not a multiple of 8.
 */
export function emitZero(buf: CodeBuffer, size: number, dst: Gp64, dstDisp: number): void {
  assertNotTemp(dst, 'emitZero');
  if (size % 8 !== 0) throw new RuntimeError('EINVAL', `emitZero: ${size} is not a multiple of 8`);
  const words = size / 8;
  alu(buf, 'xor', 'r8d', 'r8d');
  if (words <= UNROLL_COPY_WORDS) {
    for (let i = 0; i < words; i++) mov(buf, qword(dst, dstDisp + i * 8), 'r8');
    return;
  }
  const loop = buf.newLabel();
  lea(buf, 'r10', ptr(dst, dstDisp));
  lea(buf, 'r9', ptr(dst, dstDisp + size));
  buf.bind(loop);
  mov(buf, qword('r10', 0), 'r8');
  alu(buf, 'add', 'r10', 8);
  alu(buf, 'cmp', 'r10', 'r9');
  jcc(buf, 'b', loop);
}
