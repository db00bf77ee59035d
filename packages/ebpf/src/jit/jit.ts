/**
 * The x86-64 JIT: eBPF instructions to native code in a text arena, following the kernel's
 * arch/x86/net/bpf_jit_comp.c (register map, frames, instruction forms) in one pass with
 * labels instead of the kernel's size-converging passes.
 */
import type { Region, TextArena } from '@bpf-dispatcher/text-poke';
import { type Address, BpfDispatcherError, alu, lea, ptr } from '@bpf-dispatcher/x86';
import { EbpfError } from '../errors.js';
import { BPF_ALU_OP, BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_SIZE, BPF_SRC, type Insn } from '../insn.js';
import type { ProgramType, VerifiedProgram, VerifyOptions, XdpMdField } from '../verifier/types.js';
import { isVerifiedProgram, verify } from '../verifier/verify.js';
import { emitAlu } from './alu.js';
import { type Analysis, analyze } from './analyze.js';
import { emitAtomic } from './atomics.js';
import { emitCall, emitExit } from './calls.js';
import { type CpuSource, EMPTY_ENV, JitContext, type JitEnv, type JitMapInfo } from './context.js';
import { JitError } from './errors.js';
import { emitEpilogue, emitPrologue, MAX_BPF_STACK } from './frame.js';
import { emitJump } from './jumps.js';
import { liveness } from './liveness.js';
import { bpfReg64 } from './registers.js';
import { emitLddw, emitLoad, emitStoreImm, emitStoreReg, memOperand } from './memory.js';

/** Helper addresses by helper id: a Map or a plain object. */
export type HelperTable = ReadonlyMap<number, Address> | Readonly<Record<number, Address>>;

/**
 * The fields of a verified program the JIT reads: the instructions and what the verifier
 * proved about each subprogram (`stackDepth`: the bytes of stack it uses, the kernel's
 * `subprog_info[].stack_depth`). Only a genuine {@link VerifiedProgram} returned by `verify`
 * is accepted by {@link jit}: an object of this shape made elsewhere is refused.
 */
export interface VerifiedProgramLike {
  readonly insns: readonly Insn[];
  readonly subprograms?: readonly { readonly start: number; readonly stackDepth: number }[];
}

/** Options of {@link jit}. */
export interface JitOptions {
  /** Addresses of the helpers the program calls, by helper id (`call imm`): native functions, System V ABI. */
  readonly helpers?: HelperTable;
  /**
   * At least this many stack bytes per frame (0..512; default 0: the depth the verifier
   * proved for each subprogram).
   */
  readonly stackDepth?: number;
  /**
   * The program type to verify raw instructions for (the kernel's `bpf_check` before
   * `bpf_int_jit_compile`); required with raw instructions. A program the verifier refuses
   * throws its VerifierError (code VERIFY). Ignored when a VerifiedProgram is passed.
   */
  readonly progType?: ProgramType;
  /** Further verifier options (helpers, maps, limits) when `progType` is given. */
  readonly verifyOptions?: Omit<VerifyOptions, 'progType'>;
  /**
   * The maps the program refers to, by the fd its `lddw` instructions carry: their native
   * addresses (what `lddw rX, map` loads), their own functions (called directly where the
   * verifier knows the map at a call site) and an array lookup to inline. Each must be the
   * map the verifier was told about under that fd (`verifyOptions.maps`).
   */
  readonly maps?: ReadonlyMap<number, JitMapInfo>;
  /**
   * The runtime's context layout: where each `struct xdp_md` field a program reads lives
   * in the runtime's buffer (loads are rewritten, as the kernel's `convert_ctx_access`
   * does) and where the CPU index is. Without it, context loads read `struct xdp_md` as it is.
   */
  readonly context?: JitContextLayout;
  /**
   * The runtime's CPU count: a program that calls helpers keeps the CPU index in r12
   * (the runtime ABI), loaded from `context.cpuOffset` and replaced by 0 when not below
   * this count (for memory programs: 0), and `get_smp_processor_id` becomes `mov eax, r12d`.
   * Without it, helpers are plain System V functions and r12 is not touched.
   */
  readonly cpus?: number;
}

