/**
 * The C programs in `bpf/` ship as committed objects (`bpf/*.bpf.o`, built by
 * `pnpm build:bpf`). These tests fail when an object is older than its source or header
 * (content hashes in `bpf/objects.json`, never modification times), and, where the
 * installed clang is the recorded version, when a rebuild gives other bytes.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BPF_INCLUDE_DIR,
  BpfBuildError,
  type BpfCheckResult,
  buildBpfObjects,
  checkBpfObjects,
  clangVersion,
  findWorkspaceRoot,
  INSTALL_CLANG_HINT,
} from '../../../tooling/bpf-build/index.js';

const ROOT = findWorkspaceRoot(import.meta.dirname);
const BPF_DIR = 'packages/xdp-call/bpf';
const HEADER = `${BPF_INCLUDE_DIR}/bpf-dispatcher.h`;
const PROGRAMS = ['xdp_basic', 'xdp_helpers', 'xdp_rxq_info', 'xdp_udp_filter'];
const NO_CLANG = '/nonexistent/clang';
const CLANG = clangVersion();

const kinds = (result: BpfCheckResult) => result.problems.map((p) => `${p.kind} ${p.path}`);

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * A scratch workspace holding only what the check reads: the BPF folder and the header,
 * with the manifest's hashes brought up to date (so that these tests do not depend on the
 * real objects being fresh; the first test below checks those).
 */
function scratchWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-objects-test-'));
  cpSync(join(ROOT, BPF_DIR), join(dir, BPF_DIR), { recursive: true });
  cpSync(join(ROOT, BPF_INCLUDE_DIR), join(dir, BPF_INCLUDE_DIR), { recursive: true });
  writeFileSync(join(dir, 'pnpm-workspace.yaml'), 'packages: []\n');
  const manifestPath = join(dir, BPF_DIR, 'objects.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  for (const [name, entry] of Object.entries<Record<string, unknown>>(manifest.objects)) {
    entry.sourceSha256 = sha256(join(dir, BPF_DIR, String(entry.source)));
    entry.headers = { [HEADER]: sha256(join(dir, HEADER)) };
    entry.objectSha256 = sha256(join(dir, BPF_DIR, name));
  }
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  return dir;
}

const scratch: string[] = [];
function workspace(): string {
  const dir = scratchWorkspace();
  scratch.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function edit(root: string, path: string, change: (text: string) => string): void {
  writeFileSync(join(root, path), change(readFileSync(join(root, path), 'utf8')));
}

describe('committed BPF objects', () => {
  it('are up to date with their sources and the header', () => {
    const result = checkBpfObjects(ROOT, { dirs: [BPF_DIR] });
    for (const line of result.rebuild.skipped) console.log(`byte-for-byte rebuild skipped: ${line}`);
    expect(kinds(result), 'stale BPF objects: run `pnpm build:bpf` and commit packages/xdp-call/bpf').toEqual([]);
    expect(result.sources).toEqual(PROGRAMS.map((name) => `${BPF_DIR}/${name}.bpf.c`));
    // with the recorded clang installed every object was rebuilt and compared; otherwise each skip says why
    expect(result.rebuild.rebuilt.length + result.rebuild.skipped.length).toBe(PROGRAMS.length);
  });

  it('record the header every program includes', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, BPF_DIR, 'objects.json'), 'utf8'));
    for (const name of PROGRAMS) {
      expect(Object.keys(manifest.objects[`${name}.bpf.o`].headers)).toEqual([HEADER]);
    }
  });
});

