import { generateImage } from '@bpf-dispatcher/dispatcher';
import { listing } from '@bpf-dispatcher/x86/disasm';
import { writeOutput } from '../output.js';

export interface DisasmOptions {
  readonly entries?: number;
  readonly prog?: bigint[];
  readonly image: bigint;
  readonly thunk: bigint;
  readonly bin?: string;
}

/** The cover letter's defaults. */
export const DISASM_DEFAULTS = Object.freeze({ image: 0xffffffffc0020000n, thunk: 0xffffffff81c00f10n, entries: 16 });

/** Print the dispatcher listing (and write the raw image with --bin). Returns the listing. */
export function disasm(options: DisasmOptions): string {
  const progs = options.prog && options.prog.length > 0 ? options.prog : Array.from({ length: options.entries ?? DISASM_DEFAULTS.entries }, (_, i) => BigInt.asUintN(64, BigInt(-(i + 1))));
  const bytes = generateImage(options.image, progs, { fallback: 'retpoline', thunk: options.thunk });
  writeOutput(options.bin, bytes);
  return listing(bytes, options.image);
}