/**
 * Where a runtime keeps the `xdp_md` fields and the CPU index in the buffer programs get as
 * context. The packet pointers (`data`, `data_end`, `data_meta`) are 8 bytes wide, the
 * scalars 4 (what the verifier proved of them); another width is EINVAL.
 */
export interface JitContextLayout {
  readonly fields: Readonly<Partial<Record<XdpMdField, { readonly offset: number; readonly size: 4 | 8 }>>>;
  readonly cpuOffset?: number;
}

/** A JIT'd program in a text arena (the kernel's `struct bpf_prog` after `bpf_int_jit_compile`). */
export interface JitProgram {
  /** The arena the code lives in. */
  readonly arena: TextArena;
  /** Entry point, `bpf_func`: call it with the context in rdi; the result comes back in rax. */
  readonly bpfFunc: bigint;
  /** Size of the code in bytes (the kernel's `jited_len`). */
  readonly size: number;
  /** A copy of the machine code. */
  readonly bytes: Uint8Array;
  /** Number of eBPF instruction slots translated. */
  readonly insnCount: number;
  /** Native offset of each slot from `bpfFunc` (the kernel's `addrs[]`), -1 for the second slot of lddw. */
  readonly offsets: Int32Array;
  /** Entry address of each subprogram, the main program first. */
  readonly subprogEntries: readonly bigint[];
  /** The program type it was verified for (what the context in rdi must be). */
  readonly progType: ProgramType;
  /** Release the code (idempotent). The program must not be running or reachable any more. */
  free(): void;
  /** True once freed. */
  readonly freed: boolean;
}

function helperMap(helpers: HelperTable | undefined): Map<number, bigint> {
  const out = new Map<number, bigint>();
  if (helpers === undefined) return out;
  if (typeof helpers !== 'object' || helpers === null)
    throw new EbpfError('EINVAL', 'jit: options.helpers must be a Map or an object of addresses');
  const entries: Iterable<readonly [unknown, unknown]> = helpers instanceof Map ? helpers.entries() : Object.entries(helpers);
  for (const [key, value] of entries) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < -0x8000_0000 || id > 0x7fff_ffff)
      throw new EbpfError('EINVAL', `jit: helper id ${String(key)} is not a 32-bit integer`);
    if (typeof value === 'bigint') out.set(id, BigInt.asUintN(64, value));
    else if (typeof value === 'number' && Number.isSafeInteger(value)) out.set(id, BigInt.asUintN(64, BigInt(value)));
    else throw new EbpfError('EINVAL', `jit: the address of helper ${id} is not a bigint or safe integer`);
  }
  return out;
}

const U32 = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
const ADDRESS = (v: unknown) => typeof v === 'bigint' && v >= 0n && v < 1n << 64n;

/** Check the maps option against what the program was verified with. @throws EbpfError EINVAL. */
function checkMaps(verified: VerifiedProgram, maps: unknown): Map<number, JitMapInfo> {
  const out = new Map<number, JitMapInfo>();
  if (maps !== undefined && !(maps instanceof Map)) throw new EbpfError('EINVAL', 'jit: options.maps must be a Map from fd to map info');
  for (const [fd, info] of (maps ?? new Map()) as Map<unknown, unknown>) {
    const known = verified.maps.find((m) => m.fd === fd);
    if (known === undefined) continue; // not used by this program
    const m = info as Partial<JitMapInfo> | null;
    const inline = m?.inlineLookup;
    const ops = m?.ops;
    const ok =
      typeof m === 'object' &&
      m !== null &&
      ADDRESS(m.address) &&
      (m.directValue === undefined || ADDRESS(m.directValue)) &&
      (ops === undefined || (typeof ops === 'object' && ops !== null && [ops.lookup, ops.update, ops.delete].every((a) => a === undefined || ADDRESS(a)))) &&
      (inline === undefined ||
        (typeof inline === 'object' &&
          inline !== null &&
          inline.kind === 'array' &&
          ADDRESS(inline.values) &&
          U32(inline.maxEntries) &&
          Number.isInteger(inline.elemSize) &&
          inline.elemSize >= known.valueSize &&
          inline.elemSize <= 0x7fff_ffff &&
          Number.isInteger(inline.cpuStride) &&
          inline.cpuStride >= 0 &&
          inline.cpuStride <= 0x7fff_ffff &&
          known.keySize === 4 &&
          // the verifier let constant-key lookups below its max_entries go without a NULL check
          (known.arrayMaxEntries === undefined || inline.maxEntries === known.arrayMaxEntries)));
    if (!ok) throw new EbpfError('EINVAL', `jit: options.maps entry for fd ${String(fd)} is not { address, directValue?, ops?, inlineLookup? } matching the verified map`);
    out.set(fd as number, m as JitMapInfo);
  }
  for (const m of verified.maps) {
    if (verified.mapFds.includes(m.fd) && !out.has(m.fd)) throw new EbpfError('EINVAL', `jit: the program uses map fd ${m.fd}; pass its info in options.maps`);
  }
  return out;
}