describe('checkBpfObjects (on a scratch copy)', () => {
  it('accepts the copy as it is, with hashes only', () => {
    expect(checkBpfObjects(workspace(), { rebuild: false }).ok).toBe(true);
  });

  it('reports a source changed without rebuilding', () => {
    const root = workspace();
    edit(root, `${BPF_DIR}/xdp_basic.bpf.c`, (text) => text.replace('return XDP_DROP;', 'return XDP_PASS;'));
    expect(kinds(checkBpfObjects(root, { rebuild: false }))).toEqual([`source-changed ${BPF_DIR}/xdp_basic.bpf.c`]);
  });

  it('reports a changed header against every object built with it', () => {
    const root = workspace();
    edit(root, HEADER, (text) => `${text}\n/* changed */\n`);
    expect(kinds(checkBpfObjects(root, { rebuild: false }))).toEqual(PROGRAMS.map(() => `header-changed ${HEADER}`));
  });

  it('reports missing and altered objects, missing entries, orphans and a missing manifest', () => {
    const root = workspace();
    rmSync(join(root, BPF_DIR, 'xdp_basic.bpf.o'));
    const object = join(root, BPF_DIR, 'xdp_rxq_info.bpf.o');
    const bytes = readFileSync(object);
    bytes.writeUInt8(bytes.readUInt8(0x40) ^ 1, 0x40);
    writeFileSync(object, bytes);
    writeFileSync(join(root, BPF_DIR, 'xdp_new.bpf.c'), '#include "bpf-dispatcher.h"\n');
    rmSync(join(root, BPF_DIR, 'xdp_udp_filter.bpf.c'));
    expect(kinds(checkBpfObjects(root, { rebuild: false })).sort()).toEqual(
      [
        `object-missing ${BPF_DIR}/xdp_basic.bpf.o`,
        `object-changed ${BPF_DIR}/xdp_rxq_info.bpf.o`,
        `entry-missing ${BPF_DIR}/xdp_new.bpf.c`,
        `orphan-entry ${BPF_DIR}/xdp_udp_filter.bpf.o`,
      ].sort(),
    );
    rmSync(join(root, BPF_DIR, 'objects.json'));
    expect(kinds(checkBpfObjects(root, { rebuild: false }))).toEqual([`manifest-missing ${BPF_DIR}/objects.json`]);
  });

  it('checks hashes without clang and says the byte-for-byte rebuild was skipped', () => {
    const root = workspace();
    const result = checkBpfObjects(root, { clang: NO_CLANG });
    expect(result.ok).toBe(true);
    expect(result.rebuild.rebuilt).toEqual([]);
    expect(result.rebuild.skipped).toHaveLength(PROGRAMS.length);
    expect(result.rebuild.skipped[0]).toContain(INSTALL_CLANG_HINT);
    edit(root, `${BPF_DIR}/xdp_basic.bpf.c`, (text) => `${text}\n`);
    expect(checkBpfObjects(root, { clang: NO_CLANG }).ok).toBe(false);
  });

  it('skips the rebuild when clang is another version than the recorded one', () => {
    const root = workspace();
    edit(root, `${BPF_DIR}/objects.json`, (text) => text.replaceAll(/"clang": "[^"]*"/g, '"clang": "clang version 0.0.0 (test)"'));
    const result = checkBpfObjects(root);
    expect(result.ok).toBe(true);
    expect(result.rebuild.rebuilt).toEqual([]);
    expect(result.rebuild.skipped.length).toBe(PROGRAMS.length);
  });
});

describe('buildBpfObjects', () => {
  it('without clang says how to install it', () => {
    const error = (() => {
      try {
        buildBpfObjects(workspace(), { clang: NO_CLANG });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(BpfBuildError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ENOCLANG', message: expect.stringContaining('install clang (Debian: apt-get install clang)') });
  });

  it.skipIf(!CLANG)('builds the same bytes in two different checkouts', () => {
    const [a, b] = [workspace(), workspace()];
    for (const root of [a, b]) {
      for (const name of PROGRAMS) rmSync(join(root, BPF_DIR, `${name}.bpf.o`));
      const built = buildBpfObjects(root);
      expect(built.objects.map((o) => o.object)).toEqual(PROGRAMS.map((name) => `${BPF_DIR}/${name}.bpf.o`));
    }
    for (const name of PROGRAMS) {
      expect(readFileSync(join(a, BPF_DIR, `${name}.bpf.o`)).equals(readFileSync(join(b, BPF_DIR, `${name}.bpf.o`)))).toBe(true);
    }
    expect(checkBpfObjects(a).ok).toBe(true);
  });

  it.skipIf(!CLANG)('the rebuild catches an object replaced together with its recorded hash', () => {
    const root = workspace();
    const manifestPath = join(root, BPF_DIR, 'objects.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    // xdp_helpers' bytes under xdp_basic's name, with the recorded hash updated to match: only a rebuild tells
    const other = readFileSync(join(root, BPF_DIR, 'xdp_helpers.bpf.o'));
    writeFileSync(join(root, BPF_DIR, 'xdp_basic.bpf.o'), other);
    manifest.objects['xdp_basic.bpf.o'].objectSha256 = manifest.objects['xdp_helpers.bpf.o'].objectSha256;
    manifest.objects['xdp_basic.bpf.o'].clang = CLANG;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    // (were the committed objects stale or built by another clang, other objects could be listed too)
    expect(kinds(checkBpfObjects(root))).toContain(`rebuild-differs ${BPF_DIR}/xdp_basic.bpf.o`);
  });
});
