/**
 * The program `bpf-dispatcher run` attaches: which XDP program of an object file
 * (`--section`), loaded into an arena as an {@link XdpProg} — libbpf's
 * `bpf_object__open_file`, `bpf_object__find_program_by_name` and `bpf_object__load`, as
 * xdp-loader does them.
 */
import { type BpfObject, type ObjectProgram, openObjectFile } from '@bpf-dispatcher/bpf-object';
import type { TextArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { type XdpProg, xdpProgFromObject } from '@bpf-dispatcher/xdp-call';
import { CliError } from '../output.js';

/** `name (section)` of each program, for messages. */
const listing = (programs: readonly ObjectProgram[]): string => programs.map((p) => `${p.name} (${p.section})`).join(', ');

/** The first line of an error's message. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/**
 * The program to run: with `section`, the XDP program whose section (`xdp`, `xdp/foo`) or
 * name is `section`; without, the object's only XDP program.
 * @throws CliError INVALID_INPUT, in one line listing the object's XDP programs, when none
 *   matches, several do, the match is no XDP program, or (without `section`) the object
 *   has no XDP program or several.
 */
export function selectProgram(object: BpfObject, file: string, section?: string): ObjectProgram {
  const xdp = object.programs.filter((p) => p.type === 'xdp');
  if (section === undefined) {
    if (xdp.length === 1) return xdp[0] as ObjectProgram;
    if (xdp.length === 0)
      throw new CliError(
        'INVALID_INPUT',
        `${file} has no XDP program (sections xdp, xdp/...): ${listing(object.programs) || 'no programs at all'}`,
      );
    throw new CliError('INVALID_INPUT', `${file} has ${xdp.length} XDP programs, choose one with --section NAME: ${listing(xdp)}`);
  }
  const matches = object.programs.filter((p) => p.section === section || p.name === section);
  const [only] = matches;
  if (only === undefined)
    throw new CliError(
      'INVALID_INPUT',
      `--section ${section}: ${file} has no such section or program; its XDP programs: ${listing(xdp) || 'none'}`,
    );
  if (matches.length > 1) {
    const names = matches.filter((p) => p.name === section);
    if (names.length === 1) return names[0] as ObjectProgram;
    throw new CliError(
      'INVALID_INPUT',
      `--section ${section} matches ${matches.length} programs of ${file}, give a program name: ${listing(matches)}`,
    );
  }
  if (only.type !== 'xdp')
    throw new CliError('INVALID_INPUT', `--section ${section}: ${only.name} in section ${only.section} of ${file} is not an XDP program`);
  return only;
}

/** A loaded program, ready for `i40eXdpSetup`. */
export interface LoadedProgram {
  readonly prog: XdpProg;
  /** The program's name (its symbol) and section. */
  readonly name: string;
  readonly section: string;
  /** Free the program and close its object (idempotent; the program must be detached). */
  dispose(): Promise<void>;
}

/**
 * Open `file`, pick the program ({@link selectProgram}), load only it (the object's other
 * programs are not verified or JIT'd) into `arena` and wrap it as an XdpProg that closes
 * the object when it is disposed. On failure nothing stays open.
 * @throws CliError INVALID_INPUT, in one line: the file cannot be read or parsed, no
 *   program fits, the verifier or loader refuses it.
 */
export function loadProgram(arena: TextArena, file: string, section?: string): LoadedProgram {
  let object: BpfObject;
  try {
    object = openObjectFile(file);
  } catch (error) {
    if (!BpfDispatcherError.isInstance(error)) throw error;
    throw new CliError('INVALID_INPUT', `--prog ${file}: ${firstLine(error)}`, { cause: error });
  }
  try {
    const program = selectProgram(object, file, section);
    for (const p of object.programs) p.setAutoload(p === program);
    try {
      object.load(arena);
    } catch (error) {
      if (!BpfDispatcherError.isInstance(error)) throw error;
      throw new CliError('INVALID_INPUT', `cannot load ${program.name} (${program.section}) from ${file}: ${firstLine(error)}`, {
        cause: error,
      });
    }
    const opened = object;
    const prog = xdpProgFromObject(program, { onDispose: () => opened.close() });
    return {
      prog,
      name: program.name,
      section: program.section,
      dispose: async () => {
        await prog.dispose();
        await opened.close();
      },
    };
  } catch (error) {
    void object.close();
    throw error;
  }
}
