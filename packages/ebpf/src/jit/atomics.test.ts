import { describe, expect, it } from 'vitest';
import type { BPF_ATOMIC, Insn } from '../insn.js';
import { aluK, atomic, exit, lddw, ldx, mov, movX, stx } from '../test-support/jit-builders.js';
import { NATIVE, runNative } from '../test-support/jit-native.js';

type AtomicName = Exclude<keyof typeof BPF_ATOMIC, 'FETCH'>;
const M64 = (1n << 64n) - 1n;
const SLOT = -200;

interface State {
  r0: bigint;
  src: bigint;
  mem: bigint;
}

/** RFC 9669 section 5.3 on (r0, src, memory); the base register is not changed. */
function atomicRef(op: AtomicName, fetch: boolean, bits: 32 | 64, s: State): State {
  const mask = bits === 64 ? M64 : 0xffff_ffffn;
  const old = s.mem & mask;
  const v = s.src & mask;
  const keepHigh = s.mem & ~mask & M64;
  switch (op) {
    case 'XCHG':
      return { r0: s.r0, src: old, mem: keepHigh | v };
    case 'CMPXCHG':
      return { r0: old, src: s.src, mem: keepHigh | (old === (s.r0 & mask) ? v : old) };
    default: {
      const res = op === 'ADD' ? (old + v) & mask : op === 'OR' ? old | v : op === 'AND' ? old & v : old ^ v;
      return { r0: s.r0, src: fetch ? old : s.src, mem: keepHigh | res };
    }
  }
}

/**
 * One case: memory at [r10 + SLOT] = mem; base register `dst` points at it (or is r10);
 * `src` and r0 hold their values; the atomic runs; then r0, src and the memory word (read
 * back through r10, which must have survived) are written to the data buffer. Pointers
 * never reach the buffer or the atomic's operand: the verifier refuses such leaks.
 */
function program(op: AtomicName, fetch: boolean, size: 'W' | 'DW', dst: number, src: number, s: State): Insn[] {
  const tmp = [6, 7, 8].find((r) => r !== dst && r !== src) as number;
  const out: Insn[] = [stx('DW', 10, 1, -8), ...lddw(tmp, s.mem), stx('DW', 10, tmp, SLOT)];
  if (dst !== 10) out.push(movX(dst, 10), aluK('ADD', dst, SLOT - 16));
  if (src !== dst && src !== 0) out.push(...lddw(src, s.src));
  if (dst !== 0 && src !== 0) out.push(...lddw(0, s.r0));
  if (src === 0 && dst !== 0) out.push(...lddw(0, s.src));
  out.push(atomic(size, op, dst, src, dst === 10 ? SLOT : 16, fetch));
  out.push(
    ldx('DW', 1, 10, -8),
    stx('DW', 1, 0, 0),
    stx('DW', 1, src, 8),
    ldx('DW', tmp, 10, SLOT),
    stx('DW', 1, tmp, 24),
  );
  out.push(mov(0, 0), exit());
  return out;
}

const CASES: readonly State[] = [
  { r0: 5n, src: 3n, mem: 0xf0f0_f0f0_0000_0005n },
  { r0: 0xdead_beefn, src: M64, mem: 0x1234_5678_dead_beefn },
  { r0: 0xffff_ffff_0000_0007n, src: 0x8000_0000_0000_0001n, mem: 7n },
  { r0: 7n, src: 0x8000_0000_0000_0001n, mem: 7n },
];

describe.skipIf(!NATIVE)('atomics natively', () => {
  const variants: { op: AtomicName; fetch: boolean }[] = [
    ...(['ADD', 'OR', 'AND', 'XOR'] as const).flatMap((op) => [
      { op, fetch: false },
      { op, fetch: true },
    ]),
    { op: 'XCHG', fetch: false },
    { op: 'CMPXCHG', fetch: false },
  ];

  it.each(variants)('$op (fetch $fetch), 32 and 64 bits, with R0 as source and R4 as base or source', ({ op, fetch }) => {
    for (const size of ['W', 'DW'] as const)
      for (const [dst, src] of [
        [10, 2],
        [2, 3],
        [2, 0],
        [4, 9],
        [9, 4],
        [10, 0],
      ] as const) {
        for (const s of CASES) {
          const { data } = runNative(program(op, fetch, size, dst, src, s), { data: new Uint8Array(32) });
          const view = new DataView(data.buffer, data.byteOffset);
          const got = { r0: view.getBigUint64(0, true), src: view.getBigUint64(8, true), mem: view.getBigUint64(24, true) };
          // The registers as the instruction saw them: a source in R0 is r0.
          const r0 = src === 0 ? s.src : s.r0;
          const before: State = { r0, src: src === 0 ? r0 : s.src, mem: s.mem };
          const after = atomicRef(op, fetch, size === 'W' ? 32 : 64, before);
          // When src is R0 both names are one register: it ends with what src gets (cmpxchg: the old value).
          const finalR0 = src === 0 && op !== 'CMPXCHG' ? after.src : after.r0;
          const want = { r0: finalR0, src: src === 0 ? finalR0 : after.src, mem: after.mem };
          expect({ case: { op, fetch, size, dst, src }, ...got }).toEqual({ case: { op, fetch, size, dst, src }, ...want });
        }
      }
  });
});