/** The program-specific facts of a translation: maps, call sites, context rewrites, the CPU source. */
function jitEnv(verified: VerifiedProgram, options: JitOptions): JitEnv {
  const maps = checkMaps(verified, options.maps);
  const cpus = options.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 0x7fff_ffff) throw new EbpfError('EINVAL', 'jit: options.cpus must be a positive integer');
  const layout = options.context;
  const ctxFields = new Map<number, { offset: number; size: 4 | 8 }>();
  let cpuOffset: number | undefined;
  const xdp = verified.progType === 'xdp' || (typeof verified.progType === 'object' && verified.progType.kind === 'xdp');
  if (layout !== undefined) {
    if (typeof layout !== 'object' || layout === null || typeof layout.fields !== 'object' || layout.fields === null) throw new EbpfError('EINVAL', 'jit: options.context must be { fields, cpuOffset? }');
    const offsetOk = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;
    if (layout.cpuOffset !== undefined && !offsetOk(layout.cpuOffset)) throw new EbpfError('EINVAL', 'jit: options.context.cpuOffset must be an offset in 0..65535');
    if (xdp) {
      for (const load of verified.ctxLoads) {
        const f = layout.fields[load.field];
        if (f === undefined) throw new EbpfError('EINVAL', `jit: options.context has no layout for xdp_md.${load.field}`);
        // pointers (data, data_end, data_meta) are 64-bit; scalars 32-bit, as the verifier proved them
        const size = load.result === 'scalar' ? 4 : 8;
        if (!offsetOk(f.offset) || f.size !== size) throw new EbpfError('EINVAL', `jit: options.context.fields.${load.field} must be { offset, size: ${size} }`);
        ctxFields.set(load.insnIndex, { offset: f.offset, size: f.size });
      }
      cpuOffset = layout.cpuOffset;
    }
  }
  const callSiteMaps = new Map(verified.callSiteMaps.map(({ insnIndex, fd }) => [insnIndex, fd]));
  const callSiteKeys = new Map(verified.callSiteKeys.map(({ insnIndex, key }) => [insnIndex, key]));
  const decidedBranches = new Map(verified.decidedBranches.map(({ insnIndex, taken }) => [insnIndex, taken]));
  const callsHelpers = verified.helperIds.length > 0;
  // The runtime ABI (r12 = CPU index) applies when the caller names a CPU count (a runtime's jit options).
  const runtimeAbi = options.cpus !== undefined && callsHelpers;
  const cpu: CpuSource | undefined = !runtimeAbi ? undefined : cpuOffset !== undefined ? { kind: 'ctx', offset: cpuOffset, cpus } : { kind: 'zero' };
  return { maps, callSiteMaps, callSiteKeys, decidedBranches, ctxFields, cpu };
}

function isArena(value: unknown): value is TextArena {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as TextArena).alloc === 'function' &&
    typeof (value as TextArena).write === 'function'
  );
}

