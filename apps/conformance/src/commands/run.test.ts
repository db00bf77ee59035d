import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePcap } from '@bpf-dispatcher/i40e';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../cli.js';
import { MIXED_OBJECT, scratchDirs } from '../test-support/run-fixtures.js';
import { parseQueues, parseSeconds, runUsageError } from './run.js';

const dirs = scratchDirs('run-args-');
afterAll(() => dirs.removeAll());

describe('bpf-dispatcher run: options', () => {
  it('parses --queues as a comma-separated list of distinct queue indexes 0..63', () => {
    expect(parseQueues('0')).toEqual([0]);
    expect(parseQueues('0,1,3')).toEqual([0, 1, 3]);
    expect(parseQueues(' 7, 2 ')).toEqual([7, 2]);
    expect(parseQueues('63')).toEqual([63]);
    for (const bad of ['', ',', '0,', 'a', '-1', '1.5', '64', '0,0', '0;1'])
      expect(() => parseQueues(bad), bad).toThrow(expect.objectContaining({ code: 'commander.invalidArgument' }));
  });

  it('parses seconds with decimals, within bounds', () => {
    const interval = parseSeconds(0.05, 3600);
    expect(interval('0.2')).toBe(0.2);
    expect(interval('1')).toBe(1);
    for (const bad of ['', ' ', '0', '0.01', 'x', 'Infinity', '3601', '1e9']) expect(() => interval(bad), bad).toThrow();
  });

  it('needs exactly one of --dev and --pcap; --out only with --pcap; the --dev options not with --pcap', () => {
    const none = () => false;
    expect(runUsageError({}, none)).toBe('error: one of --dev <ifname> and --pcap <file> is required');
    expect(runUsageError({ dev: 'eth0', out: 'x.pcap' }, none)).toBe("error: option '--out <file>' needs --pcap <file>");
    expect(runUsageError({ pcap: 'in.pcap' }, (name) => name === 'interval')).toBe(
      "error: option '--interval' is for --dev <ifname>, not --pcap <file>",
    );
    expect(runUsageError({ pcap: 'in.pcap', out: 'out.pcap' }, none)).toBeUndefined();
    expect(runUsageError({ dev: 'eth0' }, () => true)).toBeUndefined();
  });
});

describe('bpf-dispatcher run: argument errors', () => {
  const err: string[] = [];
  const stdout: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    err.length = 0;
    stdout.length = 0;
  });
  const captureOutput = () => {
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      err.push(`${args.join(' ')}\n`);
    });
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  };
  /** Run the CLI; return its exit code and the first line it printed on stderr. */
  async function fails(args: string[]): Promise<{ code: number; first: string }> {
    err.length = 0;
    captureOutput();
    const code = await main(args);
    vi.restoreAllMocks();
    return { code, first: err.join('').split('\n')[0] ?? '' };
  }
  const prog = ['--prog', MIXED_OBJECT];

  it.each([
    [[], "error: required option '--prog <file>' not specified"],
    [[...prog], 'error: one of --dev <ifname> and --pcap <file> is required'],
    [['--dev', 'xsk0', '--pcap', 'in.pcap', ...prog], "error: option '--dev <ifname>' cannot be used with option '--pcap <file>'"],
    [['--dev', 'xsk0', '--out', 'out.pcap', ...prog], "error: option '--out <file>' needs --pcap <file>"],
    [['--pcap', 'in.pcap', '--queues', '1', ...prog], "error: option '--queues' is for --dev <ifname>, not --pcap <file>"],
    [['--pcap', 'in.pcap', '--mode', 'zc', ...prog], "error: option '--mode' is for --dev <ifname>, not --pcap <file>"],
    [['--pcap', 'in.pcap', '--seconds', '3', ...prog], "error: option '--seconds' is for --dev <ifname>, not --pcap <file>"],
    [['--dev', 'xsk0', '--queues', '0,0', ...prog], "error: option '--queues <list>' argument '0,0' is invalid. queue 0 is listed twice"],
    [
      ['--dev', 'xsk0', '--mode', 'fast', ...prog],
      "error: option '--mode <mode>' argument 'fast' is invalid. Allowed choices are copy, zc.",
    ],
    [
      ['--dev', 'xsk0', '--interval', '0', ...prog],
      `error: option '--interval <s>' argument '0' is invalid. expected a number of seconds from 0.05 to 3600, got "0"`,
    ],
    [
      ['--dev', 'xsk0', '--seconds', 'soon', ...prog],
      `error: option '--seconds <n>' argument 'soon' is invalid. expected a number of seconds from 0.1 to 31536000, got "soon"`,
    ],
  ])('run %j: a usage error, exit code 1', async (args, message) => {
    expect(await fails(['run', ...args])).toEqual({ code: 1, first: message });
    expect(stdout.join('')).toBe('');
  });

  it('an output that cannot be written fails at once, in one line: --out and --json, and --out never on standard output', async () => {
    const dir = dirs.make();
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, '');
    const bad = join(file, 'out.pcap');
    expect(await fails(['run', '--pcap', 'in.pcap', ...prog, '--out', bad])).toEqual({
      code: 2,
      first: `bpf-dispatcher: cannot write --out ${bad}: a parent is not a directory (ENOTDIR)`,
    });
    expect(await fails(['run', '--pcap', 'in.pcap', ...prog, '--json', bad])).toMatchObject({ code: 2 });
    expect(await fails(['run', '--pcap', 'in.pcap', ...prog, '--out', '-'])).toEqual({
      code: 2,
      first: 'bpf-dispatcher: --out needs a file: capture files are not written to standard output',
    });
  });

  it('inputs it cannot use: one line naming them, exit code 2', async () => {
    const dir = dirs.make();
    const missing = join(dir, 'missing.pcap');
    expect(await fails(['run', '--pcap', missing, ...prog])).toEqual({
      code: 2,
      first: `bpf-dispatcher: --pcap ${missing}: cannot read it: ENOENT`,
    });
    const capture = join(dir, 'in.pcap');
    writeFileSync(capture, writePcap([]));
    const object = join(dir, 'missing.o');
    expect(await fails(['run', '--pcap', capture, '--prog', object])).toMatchObject({
      code: 2,
      first: expect.stringMatching(new RegExp(`^bpf-dispatcher: --prog ${object}: .*ENOENT`)),
    });
    if (nativeSupported())
      expect(await fails(['run', '--dev', 'nosuchif0', ...prog])).toEqual({
        code: 2,
        first: 'bpf-dispatcher: --dev nosuchif0: no such interface in this network namespace',
      });
    expect(await fails(['run', '--dev', 'no/such/if', ...prog])).toEqual({
      code: 2,
      first: 'bpf-dispatcher: --dev "no/such/if" is not an interface name (1 to 15 characters, no spaces, / or :)',
    });
  });
});
