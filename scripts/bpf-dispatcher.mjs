#!/usr/bin/env node
// `pnpm bpf-dispatcher [command] [options]`: build the CLI and the packages it uses with
// turbo, quietly; if the build fails, print what turbo and the compiler said and exit with
// the build's code; else run the built CLI with the arguments given, as its own process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const localTurbo = join(root, 'node_modules', '.bin', 'turbo');
const [command, prefix] = existsSync(localTurbo) ? [localTurbo, []] : ['pnpm', ['exec', 'turbo']];
const build = spawnSync(
  command,
  [...prefix, 'run', 'build', '--filter=@bpf-dispatcher/conformance', '--output-logs=errors-only', '--log-prefix=none'],
  { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20, env: { TURBO_TELEMETRY_DISABLED: '1', ...process.env } },
);
if (build.status !== 0) {
  process.stderr.write(build.stdout ?? '');
  process.stderr.write(build.stderr ?? '');
  if (build.error) process.stderr.write(`${build.error.message}\n`);
  process.stderr.write(`bpf-dispatcher: building the CLI failed (turbo exited with ${build.status ?? build.signal}); see above\n`);
  process.exit(build.status || 1);
}

const cli = spawnSync(process.execPath, [join(root, 'apps', 'conformance', 'dist', 'cli.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (cli.signal) process.kill(process.pid, cli.signal);
process.exit(cli.status ?? 1);
