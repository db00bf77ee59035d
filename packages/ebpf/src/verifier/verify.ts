/**
 * `verify()`: the entry point of the verifier (the kernel's `bpf_check`), run before a
 * program is interpreted, compiled or loaded. A program it refuses never reaches native
 * memory.
 */
import { EbpfError } from '../errors.js';
import { BPF_CLASS, BPF_JMP_OP, BPF_MODE, type Insn } from '../insn.js';
import { analyzeControlFlow } from './cfg.js';
import { Env } from './env.js';
import { DEFAULT_HELPERS, type HelperSpec } from './helpers.js';
import { explore } from './interpret.js';
import { normalizeProgType } from './program-types.js';
import { MAX_BPF_STACK, newFrame, ptrReg, scalarReg } from './reg-state.js';
import { known } from './scalar.js';
import { type MapDescriptor, type Subprogram, type VerifiedProgram, type VerifyOptions, reject } from './types.js';

/** Results of {@link verify}: only these pass {@link isVerifiedProgram}. */
const VERIFIED = new WeakSet<object>();

/**
 * Whether `value` is a {@link VerifiedProgram} that {@link verify} returned (checked by
 * identity, not by shape: a look-alike object is not one). The JIT compiles raw
 * instructions only after verifying them, and trusts nothing else.
 */
export function isVerifiedProgram(value: unknown): value is VerifiedProgram {
  return typeof value === 'object' && value !== null && VERIFIED.has(value);
}

/** Default largest program, in instruction slots (the kernel's BPF_MAXINSNS). */
export const DEFAULT_MAX_INSNS = 4096;
/** Default exploration budget (the kernel's BPF_COMPLEXITY_LIMIT_INSNS). */
export const DEFAULT_MAX_STATES = 1_000_000;

/**
 * Verify a program for a program type, the way the kernel's verifier does before a
 * program may run: every instruction well formed, no unreachable code or recursion, every
 * path ends in `exit`, registers read only after being written, memory reached only
 * through pointers the verifier can bound (context fields, the 512-byte stack, the
 * memory buffer, the packet after a `data_end` check, map values after a NULL check),
 * helpers known and called with the right arguments, at most 8 frames and 512 bytes of
 * stack per call chain.
 *
 * Loops are allowed when the exploration proves that they end (the kernel's bounded loops):
 * each iteration is explored with its exact state; a state that repeats along a path is
 * "infinite loop detected at insn N", and the budget of processed instructions
 * (`maxStates`, default 1,000,000) bounds the work ("BPF program is too complex").
 *
 * @returns the program with what the JIT and the loader need (see {@link VerifiedProgram}),
 *   frozen (instructions included) and recognised by {@link isVerifiedProgram}.
 * @throws VerifierError (code `VERIFY`, with `insnIndex` and `reason`) if the program is refused.
 * @throws EbpfError `EINVAL` if the arguments are not a program and options.
 */
