import { type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import type { CodeBuffer } from '@bpf-dispatcher/x86';
import { ticksToNanoseconds } from './clock.js';
import { XdpError } from './errors.js';
import { BPF_PROG } from './layout.js';

/** Per-program statistics, as `bpf_prog_stats`. */
export interface XdpProgStats {
  /** Runs counted while stats were on. */
  readonly cnt: bigint;
  /** Time spent in the program, nanoseconds (from time-stamp-counter ticks). */
  readonly nsecs: bigint;
  /** The raw ticks behind `nsecs`. */
  readonly ticks: bigint;
}

/**
 * A loaded XDP program (`struct bpf_prog`): its JIT'd function `u32 bpf_func(ctx, insnsi)`
 * in arena text, and a `struct bpf_prog` in arena data that native call sites read
 * (`bpf_func`, `insnsi`, stats).
 */
export interface XdpProg {
  readonly name: string;
  readonly arena: TextArena;
  /** Address of the JIT'd function (what the dispatcher compares rdx with). */
  readonly bpfFunc: bigint;
  /** Address of the program's "instructions" (an opaque data block, as `prog->insnsi`). */
  readonly insnsi: bigint;
  /** Address of the `struct bpf_prog` in data memory. */
  readonly struct: bigint;
  /** A small id, stored in the struct (for tests that record which program ran). */
  readonly id: number;
  /** Current stats. */
  stats(): XdpProgStats;
  /** Zero the stats. */
  resetStats(): void;
}

let nextId = 1;

/**
 * Assemble a program into the arena and create its `struct bpf_prog`.
 * @param emit writes the function body; the buffer's base is the function's address;
 *   `info.id` is the program's id (also stored in its struct).
 * @throws XdpError EINVAL for a bad name; TextPokeError EINVAL if the code does not fit
 *   `size`, or when the arena is full.
 */
export function createXdpProg(arena: TextArena, name: string, size: number, emit: (buf: CodeBuffer, info: { readonly id: number }) => void): XdpProg {
  if (typeof name !== 'string' || name.length === 0) throw new XdpError('EINVAL', 'createXdpProg: name must be a non-empty string');
  const id = nextId++;
  const text = emitText(arena, size, (buf) => emit(buf, { id }), { align: 16 });
  const insns: Region = arena.allocData(64);
  const struct = arena.allocData(BPF_PROG.size);
  const view = new DataView(arena.dataView(struct).buffer, arena.dataView(struct).byteOffset, BPF_PROG.size);
  view.setBigUint64(BPF_PROG.bpfFunc, text.address, true);
  view.setBigUint64(BPF_PROG.insnsi, insns.address, true);
  view.setUint32(BPF_PROG.id, id, true);
  const read = (offset: number) => new DataView(arena.read(struct.address + BigInt(offset), 8).buffer).getBigUint64(0, true);
  return Object.freeze({
    name,
    arena,
    bpfFunc: text.address,
    insnsi: insns.address,
    struct: struct.address,
    id,
    stats: () => {
      const ticks = read(BPF_PROG.statsTicks);
      return { cnt: read(BPF_PROG.statsCnt), ticks, nsecs: ticksToNanoseconds(arena, ticks) };
    },
    resetStats: () => arena.write(struct.address + BigInt(BPF_PROG.statsCnt), new Uint8Array(16)),
  });
}

/** True if `value` looks like an XdpProg. */
export function isXdpProg(value: unknown): value is XdpProg {
  return typeof value === 'object' && value !== null && typeof (value as XdpProg).bpfFunc === 'bigint' && typeof (value as XdpProg).struct === 'bigint';
}
