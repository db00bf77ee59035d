#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { Command, Option } from 'commander';
import { parseAddress, parseCount } from './addresses.js';
import { bench } from './commands/bench.js';
import { benchVeth } from './commands/bench-veth.js';
import { conformance } from './commands/conformance.js';
import { DISASM_DEFAULTS, disasm } from './commands/disasm.js';
import { parseQueues, parseSeconds, run, runUsageError } from './commands/run.js';
import { soak } from './commands/soak.js';
import { assertOutputs, CliError } from './output.js';

const collect = (value: string, previous: bigint[] = []) => [...previous, parseAddress(value)];

/** The CLI's version: the `version` of this app's package.json (read next to `dist/` or `src/`). */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

/** Build the `bpf-dispatcher` command line (commander), with every subcommand. */
export function buildProgram(): Command {
  const program = new Command('bpf-dispatcher')
    .description("The kernel's BPF dispatcher in user space: conformance suite, listings and benchmarks.")
    .version(cliVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  // Output files are checked before any work: an unwritable path fails at once, in one line.
  program.hook('preAction', (_program, action) => assertOutputs(action.opts()));

  program
    .command('conformance', { isDefault: true })
    .description('run the conformance suite (the default command) and print a pass/fail table')
    .addOption(new Option('--arena <kind>', 'which arena(s) to run on').choices(['simulated', 'native', 'both']).default('both'))
    .option('--json <file>', 'also write the results as JSON (- for standard output)')
    .allowExcessArguments(true)
    .action(async (options, command: Command) => {
      // commander hands words that name no command to the default command: say what they are
      const [extra] = command.args;
      if (extra !== undefined) {
        if (program.args[0] === 'conformance')
          command.error(`error: too many arguments for 'conformance'. Expected 0 arguments but got ${command.args.length}.`);
        program.error(`error: unknown command '${extra}'`, { code: 'commander.unknownCommand' });
      }
      process.exitCode = await conformance(options);
    });

  program
    .command('disasm')
    .description('print the dispatcher image listing in objdump Intel syntax (defaults: the cover letter)')
    .addOption(new Option('--entries <n>', 'programs -1 ... -N').argParser(parseCount(1, 52)).conflicts('prog'))
    .option('--prog <addr>', 'a program address (hex, or negative decimal like -1); repeatable', collect)
    .addOption(new Option('--image <addr>', 'image address').argParser(parseAddress).default(DISASM_DEFAULTS.image, '0xffffffffc0020000'))
    .addOption(
      new Option('--thunk <addr>', 'retpoline thunk address').argParser(parseAddress).default(DISASM_DEFAULTS.thunk, '0xffffffff81c00f10'),
    )
    .option('--bin <file>', 'also write the raw image bytes to a file')
    .action((options) => {
      process.stdout.write(disasm(options));
    });

  program
    .command('bench')
    .description(
      "measure the cover letter's performance table natively (baseline, no-retpoline, dispatcher 1..16, full; call-only; mixed traffic), the kernel's own dispatcher beside it, and the targets",
    )
    .option('--quick', 'fewer and shorter runs (well under 2 minutes)')
    .option('--json <file>', 'write the results as JSON (- for standard output)')
    .option('--markdown <file>', 'write the table as Markdown (- for standard output)')
    .option('--svg <file>', "write a chart of ns per packet against entries, ours and the kernel's, as SVG (- for standard output)")
    .option('--check', 'exit with code 1 when a target is missed, and say which (without it, bench exits 0 whatever the targets)')
    .action(async (options) => {
      process.exitCode = await bench({ ...options, toolVersion: cliVersion() });
    });

  program
    .command('bench-veth')
    .description(
      'packets per second of real AF_XDP traffic on a veth pair (root): our poll loop with the dispatcher (1, 16, full, none) against the kernel running the same object, and where the time goes',
    )
    .option('--quick', 'fewer and smaller rounds (well under a minute)')
    .option('--json <file>', 'write the results as JSON (- for standard output)')
    .option('--markdown <file>', 'write the table as Markdown (- for standard output)')
    .action(async (options) => {
      process.exitCode = await benchVeth(options);
    });

  program
    .command('soak')
    .description(
      'churn the dispatcher under native traffic on a worker thread and verify every packet; inject every kind of fault. Stops at whichever limit comes first',
    )
    .addOption(new Option('--seconds <n>', 'stop after this many seconds').argParser(parseCount(1, 86_400)).default(30))
    .addOption(new Option('--updates <n>', 'stop after this many updates').argParser(parseCount(1, 100_000_000)).default(1_000_000))
    .option('--no-faults', 'do not inject faults')
    .option('--json <file>', 'write the report as JSON (- for standard output)')
    .action(async (options) => {
      process.exitCode = await soak(options);
    });

  program
    .command('run')
    .description(
      'run an XDP program on an interface (AF_XDP, until Ctrl-C) with live statistics like xdp-bench, or over the frames of a capture file',
    )
    .addOption(new Option('--dev <ifname>', 'the interface to run on: one AF_XDP socket per queue (root)').conflicts('pcap'))
    .option('--pcap <file>', 'run over the frames of this capture file instead (pcap or pcapng, Ethernet)')
    .requiredOption('--prog <file>', 'the BPF object file (.o)')
    .option('--section <name>', "the program: its section (xdp, xdp/NAME) or name (default: the object's only XDP program)")
    .addOption(new Option('--queues <list>', '--dev: the rx queues to bind, e.g. 0,1,3').argParser(parseQueues).default([0], '0'))
    .addOption(new Option('--mode <mode>', '--dev: AF_XDP bind mode').choices(['copy', 'zc']).default('copy'))
    .addOption(
      new Option('--seconds <n>', '--dev: stop after this many seconds (default: at Ctrl-C)').argParser(parseSeconds(0.1, 31_536_000)),
    )
    .addOption(new Option('--interval <s>', '--dev: seconds between statistics').argParser(parseSeconds(0.05, 3600)).default(1))
    .option('--out <file>', '--pcap: write the PASS and TX frames to this capture file (.pcap or .pcapng, else the input format)')
    .option('--json <file>', 'write the totals as JSON (- for standard output)')
    .action(async (options, command: Command) => {
      const usage = runUsageError(options, (name) => command.getOptionValueSource(name) === 'cli');
      if (usage !== undefined) command.error(usage);
      process.exitCode = await run(options);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof Error && 'exitCode' in error && typeof (error as { exitCode: unknown }).exitCode === 'number') {
      return (error as { exitCode: number }).exitCode;
    }
    if (error instanceof CliError) {
      console.error(`bpf-dispatcher: ${error.message}`);
      return 2;
    }
    if (BpfDispatcherError.isInstance(error)) {
      console.error(`bpf-dispatcher: ${error.code}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

/**
 * True when Node was started on this file, also through a symlink (an installed `bin`
 * entry is one, often several levels deep): both sides are resolved before comparing.
 */
export function invokedDirectly(script: string | undefined = process.argv[1], self: string = fileURLToPath(import.meta.url)): boolean {
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(self);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
