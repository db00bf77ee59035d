#!/usr/bin/env node
// Compile the workspace's C eBPF programs (packages/*/bpf/**/*.bpf.c and
// packages/*/fixtures/**/*.bpf.c) into the committed *.bpf.o objects, and write each
// folder's objects.json manifest. `--check` verifies instead of building: exit 1 when an
// object is stale or missing. The logic lives in tooling/bpf-build.
//
//   node scripts/build-bpf.mjs [--check] [--no-rebuild] [--dir packages/xdp-call/bpf ...]
//   (pnpm build:bpf)         BPF_DISPATCHER_CLANG=clang-14 picks another compiler
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BPF_SOURCE_DIRS, BpfBuildError, buildBpfObjects, checkBpfObjects } from '../tooling/bpf-build/index.js';

const USAGE = `usage: node scripts/build-bpf.mjs [--check] [--no-rebuild] [--dir DIR]... [--clang PATH]

Builds every *.bpf.c under ${BPF_SOURCE_DIRS.join(', ')} (clang -O2 -g -target bpf) into
the *.bpf.o beside it and writes objects.json (hashes of source, headers and object, clang
version) in each folder.

  --check       verify instead: hashes of sources, headers and objects against objects.json,
                then, when the installed clang has the recorded version, rebuild into a
                temporary folder and compare bytes. Exit status 1 when anything is stale.
  --no-rebuild  with --check: hashes only.
  --dir DIR     only this folder (repeatable; patterns like packages/*/bpf allowed).
  --clang PATH  the compiler (default: $BPF_DISPATCHER_CLANG, else clang).`;

const root = resolve(import.meta.dirname, '..');
let args;
try {
  args = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      'no-rebuild': { type: 'boolean', default: false },
      dir: { type: 'string', multiple: true },
      clang: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const options = {
  ...(args.dir ? { dirs: args.dir } : {}),
  ...(args.clang ? { clang: args.clang } : {}),
};

if (args.check) {
  const result = checkBpfObjects(root, { ...options, rebuild: !args['no-rebuild'] });
  for (const p of result.problems) console.error(`stale: ${p.path}: ${p.kind}: ${p.detail}`);
  if (result.rebuild.rebuilt.length > 0) console.log(`rebuilt and compared byte for byte (${result.rebuild.clang}): ${result.rebuild.rebuilt.length} objects`);
  for (const line of result.rebuild.skipped) console.log(`byte-for-byte rebuild skipped: ${line}`);
  if (!result.ok) {
    console.error(`${result.problems.length} problem(s): run \`pnpm build:bpf\` and commit the objects and objects.json`);
    process.exit(1);
  }
  console.log(`${result.sources.length} BPF objects up to date`);
} else {
  try {
    const result = buildBpfObjects(root, { ...options, log: (line) => console.log(line) });
    console.log(`${result.objects.length} BPF objects built with ${result.clang}`);
  } catch (error) {
    if (!BpfBuildError.isInstance(error)) throw error;
    console.error(`build-bpf: ${error.message}`);
    process.exit(1);
  }
}
