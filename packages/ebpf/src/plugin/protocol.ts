/**
 * The bpf_conformance plugin protocol (github.com/Alan-Jowett/bpf_conformance): the
 * runner starts `PLUGIN "<memory hex bytes>" [options]`, writes the program to stdin as
 * one line of hex bytes (8 per instruction, little-endian `struct bpf_insn`), and reads r0
 * in hex from stdout (exit 0); a refused program is a message and a non-zero exit.
 * This module is the testable core; `plugin.ts` is the executable around it.
 */
import { EbpfError } from '../errors.js';
import { type Insn, decodeProgram } from '../insn.js';
import { type InterpreterHelper, interpret } from '../interpreter.js';
import type { VerifyOptions } from '../verifier/types.js';
import { verify } from '../verifier/verify.js';

/** Execution modes of the plugin. */
export const PLUGIN_MODES = Object.freeze(['interpreter', 'jit', 'simulated'] as const);

/** One of {@link PLUGIN_MODES}. */
export type PluginMode = (typeof PLUGIN_MODES)[number];

/** The parsed command line of the plugin. */
export interface PluginArgs {
  /** The context memory (absent when the runner passed none or an empty string). */
  readonly memory: Uint8Array | undefined;
  /** How to run the program (`--mode`, default `jit`). */
  readonly mode: PluginMode;
}

/** What the plugin prints and how it exits. */
export interface PluginOutcome {
  /** r0 as `0x...` and a newline, or empty. */
  readonly stdout: string;
  /** Why the program was refused (`CODE: message`), or empty. */
  readonly stderr: string;
  /** 0 after a run, 1 after a refusal. */
  readonly exitCode: number;
}

/**
 * A way to run a program: verify and execute with r1 = memory, r2 = its length. Returns
 * r0 (unsigned 64-bit). Refusals are thrown as EbpfError (VerifierError, code VERIFY, for
 * a program the verifier refuses).
 */
export type PluginBackend = (program: readonly Insn[], memory: Uint8Array | undefined) => bigint | Promise<bigint>;

/**
 * Helpers the suite's programs call, in the kernel's numbering: 5 = `bpf_ktime_get_ns`
 * (monotonic nanoseconds; `call_unwind_fail` calls it and continues).
 */
export const CONFORMANCE_HELPERS: ReadonlyMap<number, InterpreterHelper> = new Map<number, InterpreterHelper>([
  [5, () => process.hrtime.bigint()],
]);

/** Linux x86-64 system call number of `clock_gettime`, and the clock of the kernel's `ktime_get_ns`. */
const SYS_CLOCK_GETTIME = 228;
const CLOCK_MONOTONIC = 1;

/** Step limit of the interpreter backend: generous, the suite's longest test needs far fewer. */
const PLUGIN_MAX_STEPS = 10_000_000;

/**
 * Parse hex bytes separated by whitespace (`"00 01  ff"`; `0x` prefixes allowed).
 * @throws EbpfError EINVAL for a token that is not one byte in hex.
 */
export function parseHexBytes(text: string): Uint8Array {
  const tokens = text.split(/\s+/).filter((t) => t !== '');
  const out = new Uint8Array(tokens.length);
  tokens.forEach((t, i) => {
    const m = /^(?:0x)?([0-9a-f]{1,2})$/i.exec(t);
    if (m === null) throw new EbpfError('EINVAL', `'${t}' is not a hex byte`);
    out[i] = Number.parseInt(m[1] as string, 16);
  });
  return out;
}

/**
 * Parse the plugin's arguments (after `node plugin.js`). The first argument that is not
 * an option is the memory (an empty string means none); options may also arrive as one
 * argument (`"--mode interpreter"`, as the suite's runner passes its plugin options).
 * @throws EbpfError EINVAL for an unknown option or mode, or memory that is not hex bytes.
 */
export function parsePluginArgs(argv: readonly string[], defaultMode: PluginMode = 'jit'): PluginArgs {
  let memory: Uint8Array | undefined;
  let memorySeen = false;
  let mode: PluginMode = defaultMode;
  const setMode = (value: string | undefined) => {
    if (!(PLUGIN_MODES as readonly string[]).includes(value ?? '')) {
      throw new EbpfError('EINVAL', `--mode must be one of ${PLUGIN_MODES.join(', ')}, got '${value ?? ''}'`);
    }
    mode = value as PluginMode;
  };
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a] as string;
    if (!arg.trimStart().startsWith('--')) {
      if (memorySeen) throw new EbpfError('EINVAL', `unexpected argument '${arg}'`);
      memorySeen = true;
      const bytes = parseHexBytes(arg);
      memory = bytes.length === 0 ? undefined : bytes;
      continue;
    }
    const words = arg.trim().split(/\s+/);
    for (let i = 0; i < words.length; i++) {
      const w = words[i] as string;
      const eq = w.indexOf('=');
      const flag = eq < 0 ? w : w.slice(0, eq);
      if (flag !== '--mode')
        throw new EbpfError('EINVAL', `unknown option '${w}' (usage: [memory-hex] [--mode ${PLUGIN_MODES.join('|')}])`);
      if (eq >= 0) setMode(w.slice(eq + 1));
      else if (i + 1 < words.length) setMode(words[++i]);
      else setMode(argv[++a]);
    }
  }
  return { memory, mode };
}

