// The reference listings of the dispatcher image, as test fixtures.
import { readFileSync } from 'node:fs';
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