export function verify(program: readonly Insn[], options: VerifyOptions): VerifiedProgram {
  if (!Array.isArray(program)) throw new EbpfError('EINVAL', 'verify: expected an array of instructions');
  if (typeof options !== 'object' || options === null) throw new EbpfError('EINVAL', 'verify: expected options with a progType');
  const progType = normalizeProgType(options.progType);
  const maxInsns = options.maxInsns ?? DEFAULT_MAX_INSNS;
  const maxStates = options.maxStates ?? DEFAULT_MAX_STATES;
  if (!Number.isInteger(maxInsns) || maxInsns < 1)
    throw new EbpfError('EINVAL', `verify: maxInsns ${String(maxInsns)} is not a positive integer`);
  if (!Number.isInteger(maxStates) || maxStates < 1)
    throw new EbpfError('EINVAL', `verify: maxStates ${String(maxStates)} is not a positive integer`);
  const insns: Insn[] = new Array(program.length);
  for (let n = 0; n < program.length; n++) insns[n] = checkShape(program[n], n);
  if (insns.length === 0) reject(0, 'program is empty');
  if (insns.length > maxInsns) reject(0, `program is too large (${insns.length} insns, at most ${maxInsns})`);

  const cfg = analyzeControlFlow(insns);
  const helpers = new Map<number, HelperSpec>();
  for (const h of options.helpers ?? DEFAULT_HELPERS) helpers.set(checkHelper(h).id, h);
  const maps = options.maps ?? new Map<number, MapDescriptor>();
  if (!(maps instanceof Map)) throw new EbpfError('EINVAL', 'verify: maps must be a Map from fd to { keySize, valueSize }');
  for (const [fd, m] of maps) checkMap(fd, m);
  const main = newFrame(-1, 0);
  main.regs[10] = ptrReg('fp', { ref: 0 });
  if (progType.kind === 'memory') {
    main.regs[1] = ptrReg('mem', { size: progType.size });
    main.regs[2] = scalarReg(known(BigInt(progType.size)));
  } else {
    main.regs[1] = ptrReg('ctx');
  }
  const env = new Env(insns, cfg, progType, helpers, maps, { frames: [main] });
  const processed = explore(env, maxStates);

  // Combined stack of every call chain, each frame rounded up to 16 bytes as the kernel
  // counts for JIT'd programs (round_up_stack_depth; checked against Linux 6.18).
  const rounded = env.subprogDepth.map((d) => (d + 15) & ~15);
  // Returns [bytes, frames] of the deepest chain starting at subprogram s.
  const memo = new Map<number, [number, number]>();
  const combined = (s: number): [number, number] => {
    const hit = memo.get(s);
    if (hit !== undefined) return hit;
    let best: [number, number] = [0, 0];
    for (const [at, callee] of cfg.calls[s] ?? []) {
      const c = combined(callee);
      const total = (rounded[s] as number) + c[0];
      if (total > MAX_BPF_STACK) reject(at, `combined stack size of ${c[1] + 1} calls is ${total}. Too large`);
      if (c[0] > best[0]) best = c;
    }
    const result: [number, number] = [(rounded[s] as number) + best[0], best[1] + 1];
    memo.set(s, result);
    return result;
  };
  const maxCombinedStack = combined(0)[0];

  const subprograms: Subprogram[] = cfg.subprogStarts.map((start, s) => ({
    start,
    end: cfg.subprogStarts[s + 1] ?? insns.length,
    stackDepth: env.subprogDepth[s] as number,
  }));
  const result: VerifiedProgram = Object.freeze({
    insns: Object.freeze(sanitizeDeadCode(insns, env.seen)),
    progType: options.progType,
    subprograms: Object.freeze(subprograms.map((sp) => Object.freeze(sp))),
    usedRegisters: usedRegisters(insns),
    maxCallDepth: env.maxFrames,
    maxCombinedStack,
    ctxLoads: Object.freeze([...env.ctxLoads.values()].sort((a, b) => a.insnIndex - b.insnIndex).map((l) => Object.freeze({ ...l }))),
    helperIds: Object.freeze([...env.helperIds].sort((a, b) => a - b)),
    mapFds: Object.freeze([...env.mapFds].sort((a, b) => a - b)),
    callSiteMaps: Object.freeze(
      [...env.callSiteMaps]
        .filter(([pc]) => env.seen[pc] === 1)
        .sort((a, b) => a[0] - b[0])
        .map(([insnIndex, fd]) => Object.freeze({ insnIndex, fd })),
    ),
    maps: Object.freeze(
      [...maps]
        .sort((a, b) => a[0] - b[0])
        .map(([fd, m]) =>
          Object.freeze({
            fd,
            keySize: m.keySize,
            valueSize: m.valueSize,
            directValue: m.directValue === true,
            readonly: m.readonly === true,
            ...(m.arrayMaxEntries === undefined ? {} : { arrayMaxEntries: m.arrayMaxEntries }),
          }),
        ),
    ),
    callSiteKeys: Object.freeze(
      [...env.callSiteKeys]
        .filter((e): e is [number, bigint] => e[1] !== null && env.seen[e[0]] === 1)
        .sort((a, b) => a[0] - b[0])
        .map(([insnIndex, key]) => Object.freeze({ insnIndex, key })),
    ),
    decidedBranches: Object.freeze(
      [...env.branchSeen.entries()]
        .filter(([pc, seen]) => (seen === 1 || seen === 2) && env.seen[pc] === 1)
        .map(([insnIndex, seen]) => Object.freeze({ insnIndex, taken: seen === 2 })),
    ),
    readsUninitStack: env.readsUninit,
    processedInsns: processed,
  });
  VERIFIED.add(result);
  return result;
}

/**
 * The kernel's `sanitize_dead_code()`: instructions no path reaches (behind a branch the
 * verifier proved never taken) may be anything the structural checks allow, e.g. a write
 * to r10 or an unknown helper; they are replaced by `ja -1` so that the JIT and the
 * interpreter only ever see code that was verified.
 */
