/**
 * The recommended multi-byte nops (Intel SDM Vol. 2B, NOP; AMD's P6 forms), indexed by
 * length 1..8. These are the kernel's `x86_nops` used to pad the dispatcher image.
 */
export const P6_NOPS: readonly (readonly number[])[] = Object.freeze([
  Object.freeze([]),
  Object.freeze([0x90]),
  Object.freeze([0x66, 0x90]),
  Object.freeze([0x0f, 0x1f, 0x00]),
  Object.freeze([0x0f, 0x1f, 0x40, 0x00]),
  Object.freeze([0x0f, 0x1f, 0x44, 0x00, 0x00]),
  Object.freeze([0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00]),
  Object.freeze([0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00]),
  Object.freeze([0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]),
]);

/** The 5-byte nop `0F 1F 44 00 00` (`nop DWORD PTR [rax+rax*1+0x0]`): the `__fentry__` site a text poke turns into a jmp/call. */
export const NOP5: readonly number[] = P6_NOPS[5] as readonly number[];

/** Longest nop emitted as one instruction. */
export const MAX_NOP = 8;

/**
 * Write `count` bytes of nops at `at` into `out` (greedy: 8-byte nops, then one shorter).
 * Returns the new position. The caller guarantees capacity.
 */
export function writeNops(out: Uint8Array, at: number, count: number): number {
  let pos = at;
  let left = count;
  while (left > 0) {
    const n = Math.min(left, MAX_NOP);
    const nop = P6_NOPS[n] as readonly number[];
    for (let i = 0; i < n; i++) out[pos + i] = nop[i] as number;
    pos += n;
    left -= n;
  }
  return pos;
}
