import { XSK_REDIRECT_MAX_QUEUES } from '@bpf-dispatcher/i40e';
import { InvalidArgumentError } from 'commander';
import { humanLog, writeOutput } from '../output.js';
import { formatCapture, runCapture } from '../run/capture.js';
import { formatLiveTotals, runLive } from '../run/live.js';

/** The options of `bpf-dispatcher run`, as commander hands them over. */
export interface RunOptions {
  /** Run on this interface (AF_XDP sockets on its queues)... */
  readonly dev?: string;
  /** ...or over the frames of this capture file. */
  readonly pcap?: string;
  /** The BPF object file. */
  readonly prog: string;
  /** The program: its section or name (default: the object's only XDP program). */
  readonly section?: string;
  /** `--dev`: the rx queues to bind (default `[0]`). */
  readonly queues: readonly number[];
  /** `--dev`: the AF_XDP bind mode (default `copy`). */
  readonly mode: 'copy' | 'zc';
  /** `--dev`: stop after this many seconds (default: at SIGINT or SIGTERM). */
  readonly seconds?: number;
  /** `--dev`: seconds between statistics blocks (default 1). */
  readonly interval: number;
  /** `--pcap`: write the PASS and TX frames to this capture file. */
  readonly out?: string;
  /** Write the totals as JSON to this file (`-`: standard output, the text then goes to stderr). */
  readonly json?: string;
}

/**
 * Parse `--queues`: queue indexes separated by commas (`0,1,3`), each 0..63, none twice.
 * @throws InvalidArgumentError (commander's) otherwise.
 */
export function parseQueues(text: string): number[] {
  const t = text.trim();
  if (!/^\d+(\s*,\s*\d+)*$/.test(t)) throw new InvalidArgumentError(`"${text}" is not a list of queue indexes (like 0 or 0,1,3)`);
  const queues = t.split(',').map((q) => Number(q.trim()));
  for (const q of queues)
    if (q >= XSK_REDIRECT_MAX_QUEUES) throw new InvalidArgumentError(`queue ${q} is beyond 0..${XSK_REDIRECT_MAX_QUEUES - 1}`);
  const twice = queues.find((q, i) => queues.indexOf(q) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`queue ${twice} is listed twice`);
  return queues;
}

/**
 * Parse a number of seconds from `min` to `max` (decimals allowed: `0.2`).
 * @throws InvalidArgumentError (commander's) otherwise.
 */
export function parseSeconds(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a number of seconds from ${min} to ${max}, got "${text}"`);
    return n;
  };
}

/** Options that only `--dev` uses, and the one only `--pcap` uses. */
const DEV_ONLY = Object.freeze(['queues', 'mode', 'seconds', 'interval'] as const);

/**
 * What is wrong with a combination of options, as commander's one-line usage errors say
 * it, or undefined: exactly one of `--dev` and `--pcap`; `--out` only with `--pcap`;
 * `--queues`, `--mode`, `--seconds` and `--interval` only with `--dev`. `given(name)`
 * tells whether the user gave an option (rather than its default).
 */
export function runUsageError(options: Pick<RunOptions, 'dev' | 'pcap' | 'out'>, given: (name: string) => boolean): string | undefined {
  if (options.dev === undefined && options.pcap === undefined) return 'error: one of --dev <ifname> and --pcap <file> is required';
  if (options.out !== undefined && options.pcap === undefined) return "error: option '--out <file>' needs --pcap <file>";
  if (options.pcap !== undefined) {
    const extra = DEV_ONLY.find((name) => given(name));
    if (extra !== undefined) return `error: option '--${extra}' is for --dev <ifname>, not --pcap <file>`;
  }
  return undefined;
}

/**
 * `bpf-dispatcher run`: load the program, attach it through `i40eXdpSetup` and the
 * dispatcher, and run it — on an interface until Ctrl-C or `--seconds`, printing
 * xdp-bench-style statistics every interval and the totals at the end; or over a capture
 * file, printing the verdicts and writing what was passed and transmitted. Returns the
 * exit code (0).
 * @throws CliError INVALID_INPUT or UNSUPPORTED with a one-line reason (see `runLive`
 *   and `runCapture`), after cleaning up.
 */
export async function run(options: RunOptions): Promise<number> {
  const log = humanLog(options);
  if (options.pcap !== undefined) {
    const report = await runCapture({
      pcap: options.pcap,
      prog: options.prog,
      log,
      ...(options.out === undefined ? {} : { out: options.out }),
      ...(options.section === undefined ? {} : { section: options.section }),
    });
    log(formatCapture(report));
    writeOutput(options.json, `${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const report = await runLive({
    dev: options.dev as string,
    prog: options.prog,
    queues: options.queues,
    mode: options.mode,
    interval: options.interval,
    log,
    ...(options.section === undefined ? {} : { section: options.section }),
    ...(options.seconds === undefined ? {} : { seconds: options.seconds }),
  });
  log(formatLiveTotals(report));
  writeOutput(options.json, `${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
