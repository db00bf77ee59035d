import { EbpfError } from '../errors.js';
import {
  BPF_ALU_OP,
  BPF_CLASS,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_LDDW,
  BPF_SIZE,
  BPF_SRC,
  type Insn,
  LDDW_OPCODE,
} from '../insn.js';
import { XDP_MD } from './bpf-attr.js';
import { type KernelMap, kernelMapCreate } from './kernel-map.js';
import { type KernelProg, kernelProgLoad } from './kernel-prog.js';
import { kernelTestRun } from './kernel-test-run.js';

/**
 * Where the tested program's memory lives when run in the kernel (r1 = its address, r2 =
 * its length, r3-r5 = 0 at entry, as in the conformance suite):
 *
 * - `'map'`: in the value of a one-entry array map, handed to the program as a map-value
 *   pointer. Accesses at constant offsets inside the memory pass the kernel's verifier, and
 *   the memory is read back after the run, so loads and stores are comparable. Accesses
 *   whose offset comes from a register the verifier cannot bound, or that reach past the
 *   memory, are refused at load time.
 * - `'packet'`: in the XDP packet (`data`..`data_end` of the `xdp_md` context). The kernel's
 *   verifier refuses any direct access through r1 that is not preceded by a comparison
 *   against `data_end`, which the tested program never sees (r2 is a plain length), so only
 *   programs that do not dereference r1 load; the packet needs at least 14 bytes.
 * - without memory: r1-r5 = 0.
 */
export type KernelMemoryMode = 'map' | 'packet';

/** Options of {@link KernelRunner.run}. */
export interface KernelRunOptions {
  /** The program's memory; r1 points to it and r2 holds its length at entry. */
  readonly memory?: Uint8Array;
  /** Where the memory lives in the kernel (default `'map'`). */
  readonly memoryMode?: KernelMemoryMode;
  /** Runs of the test-run (default 1). */
  readonly repeat?: number;
}

/** The outcome of a wrapped run. */
export interface KernelRunResult {
  /** The tested program's full 64-bit r0 (unsigned). */
  readonly r0: bigint;
  /** The memory after the run (`'map'` and `'packet'` modes). */
  readonly memory?: Uint8Array;
  /** Mean nanoseconds per run of the whole wrapper, measured by the kernel. */
  readonly durationNs: number;
  /** Instructions of the wrapped program that was loaded (main program + the tested program as its subprogram). */
  readonly insnCount: number;
}

const MOV64_K = BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.K;
const EXIT: Insn = { code: BPF_CLASS.JMP | BPF_JMP_OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 };
/** XDP_PASS: what the wrapper's main program returns. */
const XDP_PASS = 2;
/** An Ethernet frame's worth of zero bytes: the packet of runs without packet memory. */
const EMPTY_PACKET = new Uint8Array(64);

function mov(dst: number, imm: number): Insn {
  return { code: MOV64_K, dst, src: 0, off: 0, imm };
}

