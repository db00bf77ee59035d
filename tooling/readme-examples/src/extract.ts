import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One fenced code example of a README. */
export interface Example {
  /** The README, relative to the repository root (`packages/x86/README.md`). */
  readonly readme: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string (`ts`, `js no-run`, ...). */
  readonly info: string;
  /** `ts` (TypeScript, types are stripped before running) or `js`. */
  readonly language: 'ts' | 'js';
  /** True when the info string says `no-run`: shown to readers, not run. */
  readonly noRun: boolean;
  readonly code: string;
}

const LANGUAGES: Readonly<Record<string, 'ts' | 'js'>> = { ts: 'ts', typescript: 'ts', mts: 'ts', js: 'js', javascript: 'js', mjs: 'js' };
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.git', '.turbo', 'coverage', '.changeset']);

/**
 * The TypeScript/JavaScript examples of one Markdown text: fenced blocks (``` or ~~~) whose
 * info string starts with ts, typescript, mts, js, javascript or mjs. Other blocks (sh,
 * text, ...) are not examples. A block marked `no-run` in its info string is returned
 * with `noRun` set.
 */
export function extractExamples(markdown: string, readme: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const fence = open[2] as string;
    const info = (open[3] as string).trim();
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j] as string);
      if (close !== null && (close[1] as string)[0] === fence[0] && (close[1] as string).length >= fence.length) break;
      body.push(lines[j] as string);
    }
    const word = info.split(/\s+/)[0]?.toLowerCase() ?? '';
    const language = LANGUAGES[word];
    if (language !== undefined) {
      examples.push({ readme, line: i + 1, info, language, noRun: /(^|\s)no-run(\s|$)/.test(info), code: `${body.join('\n')}\n` });
    }
    i = j;
  }
  return examples;
}

/** Every README.md of the repository at `root` (outside node_modules, dist and other generated folders), sorted. */
export function findReadmes(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(join(dir, entry.name));
      } else if (entry.isFile() && entry.name.toLowerCase() === 'readme.md') {
        found.push(relative(root, join(dir, entry.name)));
      }
    }
  };
  walk(root);
  return found.sort();
}

/** Every example of every README of the repository at `root`. */
export function allExamples(root: string): Example[] {
  return findReadmes(root).flatMap((readme) => extractExamples(readFileSync(join(root, readme), 'utf8'), readme));
}
