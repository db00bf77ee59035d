import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LISTING_1_ENTRY, LISTING_16_ENTRIES } from '@bpf-dispatcher/reference';
import { describe, expect, it } from 'vitest';
import { listing } from './disasm/index.js';
import { assembleListing, parseListing } from './test-support/listing-assembler.js';

/** The objdump invocation of the reference listings, reduced to `address: text` lines. */
function objdump(bytes: Uint8Array, vma: bigint): string {
  const dir = mkdtempSync(join(tmpdir(), 'x86-listing-'));
  try {
    const file = join(dir, 'image.bin');
    writeFileSync(file, bytes);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-mi386:x86-64', '-M', 'intel', `--adjust-vma=0x${vma.toString(16)}`, file], {
      encoding: 'utf8',
    });
    let text = '';
    for (const line of out.split('\n')) {
      // "ffffffffc0020000:\t48 81 fa f7 ff ff ff \tcmp    rdx,0xfffffffffffffff7"
      const match = /^\s*([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(\S+)\s*(.*?)\s*$/.exec(line);
      if (match === null) continue;
      const operands = (match[3] as string).replace(/\s*[#<].*$/, '');
      text += `${match[1]}: ${match[2]}${operands ? ` ${operands}` : ''}\n`;
    }
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasObjdump = (() => {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.each([
  ['1-entry', LISTING_1_ENTRY, 0x12],
  ['16-entries', LISTING_16_ENTRIES, 0x252],
])('reference listing %s', (_name, golden, size) => {
  const lines = parseListing(golden);
  const base = (lines[0] as { address: bigint }).address;
  const bytes = assembleListing(lines, base + BigInt(size));

  it('re-assembles to an image of the reference size', () => {
    expect(bytes.length).toBe(size);
  });

  it('disassembles (iced-x86) to the reference listing, line for line', () => {
    expect(listing(bytes, base)).toBe(golden);
  });

  it.skipIf(!hasObjdump)('reads back identically with GNU objdump', () => {
    expect(objdump(bytes, base)).toBe(golden);
  });
});
