import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { type Example, allExamples, extractExamples } from './extract.js';
import { exampleName, runExample, stripTypes, typecheckExamples } from './run.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// inside the workspace, so that the examples import the workspace packages by name
const scratch = fileURLToPath(new URL('../node_modules/.cache/readme-examples/', import.meta.url));
rmSync(scratch, { recursive: true, force: true });

const examples = allExamples(root);
const runnable = examples.filter((e) => !e.noRun);
/** Examples that need the native arena cannot run off x86-64 Linux. */
const needsNative = (e: Example) => /\bNativeArena\b/.test(e.code);

describe('README examples', () => {
  it('are found in the package READMEs', () => {
    const readmes = new Set(runnable.map((e) => e.readme));
    for (const pkg of ['x86', 'text-poke', 'dispatcher', 'xdp-call', 'i40e']) expect(readmes).toContain(`packages/${pkg}/README.md`);
  });

  it('are rarely marked no-run (at most one in five)', () => {
    expect(examples.length - runnable.length).toBeLessThanOrEqual(Math.floor(examples.length / 5));
  });

  it("type-check as written with the workspace's strict settings", () => {
    const r = typecheckExamples(runnable, `${scratch}typecheck/`);
    expect(r.code === 0 ? 'no type errors' : r.output).toBe('no type errors');
  });

  it.each(runnable.map((e) => [`${e.readme}:${e.line}`, e] as const))(
    '%s runs as written with plain Node and exits 0',
    (_where, example) => {
      if (needsNative(example) && !nativeSupported()) return; // the same code is run on x86-64 Linux (CI)
      const r = runExample(example, scratch, exampleName(example));
      const detail = `${r.source} (ran ${r.ran}) exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect(r.code === 0 && r.signal === null ? 'exit 0' : detail).toBe('exit 0');
    },
  );
});

describe('the example runner', () => {
  it('extracts ts/js blocks with their lines, honours no-run, ignores other languages', () => {
    const md = [
      '# x',
      '```sh',
      'echo hi',
      '```',
      '',
      '```ts',
      'const a: number = 1;',
      '```',
      '~~~js no-run',
      'boom()',
      '~~~',
      '````typescript',
      '```',
      '````',
    ].join('\n');
    expect(extractExamples(md, 'README.md')).toEqual([
      { readme: 'README.md', line: 6, info: 'ts', language: 'ts', noRun: false, code: 'const a: number = 1;\n' },
      { readme: 'README.md', line: 9, info: 'js no-run', language: 'js', noRun: true, code: 'boom()\n' },
      { readme: 'README.md', line: 12, info: 'typescript', language: 'ts', noRun: false, code: '```\n' },
    ]);
  });

  it('strips types, keeping top-level await and imports', () => {
    const js = stripTypes("import { x } from 'y';\nconst n: number = await x<string>();\ninterface I { a: 1 }\n", 'a.mts');
    expect(js).toContain("import { x } from 'y';");
    expect(js).toContain('const n = await x();');
    expect(js).not.toContain('interface');
  });

  it('reports an example that fails or cannot resolve its imports (so a broken README fails the test)', () => {
    const base = { readme: 'README.md', line: 1, info: 'ts', language: 'ts', noRun: false } as const;
    const thrown = runExample({ ...base, code: 'const progA: bigint = undefinedThing;\n' }, scratch, 'self-test-throws');
    expect(thrown.code).not.toBe(0);
    expect(thrown.stderr).toContain('undefinedThing is not defined');
    const missing = runExample({ ...base, code: "import { nope } from '@bpf-dispatcher/x86';\nnope();\n" }, scratch, 'self-test-import');
    expect(missing.code).not.toBe(0);
    const ok = runExample(
      {
        ...base,
        code: "import { CodeBuffer } from '@bpf-dispatcher/x86';\nconst b: CodeBuffer = new CodeBuffer(0n);\nconsole.log(typeof b);\n",
      },
      scratch,
      'self-test-ok',
    );
    expect([ok.code, ok.stdout]).toEqual([0, 'object\n']);
    expect(existsSync(ok.source)).toBe(true);
  });

  it('reports a type error in an example', () => {
    const base = { readme: 'SELF-TEST.md', info: 'ts', language: 'ts', noRun: false } as const;
    const r = typecheckExamples(
      [
        { ...base, line: 1, code: "import { CodeBuffer } from '@bpf-dispatcher/x86';\nconst b = new CodeBuffer(0n);\nconsole.log(b);\n" },
        { ...base, line: 9, code: 'const xs: number[] = [];\nconst [first] = xs;\nconsole.log(first.toFixed());\n' },
      ],
      `${scratch}typecheck-self-test/`,
    );
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("SELF-TEST.md-9.mts(3,13): error TS18048: 'first' is possibly 'undefined'.");
    expect(r.output).not.toContain('SELF-TEST.md-1.mts');
  });
});