/** `lddw dst, map_value(fd) + 0`: a pointer to the first value of an array map. */
function mapValue(dst: number, fd: number): Insn[] {
  return [
    { code: LDDW_OPCODE, dst, src: BPF_PSEUDO_LDDW.MAP_VALUE, off: 0, imm: fd },
    { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
  ];
}

/**
 * Build the XDP main program that calls `tested` as a BPF-to-BPF subprogram and stores
 * its 64-bit r0 into the result map's value, then returns XDP_PASS.
 * `entry` sets r1..r5 (and may use r1 = ctx on entry). Exported for tests.
 */
export function wrapProgram(tested: readonly Insn[], entry: readonly Insn[], resultFd: number): Insn[] {
  const main: Insn[] = [...entry, ...mapValue(6, resultFd)];
  const callAt = main.length;
  const epilogue: Insn[] = [{ code: BPF_CLASS.STX | BPF_SIZE.DW | BPF_MODE.MEM, dst: 6, src: 0, off: 0, imm: 0 }, mov(0, XDP_PASS), EXIT];
  const testedAt = callAt + 1 + epilogue.length;
  main.push({ code: BPF_CLASS.JMP | BPF_JMP_OP.CALL, dst: 0, src: BPF_PSEUDO_CALL.LOCAL, off: 0, imm: testedAt - callAt - 1 });
  return [...main, ...epilogue, ...tested];
}

/**
 * Runs eBPF programs in the running kernel and reads back their full 64-bit r0 (XDP
 * returns only 32 bits): each program is loaded as a subprogram of an XDP main program
 * that stores r0 into an array map, run once with `BPF_PROG_TEST_RUN`, and the map is
 * read. Owns its maps; `close()` them when done.
 */
export class KernelRunner {
  readonly #result: KernelMap;
  #memory: KernelMap | undefined;

  /** @throws EbpfError UNSUPPORTED without `bpf()`; KernelError if the result map cannot be created. */
  constructor() {
    this.#result = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'oracle_r0' });
  }

  /**
   * Load `insns` (wrapped), run it, read r0 (and the memory). The program must end every
   * path in `exit` with r0 set, as the kernel verifier requires of a subprogram; r6-r9 and
   * the stack are its own.
   * @throws EbpfError EINVAL for bad options; KernelError when the kernel refuses the
   * wrapped program (with the verifier log) or the run.
   */
  run(insns: readonly Insn[], options: KernelRunOptions = {}): KernelRunResult {
    const { memory } = options;
    if (memory !== undefined && !(memory instanceof Uint8Array))
      throw new EbpfError('EINVAL', 'KernelRunner.run: memory must be a Uint8Array');
    const mode = options.memoryMode ?? 'map';
    if (mode !== 'map' && mode !== 'packet') throw new EbpfError('EINVAL', `KernelRunner.run: unknown memoryMode ${String(mode)}`);
    const zeros = (from: number): Insn[] => [1, 2, 3, 4, 5].filter((r) => r >= from).map((r) => mov(r, 0));
    let entry: Insn[];
    let data: Uint8Array = EMPTY_PACKET;
    let memMap: KernelMap | undefined;
    if (memory === undefined || memory.length === 0) {
      entry = zeros(1);
    } else if (mode === 'packet') {
      if (memory.length < 14) throw new EbpfError('EINVAL', 'KernelRunner.run: packet memory needs at least 14 bytes (an Ethernet header)');
      data = memory;
      entry = [
        { code: BPF_CLASS.LDX | BPF_SIZE.W | BPF_MODE.MEM, dst: 2, src: 1, off: XDP_MD.data_end, imm: 0 },
        { code: BPF_CLASS.LDX | BPF_SIZE.W | BPF_MODE.MEM, dst: 1, src: 1, off: XDP_MD.data, imm: 0 },
        // pkt_end - pkt: a privileged program may subtract pointers and gets a scalar.
        { code: BPF_CLASS.ALU64 | BPF_ALU_OP.SUB | BPF_SRC.X, dst: 2, src: 1, off: 0, imm: 0 },
        ...zeros(3),
      ];
    } else {
      if (memory.length > 0x7fff_ffff) throw new EbpfError('EINVAL', 'KernelRunner.run: memory too large');
      memMap = this.memoryMap(memory.length);
      memMap.update(new Uint8Array(4), memory);
      entry = [...mapValue(1, memMap.fd), mov(2, memory.length), ...zeros(3)];
    }
    const wrapped = wrapProgram(insns, entry, this.#result.fd);
    let prog: KernelProg | undefined;
    try {
      prog = kernelProgLoad(wrapped, { progType: 'xdp', name: 'oracle_run64' });
      const run = kernelTestRun(prog, { data, repeat: options.repeat ?? 1 });
      const value = this.#result.lookup(new Uint8Array(4));
      if (value === undefined) throw new EbpfError('KERNEL', 'KernelRunner.run: the result map has no value');
      const r0 = new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
      const after =
        memory === undefined || memory.length === 0 ? undefined : mode === 'packet' ? run.dataOut : memMap?.lookup(new Uint8Array(4));
      return { r0, ...(after !== undefined ? { memory: after } : {}), durationNs: run.durationNs, insnCount: wrapped.length };
    } finally {
      prog?.close();
    }
  }

  private memoryMap(size: number): KernelMap {
    if (this.#memory !== undefined && this.#memory.valueSize === size) return this.#memory;
    this.#memory?.close();
    this.#memory = undefined;
    this.#memory = kernelMapCreate({ type: 'array', keySize: 4, valueSize: size, maxEntries: 1, name: 'oracle_mem' });
    return this.#memory;
  }

  /** Close the runner's maps (idempotent). */
  close(): void {
    this.#result.close();
    this.#memory?.close();
    this.#memory = undefined;
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * One-shot {@link KernelRunner.run}: the tested program's full 64-bit r0 as the kernel
 * computes it.
 * @throws EbpfError / KernelError as `KernelRunner.run`.
 */
export function kernelRun64(insns: readonly Insn[], options: KernelRunOptions = {}): KernelRunResult {
  const runner = new KernelRunner();
  try {
    return runner.run(insns, options);
  } finally {
    runner.close();
  }
}
