/**
 * Small memory loops for the runtime's native functions: copy a known number of bytes
 * (map values and keys) and zero a run of bytes (`xdp_adjust_tail` growth). The simulated
 * CPU has no string instructions, so these are plain loads and stores.
 */
import { type CodeBuffer, GP8, GP16, GP32, GP64, type Gp, type Gp64, alu, byte, dec, dword, jcc, mov, qword, test, word } from '@bpf-dispatcher/x86';

/** Bytes copied as straight-line code; larger copies loop over 8-byte words. */
const UNROLL_LIMIT = 64;

/**
 * Copy `size` bytes (a constant) from `[src]` to `[dst]` (non-overlapping), using
 * `scratch` for data and `counter` for the loop of large copies. Never touches a byte
 * beyond `size` on either side. `dst` and `src` are advanced by large copies.
 */
export function emitCopy(buf: CodeBuffer, dst: Gp64, src: Gp64, size: number, scratch: Gp64, counter: Gp64): void {
  if (size > UNROLL_LIMIT) {
    const words = Math.floor(size / 8);
    mov(buf, counter, words);
    const top = buf.newLabel();
    buf.bind(top);
    mov(buf, scratch, qword(src, 0));
    mov(buf, qword(dst, 0), scratch);
    alu(buf, 'add', src, 8);
    alu(buf, 'add', dst, 8);
    dec(buf, counter);
    jcc(buf, 'ne', top);
    emitTail(buf, dst, src, size - words * 8, scratch);
    return;
  }
  emitTail(buf, dst, src, size, scratch);
}

/** Copy `size` bytes from offset 0 in 8/4/2/1-byte moves. */
function emitTail(buf: CodeBuffer, dst: Gp64, src: Gp64, size: number, scratch: Gp64): void {
  let off = 0;
  let left = size;
  for (const [width, load] of [
    [8, qword],
    [4, dword],
    [2, word],
    [1, byte],
  ] as const) {
    while (left >= width) {
      const reg = narrow(scratch, width);
      mov(buf, reg, load(src, off));
      mov(buf, load(dst, off), reg);
      off += width;
      left -= width;
    }
  }
}

/**
 * Zero `[dst, dst + count)` where `count` (a register, may be 0) is clobbered, byte by byte
 * with 8-byte stores while at least 8 bytes remain. `dst` is advanced.
 */
export function emitZero(buf: CodeBuffer, dst: Gp64, count: Gp64): void {
  const words = buf.newLabel();
  const bytes = buf.newLabel();
  const done = buf.newLabel();
  buf.bind(words);
  alu(buf, 'cmp', count, 8);
  jcc(buf, 'b', bytes, 'short');
  mov(buf, qword(dst, 0), 0);
  alu(buf, 'add', dst, 8);
  alu(buf, 'sub', count, 8);
  jcc(buf, 'ne', words, 'short');
  buf.bind(bytes);
  test(buf, count, count);
  jcc(buf, 'e', done, 'short');
  mov(buf, byte(dst, 0), 0);
  alu(buf, 'add', dst, 1);
  dec(buf, count);
  jcc(buf, 'ne', bytes, 'short');
  buf.bind(done);
}

/** The view of a register for a width in bytes (`rcx`, 4 → `ecx`). */
export function narrow(reg: Gp64, width: 1 | 2 | 4 | 8): Gp {
  const id = GP64.indexOf(reg);
  return (width === 8 ? reg : width === 4 ? GP32[id] : width === 2 ? GP16[id] : GP8[id]) as Gp;
}
