// The built CLI as a user runs it: a separate Node process on dist/cli.js (turbo builds
// the app before its tests), also through symlinks as installed `bin` entries are.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LISTING_1_ENTRY } from '@bpf-dispatcher/reference';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from './soak/schedule.js';

const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const scratch = () => mkdtempSync(join(tmpdir(), 'bpf-dispatcher-cli-'));

function run(args: string[], options: { script?: string; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [options.script ?? cliPath, ...args], {
    cwd: options.cwd ?? scratch(),
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A path that cannot be written, even by root: its parent is a regular file. */
function unwritable(name: string): string {
  const file = join(scratch(), 'not-a-directory');
  writeFileSync(file, '');
  return join(file, name);
}

describe('the built CLI', () => {
  it('runs through a symlink, as an installed bin entry does (two levels of links)', () => {
    const dir = scratch();
    const inner = join(dir, 'cli-link.js');
    const outer = join(dir, 'bpf-dispatcher');
    symlinkSync(cliPath, inner);
    symlinkSync(inner, outer);
    const r = run(['disasm', '--prog', '-1', '--image', '0xffffffffc0002000'], { script: outer });
    expect(r).toEqual({ code: 0, stdout: LISTING_1_ENTRY, stderr: '' });
    expect(run(['--version'], { script: outer })).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('prints its version with --version and -V', () => {
    expect(run(['--version']).stdout).toBe(`${version}\n`);
    expect(run(['-V'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('says which command is unknown, and exits non-zero', () => {
    const r = run(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.split('\n')[0]).toBe("error: unknown command 'frobnicate'");
    expect(r.stdout).toBe('');
    const extra = run(['conformance', 'frobnicate']);
    expect(extra.code).not.toBe(0);
    expect(extra.stderr).toContain("too many arguments for 'conformance'");
  });

  it('--json - writes the JSON to standard output (and no file named -); the table goes to stderr', () => {
    const cwd = scratch();
    const r = run(['conformance', '--arena', 'simulated', '--json', '-'], { cwd });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { results: { status: string }[] };
    expect(doc.results.length).toBeGreaterThan(5);
    expect(doc.results.every((x) => x.status === 'pass')).toBe(true);
    expect(r.stderr).toMatch(/\d+ passed, 0 failed/);
    expect(existsSync(join(cwd, '-'))).toBe(false);
  });

  it('refuses two outputs on standard output, and --bin -', () => {
    const r = run(['bench', '--json', '-', '--svg', '-']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('bpf-dispatcher: only one output can go to standard output (--json and --svg are both -)\n');
    expect(run(['disasm', '--bin', '-'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'bpf-dispatcher: --bin needs a file: raw bytes are not written to standard output\n',
    });
  });

  it.each([
    ['conformance', '--json', 'results.json'],
    ['disasm', '--bin', 'image.bin'],
    ['bench', '--json', 'bench.json'],
    ['bench', '--markdown', 'bench.md'],
    ['bench', '--svg', 'bench.svg'],
    ['soak', '--json', 'soak.json'],
  ])('%s %s to an unwritable path fails at once, in one line, before any work', (command, flag, name) => {
    const file = unwritable(name);
    const r = run([command, flag, file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(''); // no header, no listing: nothing ran
    expect(r.stderr).toBe(`bpf-dispatcher: cannot write ${flag} ${file}: a parent is not a directory (ENOTDIR)\n`);
  });

  it('a directory given as the output file is refused the same way', () => {
    const dir = scratch();
    expect(run(['conformance', '--json', dir])).toEqual({
      code: 2,
      stdout: '',
      stderr: `bpf-dispatcher: cannot write --json ${dir}: it is a directory (EISDIR)\n`,
    });
  });

  it.skipIf(!nativeSupported())(
    'soak stops at --updates long before --seconds, injects every kind of fault and says so (--json - on stdout)',
    () => {
      const r = run(['soak', '--seconds', '3600', '--updates', '1000', '--json', '-']);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as {
        stoppedBy: string;
        ok: boolean;
        faults: { fault: string; injected: number; recovered: number }[];
      };
      expect(report.stoppedBy).toBe('updates');
      expect(report.ok).toBe(true);
      expect(report.faults.map((f) => [f.fault, f.injected, f.recovered])).toEqual(FAULT_KINDS.map((k) => [k.fault, 1, 1]));
      expect(r.stderr).toContain('stopped: the update limit (1,000) came first');
      expect(r.stderr).toContain(`${FAULT_KINDS.length} of ${FAULT_KINDS.length} kinds injected`);
      for (const k of FAULT_KINDS)
        expect(r.stderr).toMatch(new RegExp(`${k.fault.replace(/[()]/g, '\\$&')} +injected 1, typed ${k.code} 1, recovered 1\\n`));
      expect(r.stderr).toContain('soak: OK');
      expect(r.stderr).not.toContain('\r'); // no progress line when stderr is not a terminal
    },
    300_000,
  );
});
