import { LISTING_1_ENTRY, LISTING_16_ENTRIES, hasObjdump as hasObjdumpOnPath, objdumpListing } from '@bpf-dispatcher/reference';
import { describe, expect, it } from 'vitest';
import { listing } from './disasm/index.js';
import { assembleListing, parseListing } from './test-support/listing-assembler.js';

const objdump = objdumpListing;
const hasObjdump = hasObjdumpOnPath();

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
