import { closeSync, existsSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the CLI's own errors: `OUTPUT_UNWRITABLE` and `OUTPUT_CONFLICT` (checked before
 * any work), `INVALID_INPUT` (an input the command cannot use: an unknown interface, a
 * program or capture file it cannot load) and `UNSUPPORTED` (the platform or the kernel
 * refuses: no native arena, AF_XDP refused).
 */
export type CliErrorCode = 'OUTPUT_UNWRITABLE' | 'OUTPUT_CONFLICT' | 'INVALID_INPUT' | 'UNSUPPORTED';

/**
 * An error of the command line itself (not of a package): an output file that cannot be
 * written, two outputs sent to standard output, an input or platform a command cannot
 * use. The CLI prints its message on one line and exits with code 2 (output problems
 * before doing any work; a command cleans up what it started before throwing).
 */
export class CliError extends BpfDispatcherError<CliErrorCode> {}

/** The options that name an output file, as the user writes them. */
export const OUTPUT_FLAGS = Object.freeze({ json: '--json', markdown: '--markdown', svg: '--svg', bin: '--bin', out: '--out' } as const);

/** Output options whose bytes are binary: they need a file, never standard output. */
const BINARY_OUTPUTS: Readonly<Partial<Record<keyof typeof OUTPUT_FLAGS, string>>> = Object.freeze({
  bin: '--bin needs a file: raw bytes are not written to standard output',
  out: '--out needs a file: capture files are not written to standard output',
});

/** A command's options, of which those in {@link OUTPUT_FLAGS} name output files. */
export type OutputOptions = { readonly [K in keyof typeof OUTPUT_FLAGS]?: string | undefined };

/** `-` as an output file means standard output. */
export const STDOUT = '-';

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const text: Record<string, string> = {
    ENOTDIR: 'a parent is not a directory',
    EEXIST: 'a parent is not a directory',
    EISDIR: 'it is a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOENT: 'no such directory',
    ENOSPC: 'no space left on device',
  };
  if (code !== undefined) return `${text[code] ?? e.message} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Check at once, before any work, that `file` can be written: create its directory if
 * needed and open it for appending (a file that did not exist is removed again).
 * `-` (standard output) is always writable.
 * @throws CliError `OUTPUT_UNWRITABLE` with a one-line reason.
 */
export function assertWritable(flag: string, file: string): void {
  if (file === STDOUT) return;
  try {
    if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true });
    const existed = existsSync(file);
    closeSync(openSync(file, 'a'));
    if (!existed) unlinkSync(file);
  } catch (error) {
    throw new CliError('OUTPUT_UNWRITABLE', `cannot write ${flag} ${file}: ${reason(error)}`, { cause: error });
  }
}

/**
 * Check every output option of a command (see {@link OUTPUT_FLAGS}): each must be
 * writable, at most one may be `-`, and `--bin` and `--out` (binary) never are.
 * @throws CliError `OUTPUT_UNWRITABLE` or `OUTPUT_CONFLICT`.
 */
export function assertOutputs(options: OutputOptions): void {
  const toStdout: string[] = [];
  for (const [key, flag] of Object.entries(OUTPUT_FLAGS)) {
    const file: unknown = options[key as keyof OutputOptions];
    if (typeof file !== 'string') continue;
    if (file === STDOUT) {
      const binary = BINARY_OUTPUTS[key as keyof typeof OUTPUT_FLAGS];
      if (binary !== undefined) throw new CliError('OUTPUT_CONFLICT', binary);
      toStdout.push(flag);
    }
    assertWritable(flag, file);
  }
  if (toStdout.length > 1)
    throw new CliError('OUTPUT_CONFLICT', `only one output can go to standard output (${toStdout.join(' and ')} are both -)`);
}

/** True when one of the command's outputs goes to standard output (then its human-readable text goes to stderr). */
export function usesStdout(options: OutputOptions): boolean {
  return Object.keys(OUTPUT_FLAGS).some((key) => options[key as keyof OutputOptions] === STDOUT);
}

/** Write `text` to `file` (`-`: standard output); nothing when `file` is undefined. */
export function writeOutput(file: string | undefined, text: string | Uint8Array): void {
  if (file === undefined) return;
  if (file === STDOUT) {
    process.stdout.write(text);
    return;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Where a command prints its human-readable text: stdout, or stderr when stdout carries an output. */
export function humanLog(options: OutputOptions): (text: string) => void {
  return usesStdout(options) ? (text) => process.stderr.write(`${text}\n`) : (text) => console.log(text);
}
