#!/usr/bin/env node
/**
 * `bpf-conformance-plugin`: the bpf_conformance suite's plugin executable.
 *
 *   bpf-conformance-plugin ["<memory hex bytes>"] [--mode interpreter|jit|simulated] < program-hex
 *
 * Prints r0 in hex and exits 0, or prints why the program was refused on stderr and
 * exits 1. See `plugin/protocol.ts`.
 */
import { runPlugin } from './plugin/protocol.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const outcome = await runPlugin(process.argv.slice(2), await readStdin());
process.stdout.write(outcome.stdout);
process.stderr.write(outcome.stderr);
process.exitCode = outcome.exitCode;