/** Stack depth of each subprogram: the verifier's, at least `minimum`. */
function stackDepths(analysis: Analysis, program: VerifiedProgram, minimum: number): number[] {
  const depths = analysis.subprogs.map(() => minimum);
  for (const sp of program.subprograms) {
    const k = analysis.subprogs.findIndex((s) => s.start === sp.start);
    if (k < 0 || !Number.isInteger(sp.stackDepth) || sp.stackDepth < 0 || sp.stackDepth > MAX_BPF_STACK) {
      throw new EbpfError('EINVAL', `jit: verified subprogram at ${sp.start} has no match or a bad stack depth ${String(sp.stackDepth)}`);
    }
    depths[k] = Math.max(minimum, sp.stackDepth);
  }
  return depths;
}

/**
 * Translate the instructions (already analysed) into machine code at offset 0.
 * `zeroStack`: each frame's stack is zeroed in its prologue (for programs that may read
 * stack bytes they never wrote, the verifier's `readsUninitStack`), so that no old native
 * stack contents reach the program.
 * Exported for the benchmark and tests; {@link jit} is the public entry.
 */
export function emitProgram(
  analysis: Analysis,
  helpers: ReadonlyMap<number, bigint>,
  depths: readonly number[],
  shortForward = true,
  zeroStack = false,
  env: JitEnv = EMPTY_ENV,
): JitContext {
  const ctx = new JitContext(analysis, helpers, 64 + analysis.insns.length * 12, shortForward, env);
  const insns = analysis.insns;
  const frameKeys = frameKeyPointers(analysis, env);
  const live = liveness(analysis, { callUses: (i) => (frameKeys.has(i) ? 0 : helperCallUses(env, insns[i] as Insn, i)) });
  ctx.frameKeys = frameKeys;
  analysis.subprogs.forEach((sp, k) => {
    ctx.subprog = sp;
    ctx.epilogue = ctx.buf.newLabel();
    ctx.buf.bind(ctx.entries[k] as NonNullable<(typeof ctx.entries)[number]>);
    emitPrologue(ctx, sp, depths[k] as number, k === 0, zeroStack);
    for (let i = sp.start; i < sp.end; i++) {
      const x = insns[i] as Insn;
      ctx.bindInsn(i);
      if (live.dead[i] === 1) {
        if (x.code === (BPF_CLASS.LD | 0x18)) i++;
        continue; // its result is never read: no code
      }
      if (i + 1 < sp.end && emitFrameAddress(ctx, insns, i, live.dead)) {
        ctx.bindInsn(i + 1);
        i += 1;
        continue;
      }
      if (i + 2 < sp.end && emitFusedIncrement(ctx, insns, i, live.liveOut)) {
        ctx.bindInsn(i + 1);
        ctx.bindInsn(i + 2);
        i += 2;
        continue;
      }
      try {
        emitInsn(ctx, x, i);
      } catch (error) {
        if (BpfDispatcherError.isInstance(error) && error.code === 'JIT') throw error;
        throw new JitError(i, `cannot encode: ${(error as Error).message}`, { cause: error });
      }
      if (x.code === (BPF_CLASS.LD | 0x18)) i++;
    }
    ctx.buf.bind(ctx.epilogue);
    emitEpilogue(ctx, sp, k === 0);
  });
  return ctx;
}

/** Registers a helper call at slot `i` reads, given what the JIT does with it (see liveness.ts). */
function helperCallUses(env: JitEnv, x: Insn, i: number): number {
  const args = 0b111110;
  if (x.src !== 0 || env.cpu === undefined) return args;
  if (x.imm === 8) return 0; // get_smp_processor_id: mov eax, r12d
  if (x.imm !== 1) return args;
  const fd = env.callSiteMaps.get(i);
  const map = fd === undefined || fd < 0 ? undefined : env.maps.get(fd);
  if (map?.inlineLookup === undefined) return args;
  return env.callSiteKeys.has(i) ? 0 : 1 << 2; // a folded lookup reads nothing, an inlined one the key pointer
}

/**
 * Inlined array lookups whose key pointer R2 is `r10 + disp`, set by `mov r2, r10; add r2,
 * disp` earlier in the same straight line (nothing jumps between, nothing else writes R2):
 * call slot → `disp`. The lookup then reads the key from `[rbp + disp]` and the two
 * instructions setting R2 are dead.
 */
