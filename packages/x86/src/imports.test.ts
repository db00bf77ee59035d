/**
 * Importing `@bpf-dispatcher/x86` must not load iced-x86 (a WebAssembly decoder): only the
 * `./disasm` subpath needs it. Checked in a fresh Node process on the package's sources.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOADED_HELPER, probeFreshImport } from '@bpf-dispatcher/vitest-config/fresh-import';
import { describe, expect, it } from 'vitest';

const probe = `${LOADED_HELPER}
const x86 = await import('./index.js');
const buf = new x86.CodeBuffer(0x1000n);
x86.emitFallbackJump(buf, x86.FALLBACK_INDIRECT);
const bytes = buf.finish();
const before = loaded('iced-x86');
const { listing } = await import('./disasm/index.js');
console.log(JSON.stringify({ before, after: loaded('iced-x86'), text: listing(bytes, 0x1000n) }));
`;

describe('import cost', () => {
  it('importing the package (and encoding) does not load iced-x86; the ./disasm subpath does', () => {
    const result = probeFreshImport(dirname(fileURLToPath(import.meta.url)), probe) as { before: boolean; after: boolean; text: string };
    expect(result.before).toBe(false);
    expect(result.after).toBe(true);
    expect(result.text).toMatch(/jmp\s+rdx/);
  }, 90_000);
});