function sanitizeDeadCode(insns: Insn[], seen: Uint8Array): Insn[] {
  for (let i = 0; i < insns.length; i++) {
    if (seen[i] === 0) insns[i] = Object.freeze({ code: BPF_CLASS.JMP | BPF_JMP_OP.JA, dst: 0, src: 0, off: -1, imm: 0 });
  }
  return insns;
}

const ARG_KINDS: ReadonlySet<string> = new Set(['anything', 'map_ptr', 'map_key', 'map_value', 'ctx']);
const RET_KINDS: ReadonlySet<string> = new Set(['integer', 'u32', 'void', 'map_value_or_null']);

function checkHelper(h: HelperSpec): HelperSpec {
  const ok =
    typeof h === 'object' &&
    h !== null &&
    field(h.id, -0x8000_0000, 0x7fff_ffff) &&
    typeof h.name === 'string' &&
    Array.isArray(h.args) &&
    h.args.length <= 5 &&
    h.args.every((a) => ARG_KINDS.has(a)) &&
    RET_KINDS.has(h.ret);
  if (!ok) throw new EbpfError('EINVAL', `verify: helper ${JSON.stringify(h)} is not { id, name, args (up to 5 kinds), ret }`);
  return h;
}

function checkMap(fd: number, m: MapDescriptor): void {
  const ok =
    typeof m === 'object' &&
    m !== null &&
    field(m.keySize, 1, 512) &&
    field(m.valueSize, 1, 1 << 29) &&
    (m.directValue === undefined || typeof m.directValue === 'boolean') &&
    (m.readonly === undefined || typeof m.readonly === 'boolean') &&
    (m.arrayMaxEntries === undefined || field(m.arrayMaxEntries, 1, 0xffff_ffff));
  if (!field(fd, -0x8000_0000, 0x7fff_ffff) || !ok) {
    throw new EbpfError('EINVAL', `verify: map fd ${String(fd)} needs an integer fd, keySize 1..512, valueSize 1..2^29 and boolean directValue/readonly`);
  }
}

function field(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function checkShape(i: unknown, n: number): Insn {
  if (typeof i !== 'object' || i === null) throw new EbpfError('EINVAL', `verify: instruction ${n} is not an object`);
  const x = i as Insn;
  if (
    !field(x.code, 0, 0xff) ||
    !field(x.dst, 0, 15) ||
    !field(x.src, 0, 15) ||
    !field(x.off, -0x8000, 0x7fff) ||
    !field(x.imm, -0x8000_0000, 0x7fff_ffff)
  ) {
    throw new EbpfError('EINVAL', `verify: instruction ${n} has a field out of range`);
  }
  // A copy of one shape: the checks below then read monomorphic objects.
  return Object.freeze({ code: x.code, dst: x.dst, src: x.src, off: x.off, imm: x.imm });
}

/** Registers named by the instructions (plus r1 and r10, and r0-r5 around calls and exits). */
function usedRegisters(insns: readonly Insn[]): number[] {
  let mask = (1 << 1) | (1 << 10);
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i] as Insn;
    const cls = insn.code & 0x07;
    if (cls === BPF_CLASS.JMP && (insn.code & 0xf0) === BPF_JMP_OP.CALL) {
      mask |= 0x3f; // r0 result, r1-r5 arguments (clobbered)
      continue;
    }
    if (cls === BPF_CLASS.JMP && (insn.code & 0xf0) === BPF_JMP_OP.EXIT) {
      mask |= 1;
      continue;
    }
    if (cls === BPF_CLASS.JMP && (insn.code & 0xf0) === BPF_JMP_OP.JA) continue;
    if (cls === BPF_CLASS.JMP32 && (insn.code & 0xf0) === BPF_JMP_OP.JA) continue;
    mask |= 1 << insn.dst;
    const usesSrc =
      cls === BPF_CLASS.LDX ||
      cls === BPF_CLASS.STX ||
      ((cls === BPF_CLASS.ALU || cls === BPF_CLASS.ALU64 || cls === BPF_CLASS.JMP || cls === BPF_CLASS.JMP32) && (insn.code & 0x08) !== 0);
    if (usesSrc && !(cls === BPF_CLASS.ALU64 && (insn.code & 0xf0) === 0xd0)) mask |= 1 << insn.src;
    if (cls === BPF_CLASS.STX && (insn.code & 0xe0) === BPF_MODE.ATOMIC && insn.imm === 0xf1) mask |= 1;
    if (cls === BPF_CLASS.LD && (insn.code & 0xe0) === BPF_MODE.IMM) i++;
  }
  const out: number[] = [];
  for (let r = 0; r <= 10; r++) if ((mask & (1 << r)) !== 0) out.push(r);
  return out;
}