/**
 * What every mode verifies a program against: the memory program type, r1 a buffer of the
 * given memory's length (0 when there is none) and r2 that length.
 */
export function pluginVerifyOptions(memory: Uint8Array | undefined): VerifyOptions {
  return { progType: { kind: 'memory', size: memory?.length ?? 0 } };
}

/**
 * The interpreter backend: `verify` first, as in the other modes (the verifier is never
 * switched off), then RFC 9669 reference semantics (shift counts masked, not refused).
 */
export const interpreterBackend: PluginBackend = (program, memory) => {
  verify(program, pluginVerifyOptions(memory));
  const options =
    memory === undefined
      ? { helpers: CONFORMANCE_HELPERS, maxSteps: PLUGIN_MAX_STEPS }
      : { memory, helpers: CONFORMANCE_HELPERS, maxSteps: PLUGIN_MAX_STEPS };
  return interpret(program, options).r0;
};

/**
 * The JIT backends: translate with `jit` and run with `testRun` (the kernel's
 * `BPF_PROG_TEST_RUN`) in a native arena (`jit`: real x86-64 code) or on the simulated CPU
 * (`simulated`). Loaded lazily so that interpreter mode never loads native code.
 * Native code runs only verified programs: `verify` with the memory program type (a
 * buffer of N bytes in r1, its length in r2) first, as the kernel does before its JIT.
 */
async function jitBackend(mode: 'jit' | 'simulated'): Promise<PluginBackend> {
  const [{ jit }, { testRun }, textPoke, x86] = await Promise.all([
    import('../jit/index.js'),
    import('../test-run.js'),
    import('@bpf-dispatcher/text-poke'),
    import('@bpf-dispatcher/x86'),
  ]);
  let arena: InstanceType<typeof textPoke.NativeArena> | InstanceType<typeof textPoke.SimulatedArena>;
  let ktime: bigint;
  if (mode === 'jit') {
    if (!textPoke.nativeSupported())
      throw new EbpfError('UNSUPPORTED', 'mode jit needs x86-64 Linux (use --mode simulated or interpreter)');
    arena = new textPoke.NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 });
    // bpf_ktime_get_ns: clock_gettime(CLOCK_MONOTONIC) by system call, in nanoseconds.
    ktime = textPoke.emitText(arena, (b) => {
      x86.alu(b, 'sub', 'rsp', 24);
      x86.mov(b, 'eax', SYS_CLOCK_GETTIME);
      x86.mov(b, 'edi', CLOCK_MONOTONIC);
      x86.mov(b, 'rsi', 'rsp');
      b.raw([0x0f, 0x05]); // syscall
      x86.imul(b, 'rax', x86.qword('rsp'), 1_000_000_000);
      x86.alu(b, 'add', 'rax', x86.qword('rsp', 8));
      x86.alu(b, 'add', 'rsp', 24);
      x86.ret(b);
    }).address;
  } else {
    const textBase = 0xffffffffc0000000n;
    arena = new textPoke.SimulatedArena({ textBase });
    ktime = textBase - 0x1000_0000n; // outside the arena, within reach of call rel32
    arena.defineExternal(ktime, () => process.hrtime.bigint());
  }
  const helpers = new Map([[5, ktime]]);
  return (program, memory) => {
    const verified = verify(program, pluginVerifyOptions(memory));
    const prog = jit(arena, verified, { helpers });
    try {
      return testRun(prog, memory === undefined ? {} : { data: memory }).retval;
    } finally {
      prog.free();
    }
  };
}

/**
 * The backend of a mode: `interpreter` runs here; `jit` (native x86-64 code) and
 * `simulated` (the JIT's code on the simulated CPU) go through the JIT and `testRun`.
 * @throws EbpfError UNSUPPORTED if the mode cannot run on this machine.
 */
export async function backendFor(mode: PluginMode): Promise<PluginBackend> {
  switch (mode) {
    case 'interpreter':
      return interpreterBackend;
    case 'jit':
    case 'simulated':
      return jitBackend(mode);
  }
}

/**
 * Run the plugin protocol: parse `argv` and the program text from stdin, run it in the
 * chosen mode, and describe the output. Never throws: a refusal or bad input becomes a
 * message on stderr and exit code 1.
 */
export async function runPlugin(
  argv: readonly string[],
  stdin: string,
  backends: (mode: PluginMode) => Promise<PluginBackend> = backendFor,
): Promise<PluginOutcome> {
  try {
    const args = parsePluginArgs(argv);
    const bytes = parseHexBytes(stdin);
    if (bytes.length === 0) throw new EbpfError('EINVAL', 'no program on standard input');
    const program = decodeProgram(bytes);
    const backend = await backends(args.mode);
    const r0 = await backend(program, args.memory);
    return { stdout: `0x${BigInt.asUintN(64, r0).toString(16)}\n`, stderr: '', exitCode: 0 };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = EbpfError.isInstance(err) ? `${err.code}: ` : '';
    return { stdout: '', stderr: `${code}${message}\n`, exitCode: 1 };
  }
}
