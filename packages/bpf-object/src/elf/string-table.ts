/**
 * NUL-terminated string tables: ELF `.strtab`/`.shstrtab` and the BTF string section.
 */
import { malformed } from '../parse-error.js';

/**
 * Longest name accepted, in bytes (the kernel's `KSYM_NAME_LEN`, which also bounds BTF
 * names). The bound keeps a hostile table (one huge unterminated string referenced by
 * millions of symbols) from costing quadratic time.
 */
export const MAX_NAME_LENGTH = 512;

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Strings by offset in a table of NUL-terminated strings, decoded once each.
 * Mirrors libelf's `elf_strptr` and libbpf's `btf__str_by_offset`, with the checks they
 * leave to the caller.
 */
export class StringTable {
  private readonly cache = new Map<number, string>();

  /**
   * @param bytes the table
   * @param fileOffset file offset of `bytes[0]`, for error messages
   * @param what the table's name, for error messages
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly fileOffset: number,
    readonly what: string,
  ) {}

  /**
   * The string at `offset`.
   * @throws MALFORMED if the offset is outside the table or the string is not NUL-terminated
   *   within it (or within {@link MAX_NAME_LENGTH} bytes).
   */
  get(offset: number): string {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.bytes.length) {
      throw malformed(`${this.what}: string offset ${offset} is outside the table (${this.bytes.length} bytes)`, {
        offset: this.fileOffset,
      });
    }
    const limit = Math.min(this.bytes.length, offset + MAX_NAME_LENGTH + 1);
    const end = this.bytes.subarray(0, limit).indexOf(0, offset);
    if (end < 0) {
      throw malformed(
        limit === this.bytes.length
          ? `${this.what}: the string at offset ${offset} is not NUL-terminated`
          : `${this.what}: the string at offset ${offset} is longer than ${MAX_NAME_LENGTH} bytes`,
        { offset: this.fileOffset + offset },
      );
    }
    const s = decoder.decode(this.bytes.subarray(offset, end));
    this.cache.set(offset, s);
    return s;
  }
}
