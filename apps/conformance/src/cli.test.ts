import { LISTING_1_ENTRY, LISTING_16_ENTRIES } from '@bpf-dispatcher/reference';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAddress } from './addresses.js';
import { cliVersion, invokedDirectly, main } from './cli.js';
import { disasm } from './commands/disasm.js';

describe('addresses', () => {
  it('parses hex and (negative) decimals as the cover letter writes them', () => {
    expect(parseAddress('0xffffffffc0020000')).toBe(0xffffffffc0020000n);
    expect(parseAddress('-1')).toBe(0xffffffffffffffffn);
    expect(parseAddress('-16')).toBe(0xfffffffffffffff0n);
    expect(parseAddress('4096')).toBe(4096n);
    for (const bad of ['', 'x', '0x', '1.5', '0x1ffffffffffffffff', '--1']) expect(() => parseAddress(bad)).toThrow();
  });
});

describe('bpf-dispatcher disasm', () => {
  it('reproduces the cover letter listings by default', () => {
    expect(disasm({ image: 0xffffffffc0020000n, thunk: 0xffffffff81c00f10n })).toBe(LISTING_16_ENTRIES);
    expect(disasm({ entries: 1, image: 0xffffffffc0002000n, thunk: 0xffffffff81c00f10n })).toBe(LISTING_1_ENTRY);
  });
});

describe('CLI', () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  const capture = () => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      out.push(`${args.join(' ')}\n`);
    });
  };

  it('disasm with --prog in hex and negative decimal', async () => {
    capture();
    expect(await main(['disasm', '--prog', '-1', '--image', '0xffffffffc0002000'])).toBe(0);
    expect(out.join('')).toBe(LISTING_1_ENTRY);
  });

  it('disasm --bin writes the raw image that the listing shows', async () => {
    capture();
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'disasm-')), 'image.bin');
    expect(await main(['disasm', '--entries', '16', '--bin', file])).toBe(0);
    expect(out.join('')).toBe(LISTING_16_ENTRIES);
    expect(readFileSync(file).length).toBe(0x252);
  });

  it('has help for every command', async () => {
    capture();
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    for (const command of ['conformance', 'disasm', 'bench', 'bench-veth', 'soak', 'run']) {
      out.length = 0;
      await main([command, '--help']);
      expect(out.join('')).toContain(`Usage: bpf-dispatcher ${command}`);
    }
  });

  it('documents bench --check (exit code 1 on a missed target) and the outputs in --help', async () => {
    capture();
    expect(await main(['bench', '--help'])).toBe(0);
    const help = out.join('');
    expect(help).toMatch(/--check\s+exit with code 1 when a target is missed/);
    for (const option of ['--quick', '--json <file>', '--markdown <file>', '--svg <file>']) expect(help).toContain(option);
  });

  it('rejects bad arguments with a usage error and a non-zero code', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    expect(await main(['disasm', '--entries', '99'])).not.toBe(0);
    expect(await main(['disasm', '--prog', 'zzz'])).not.toBe(0);
    err.length = 0;
    expect(await main(['no-such-command'])).not.toBe(0);
    expect(err.join('')).toMatch(/^error: unknown command 'no-such-command'\n/);
  });

  it('prints the version of its package.json', async () => {
    capture();
    expect(await main(['--version'])).toBe(0);
    expect(out.join('')).toBe(`${cliVersion()}\n`);
    expect(cliVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('recognises itself when started through a symlink (invokedDirectly resolves links)', async () => {
    const { mkdtempSync, symlinkSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { fileURLToPath } = await import('node:url');
    const self = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const link = join(mkdtempSync(join(tmpdir(), 'cli-link-')), 'bpf-dispatcher');
    symlinkSync(self, link);
    expect(invokedDirectly(link, self)).toBe(true);
    expect(invokedDirectly(self, self)).toBe(true);
    expect(invokedDirectly(join(tmpdir(), 'no-such-file.js'), self)).toBe(false);
    expect(invokedDirectly(undefined, self)).toBe(false);
  });

  it('runs the conformance suite green on the simulated arena', async () => {
    capture();
    expect(await main(['conformance', '--arena', 'simulated'])).toBe(0);
    expect(out.join('')).toMatch(/\d+ passed, 0 failed/);
  });
});
