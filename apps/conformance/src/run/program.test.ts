import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { bundledObjectPath, openBundledObject } from '@bpf-dispatcher/xdp-call';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../output.js';
import { MIXED_OBJECT, scratchDirs } from '../test-support/run-fixtures.js';
import { loadProgram, selectProgram } from './program.js';

const dirs = scratchDirs('run-prog-');
afterAll(() => dirs.removeAll());

/** The CliError `fn` throws (code and one-line message). */
function cliError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).not.toContain('\n');
    return error as CliError;
  }
  throw new Error('expected a CliError, nothing was thrown');
}

describe('run: choosing and loading the program', () => {
  const basic = 'xdp_basic.bpf.o';
  const programs = 'xdp_drop (xdp), xdp_pass (xdp), xdp_tx (xdp), xdp_aborted (xdp), xdp_verdict (xdp)';

  it("takes the object's only XDP program, or the one --section names by section or by name", () => {
    expect(selectProgram(openBundledObject('xdp_udp_filter'), 'f.o').name).toBe('xdp_udp_filter');
    expect(selectProgram(openBundledObject('xdp_udp_filter'), 'f.o', 'xdp').name).toBe('xdp_udp_filter');
    expect(selectProgram(openBundledObject('xdp_basic'), basic, 'xdp_tx').name).toBe('xdp_tx');
  });

  it('says which programs there are when the choice is not clear, in one line', () => {
    expect(cliError(() => selectProgram(openBundledObject('xdp_basic'), basic))).toMatchObject({
      code: 'INVALID_INPUT',
      message: `${basic} has 5 XDP programs, choose one with --section NAME: ${programs}`,
    });
    expect(cliError(() => selectProgram(openBundledObject('xdp_basic'), basic, 'xdp')).message).toBe(
      `--section xdp matches 5 programs of ${basic}, give a program name: ${programs}`,
    );
    expect(cliError(() => selectProgram(openBundledObject('xdp_basic'), basic, 'xdp/nope')).message).toBe(
      `--section xdp/nope: ${basic} has no such section or program; its XDP programs: ${programs}`,
    );
  });

  it('loads the chosen program as an XdpProg of the arena; disposing it closes the object', async () => {
    const arena = new SimulatedArena({ dataSize: 8 << 20 });
    try {
      const loaded = loadProgram(arena, bundledObjectPath('xdp_basic'), 'xdp_drop');
      expect([loaded.name, loaded.section, loaded.prog.name, loaded.prog.arena === arena]).toEqual(['xdp_drop', 'xdp', 'xdp_drop', true]);
      await loaded.dispose();
      expect(loaded.prog.disposed).toBe(true);
      await loaded.dispose(); // idempotent
    } finally {
      arena.dispose();
    }
  });

  it('refuses files it cannot read or parse, in one line naming the file', () => {
    const arena = new SimulatedArena();
    try {
      const dir = dirs.make();
      const missing = join(dir, 'missing.o');
      expect(cliError(() => loadProgram(arena, missing)).message).toMatch(new RegExp(`^--prog ${missing}: .*ENOENT`));
      const text = join(dir, 'text.o');
      writeFileSync(text, 'not an ELF object\n');
      expect(cliError(() => loadProgram(arena, text))).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/^--prog .*text\.o: /),
      });
      expect(loadProgram(arena, MIXED_OBJECT).name).toBe('xdp_mixed');
    } finally {
      arena.dispose();
    }
  });
});