function frameKeyPointers(analysis: Analysis, env: JitEnv): Map<number, number> {
  const out = new Map<number, number>();
  const insns = analysis.insns;
  for (let i = 0; i < insns.length; i++) {
    const call = insns[i] as Insn;
    if (call.code !== (BPF_CLASS.JMP | BPF_JMP_OP.CALL) || helperCallUses(env, call, i) !== 1 << 2) continue;
    // walk back over the straight line before the call to the instruction that last wrote R2
    for (let j = i - 1; j >= 1; j--) {
      if (analysis.isTarget[j + 1] === 1) break;
      const x = insns[j] as Insn;
      if (x.code === 0 && j >= 1 && (insns[j - 1] as Insn).code === (BPF_CLASS.LD | 0x18)) continue; // second slot of lddw
      const cls = x.code & 0x07;
      const fetches = cls === BPF_CLASS.STX && (x.code & 0xe0) === BPF_MODE.ATOMIC && (x.imm & 0x01) !== 0 && x.src === 2;
      const writesR2 = fetches || (x.dst === 2 && (cls === BPF_CLASS.ALU || cls === BPF_CLASS.ALU64 || cls === BPF_CLASS.LD || cls === BPF_CLASS.LDX));
      const isJump = (x.code & 0x07) === BPF_CLASS.JMP || (x.code & 0x07) === BPF_CLASS.JMP32;
      if (isJump) break;
      if (!writesR2) continue;
      const mov = insns[j - 1] as Insn;
      if (
        x.code === (BPF_CLASS.ALU64 | BPF_ALU_OP.ADD | BPF_SRC.K) &&
        mov.code === (BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.X) &&
        mov.dst === 2 &&
        mov.src === 10 &&
        mov.off === 0 &&
        analysis.isTarget[j] !== 1
      ) {
        out.set(i, x.imm);
      }
      break;
    }
  }
  return out;
}

/**
 * `rX = r10; rX += imm` (a pointer into the frame, what clang emits for `&local`): one
 * `lea rX, [rbp + imm]` when nothing jumps to the second instruction and both are live.
 */
function emitFrameAddress(ctx: JitContext, insns: readonly Insn[], i: number, dead: Uint8Array): boolean {
  const mov = insns[i] as Insn;
  const add = insns[i + 1] as Insn;
  if (mov.code !== (BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.X) || mov.src !== 10 || mov.off !== 0) return false;
  if (add.code !== (BPF_CLASS.ALU64 | BPF_ALU_OP.ADD | BPF_SRC.K) || add.dst !== mov.dst) return false;
  if (ctx.analysis.isTarget[i + 1] === 1 || dead[i + 1] === 1) return false;
  lea(ctx.buf, bpfReg64(mov.dst), ptr('rbp', add.imm));
  return true;
}

/**
 * `rX = *(size *)(p + off); rX += imm; *(size *)(p + off) = rX` with rX read by nobody
 * afterwards, and no jump into the middle: one `add size [p + off], imm` (what clang emits
 * for `counter++` in a map value). Returns false when the three slots are not that.
 */
