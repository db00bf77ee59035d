// The reference listings of the dispatcher image, as test fixtures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (name) => fileURLToPath(new URL(name, import.meta.url));

export const LISTING_1_ENTRY_PATH = here('./listing-1-entry.lst');
export const LISTING_16_ENTRIES_PATH = here('./listing-16-entries.lst');
export const LISTING_1_ENTRY = readFileSync(LISTING_1_ENTRY_PATH, 'utf8');
export const LISTING_16_ENTRIES = readFileSync(LISTING_16_ENTRIES_PATH, 'utf8');

/** Addresses the reference listings use. */
export const REFERENCE = Object.freeze({
  image1: 0xffffffffc0002000n,
  image16: 0xffffffffc0020000n,
  thunk: 0xffffffff81c00f10n,
  /** Programs -1 ... -n as unsigned 64-bit addresses. */
  progs: (n) => Array.from({ length: n }, (_, i) => BigInt.asUintN(64, BigInt(-(i + 1)))),
});

/** Image sizes in bytes by number of entries (the kernel's aligned layout). */
export const IMAGE_SIZES = Object.freeze({ 1: 18, 2: 50, 3: 98, 4: 130, 5: 162, 8: 290, 16: 594, 32: 1218, 48: 1890, 64: 2466 });

/** True when GNU objdump is on PATH. */
export function hasObjdump() {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Disassemble raw bytes with GNU objdump exactly as the reference listings were made
 * (`objdump -D -b binary -mi386:x86-64 -M intel --adjust-vma=ADDR`), reduced to
 * `address: text` lines (objdump's symbolic `<...>` and `# ...` annotations dropped).
 */
export function objdumpListing(bytes, vma) {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-dispatcher-objdump-'));
  try {
    const file = join(dir, 'image.bin');
    writeFileSync(file, bytes);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-mi386:x86-64', '-M', 'intel', `--adjust-vma=0x${BigInt.asUintN(64, BigInt(vma)).toString(16)}`, file], {
      encoding: 'utf8',
    });
    let text = '';
    for (const line of out.split('\n')) {
      const match = /^\s*([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(\S+)\s*(.*?)\s*$/.exec(line);
      if (match === null) continue;
      const operands = match[3].replace(/\s*[#<].*$/, '');
      text += `${match[1]}: ${match[2]}${operands ? ` ${operands}` : ''}\n`;
    }
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
