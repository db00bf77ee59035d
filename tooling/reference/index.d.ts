export declare const LISTING_1_ENTRY_PATH: string;
export declare const LISTING_16_ENTRIES_PATH: string;
/** The one-entry reference listing (image 0xffffffffc0002000, program -1). */
export declare const LISTING_1_ENTRY: string;
/** The sixteen-entry reference listing (image 0xffffffffc0020000, programs -1 ... -16). */
export declare const LISTING_16_ENTRIES: string;
/** Addresses the reference listings use. */
export declare const REFERENCE: Readonly<{
  image1: bigint;
  image16: bigint;
  thunk: bigint;
  progs: (n: number) => bigint[];
}>;
/** Image sizes in bytes by number of entries. */
export declare const IMAGE_SIZES: Readonly<Record<number, number>>;
/** True when GNU objdump is on PATH. */
export declare function hasObjdump(): boolean;
/** `objdump -D -b binary -mi386:x86-64 -M intel --adjust-vma=vma` of bytes, as `address: text` lines. */
export declare function objdumpListing(bytes: Uint8Array, vma: bigint | number): string;