function emitFusedIncrement(ctx: JitContext, insns: readonly Insn[], i: number, liveOut: Uint16Array): boolean {
  const load = insns[i] as Insn;
  const add = insns[i + 1] as Insn;
  const store = insns[i + 2] as Insn;
  if ((load.code & 0x07) !== BPF_CLASS.LDX || (load.code & 0xe0) !== BPF_MODE.MEM) return false;
  if (ctx.env.ctxFields.has(i)) return false;
  const size = load.code & 0x18;
  const t = load.dst;
  const p = load.src;
  if (t === p) return false;
  if (add.code !== (BPF_CLASS.ALU64 | BPF_ALU_OP.ADD | BPF_SRC.K) && add.code !== (BPF_CLASS.ALU | BPF_ALU_OP.ADD | BPF_SRC.K)) return false;
  if (add.dst !== t || add.off !== 0) return false;
  // a 32-bit add zero-extends: equal to adding in memory only for stores of 32 bits or less
  if ((add.code & 0x07) === BPF_CLASS.ALU && size === BPF_SIZE.DW) return false;
  if (store.code !== (BPF_CLASS.STX | BPF_MODE.MEM | size) || store.dst !== p || store.src !== t || store.off !== load.off) return false;
  if (ctx.analysis.isTarget[i + 1] === 1 || ctx.analysis.isTarget[i + 2] === 1) return false;
  if (((liveOut[i + 2] as number) & (1 << t)) !== 0) return false;
  const bits = size === BPF_SIZE.DW ? 64 : size === BPF_SIZE.W ? 32 : size === BPF_SIZE.H ? 16 : 8;
  const imm = bits === 8 ? add.imm & 0xff : bits === 16 ? add.imm & 0xffff : add.imm;
  alu(ctx.buf, 'add', memOperand(p, load.off, bits), imm);
  return true;
}

/**
 * Emit and finish the code: forward jumps short where the slot bounds prove rel8 reaches;
 * should a bound ever be wrong (a rel8 that cannot reach), emit again with rel32 forward jumps.
 */
function emitAndFinish(analysis: Analysis, helpers: ReadonlyMap<number, bigint>, depths: readonly number[], zeroStack: boolean, env: JitEnv) {
  try {
    const ctx = emitProgram(analysis, helpers, depths, true, zeroStack, env);
    return { ctx, code: ctx.buf.finish() };
  } catch (error) {
    const cause = error instanceof Error && BpfDispatcherError.isInstance(error.cause) ? error.cause : error;
    if (!BpfDispatcherError.isInstance(cause) || cause.code !== 'DISPLACEMENT_RANGE') throw error;
    const ctx = emitProgram(analysis, helpers, depths, false, zeroStack, env);
    return { ctx, code: ctx.buf.finish() };
  }
}

function emitInsn(ctx: JitContext, x: Insn, i: number): void {
  switch (x.code & 0x07) {
    case BPF_CLASS.ALU:
    case BPF_CLASS.ALU64:
      emitAlu(ctx, x);
      return;
    case BPF_CLASS.JMP:
    case BPF_CLASS.JMP32: {
      const op = x.code & 0xf0;
      if (op === BPF_JMP_OP.CALL) emitCall(ctx, x, i);
      else if (op === BPF_JMP_OP.EXIT) emitExit(ctx, i);
      else emitJump(ctx, x, i);
      return;
    }
    case BPF_CLASS.LD:
      emitLddw(ctx, x, ctx.insns[i + 1] as Insn, i);
      return;
    case BPF_CLASS.LDX:
      emitLoad(ctx, x, i);
      return;
    case BPF_CLASS.ST:
      emitStoreImm(ctx, x);
      return;
    default:
      if ((x.code & 0xe0) === BPF_MODE.ATOMIC) emitAtomic(ctx, x);
      else emitStoreReg(ctx, x);
  }
}

/**
 * JIT-compile an eBPF program into `arena` (the kernel's `bpf_int_jit_compile`): the x86-64
 * code is written with `@bpf-dispatcher/x86` into a fresh text region, entry first, each
 * BPF-to-BPF subprogram after it with its own frame. The entry (`bpfFunc`) follows the
 * kernel's convention, so the dispatcher can call it: context in rdi (R1), result in rax (R0).
 *
 * Nothing unverified is compiled: raw instructions are verified first for
 * `options.progType` (required), or the program is a VerifiedProgram that `verify`
 * returned (recognised by identity, so a look-alike object cannot skip the verifier). The
 * verifier's stack depths size the frames; if it found that the program may read stack it
 * never wrote (`readsUninitStack`), every frame is zeroed in its prologue. The structural
 * checks (known opcodes, fields, jumps within their subprogram, no recursion, at most 8
 * frames, every helper a call goes to given an address) run as well, as a second line of defence.
 *
 * @throws VerifierError (code VERIFY) if the verifier refuses the raw instructions.
 * @throws EbpfError EINVAL for raw instructions without `options.progType`, an object that
 *   is not a VerifiedProgram from `verify`, bad options or arena;
 *   JitError (code JIT, with the slot `index`) for an instruction the JIT refuses or a
 *   helper out of rel32 reach; the arena's TextPokeError (e.g. ENOMEM) when it is full.
 */
