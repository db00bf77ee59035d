#!/usr/bin/env node
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { Command, Option } from 'commander';
import { parseAddress, parseCount } from './addresses.js';
import { bench } from './commands/bench.js';
import { conformance } from './commands/conformance.js';
import { soak } from './commands/soak.js';
import { DISASM_DEFAULTS, disasm } from './commands/disasm.js';

const collect = (value: string, previous: bigint[] = []) => [...previous, parseAddress(value)];

export function buildProgram(): Command {
  const program = new Command('bpf-dispatcher')
    .description("The kernel's BPF dispatcher in user space: conformance suite, listings and benchmarks.")
    .showHelpAfterError()
    .exitOverride();

  program
    .command('conformance', { isDefault: true })
    .description('run the conformance suite (the default command) and print a pass/fail table')
    .addOption(new Option('--arena <kind>', 'which arena(s) to run on').choices(['simulated', 'native', 'both']).default('both'))
    .option('--json <file>', 'also write the results as JSON')
    .action(async (options) => {
      process.exitCode = await conformance(options);
    });

  program
    .command('disasm')
    .description('print the dispatcher image listing in objdump Intel syntax (defaults: the cover letter)')
    .addOption(new Option('--entries <n>', 'programs -1 ... -N').argParser(parseCount(1, 52)).conflicts('prog'))
    .option('--prog <addr>', 'a program address (hex, or negative decimal like -1); repeatable', collect)
    .addOption(new Option('--image <addr>', 'image address').argParser(parseAddress).default(DISASM_DEFAULTS.image, '0xffffffffc0020000'))
    .addOption(new Option('--thunk <addr>', 'retpoline thunk address').argParser(parseAddress).default(DISASM_DEFAULTS.thunk, '0xffffffff81c00f10'))
    .option('--bin <file>', 'also write the raw image bytes')
    .action((options) => {
      process.stdout.write(disasm(options));
    });

  program
    .command('bench')
    .description("measure the cover letter's performance table natively (baseline, no-retpoline, dispatcher 1..16, full; call-only; mixed traffic)")
    .option('--quick', 'fewer and shorter runs (well under 2 minutes)')
    .option('--json <file>', 'write the results as JSON')
    .option('--markdown <file>', 'write the table as Markdown')
    .option('--svg <file>', 'write a chart of Mpps against entries as SVG')
    .action(async (options) => {
      process.exitCode = await bench(options);
    });

  program
    .command('soak')
    .description('churn the dispatcher under native traffic on a worker thread and verify every packet; inject faults')
    .addOption(new Option('--seconds <n>', 'run at least this long').argParser(parseCount(1, 86_400)).default(30))
    .addOption(new Option('--updates <n>', 'and at least this many updates').argParser(parseCount(1, 100_000_000)).default(100_000))
    .option('--no-faults', 'do not inject faults')
    .option('--json <file>', 'write the report as JSON')
    .action(async (options) => {
      process.exitCode = await soak(options);
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
    if (BpfDispatcherError.isInstance(error)) {
      console.error(`bpf-dispatcher: ${error.code}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