export function jit(arena: TextArena, program: readonly Insn[] | VerifiedProgram, options: JitOptions = {}): JitProgram {
  if (!isArena(arena)) throw new EbpfError('EINVAL', 'jit: the first argument must be a TextArena');
  if (typeof options !== 'object' || options === null) throw new EbpfError('EINVAL', 'jit: options must be an object');
  const minimum = options.stackDepth ?? 0;
  if (!Number.isInteger(minimum) || minimum < 0 || minimum > MAX_BPF_STACK) {
    throw new EbpfError('EINVAL', `jit: options.stackDepth must be an integer in 0..${MAX_BPF_STACK}`);
  }
  let verified: VerifiedProgram;
  if (isVerifiedProgram(program)) {
    verified = program;
  } else if (Array.isArray(program)) {
    if (options.progType === undefined) {
      throw new EbpfError('EINVAL', 'jit: raw instructions need options.progType (they are verified first), or pass the result of verify()');
    }
    verified = verify(program, { ...options.verifyOptions, progType: options.progType });
  } else {
    throw new EbpfError('EINVAL', 'jit: expected an array of instructions (with options.progType) or a VerifiedProgram returned by verify()');
  }
  const env = jitEnv(verified, options);
  const analysis = analyze(verified.insns, new Set(env.maps.keys()));
  // A helper call that is not inlined or turned into a call of a map's own function needs
  // the helper's address: emitCall refuses it (JitError at that slot).
  const helpers = helperMap(options.helpers);
  const depths = stackDepths(analysis, verified, minimum);
  const { ctx, code } = emitAndFinish(analysis, helpers, depths, verified.readsUninitStack, env);
  const region = arena.alloc(Math.max(code.length, 1), 16);
  let bytes: Uint8Array;
  try {
    bytes = code.slice();
    patchHelperCalls(bytes, region.address, ctx);
    arena.write(region.address, bytes);
  } catch (error) {
    arena.free(region);
    throw error;
  }
  return makeProgram(arena, region, bytes, ctx, verified.progType);
}

function patchHelperCalls(bytes: Uint8Array, base: bigint, ctx: JitContext): void {
  if (ctx.helperSites.length === 0) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const site of ctx.helperSites) {
    const rel = BigInt.asIntN(64, site.target - (base + BigInt(site.at + 4)));
    if (rel < -0x8000_0000n || rel > 0x7fff_ffffn) {
      throw new JitError(
        site.index,
        `helper ${site.id} at 0x${site.target.toString(16)} is out of rel32 reach of the image at 0x${base.toString(16)}`,
      );
    }
    view.setInt32(site.at, Number(rel), true);
  }
}

/** Every program {@link jit} made (a brand: look-alike objects are not programs). */
const PROGRAMS = new WeakSet<object>();

/** True if `value` is a program {@link jit} made (by identity, not by shape). Never throws. */
export function isJitProgram(value: unknown): value is JitProgram {
  return typeof value === 'object' && value !== null && PROGRAMS.has(value);
}

function makeProgram(arena: TextArena, region: Region, bytes: Uint8Array, ctx: JitContext, progType: ProgramType): JitProgram {
  let freed = false;
  const entries = ctx.entries.map((label) => region.address + BigInt(ctx.buf.labelOffset(label) ?? 0));
  const prog: JitProgram = Object.freeze({
    arena,
    bpfFunc: region.address,
    size: bytes.length,
    bytes,
    insnCount: ctx.insns.length,
    offsets: ctx.offsets,
    subprogEntries: Object.freeze(entries),
    progType,
    free(): void {
      if (freed) return;
      freed = true;
      if (!arena.disposed) arena.free(region);
    },
    get freed(): boolean {
      return freed;
    },
  });
  PROGRAMS.add(prog);
  return prog;
}
