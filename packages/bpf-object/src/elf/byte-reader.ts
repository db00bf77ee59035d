/**
 * A bounds-checked little-endian reader over a byte range of the object file. Every read
 * checks its range first, so no offset taken from the file can read outside it; 64-bit
 * fields are returned as numbers and refused above 2^53.
 */
import { malformed } from '../parse-error.js';

/**
 * Reads little-endian integers from `bytes`, whose first byte is at `fileOffset` in the
 * file (errors report file offsets). Each read throws `MALFORMED` (with the file offset)
 * instead of reading past the end.
 */
export class ByteReader {
  readonly length: number;
  private readonly view: DataView;

  /**
   * @param bytes the range to read
   * @param fileOffset file offset of `bytes[0]`, for error messages
   * @param what what the range is (`file`, `section .BTF`, ...), for error messages
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly fileOffset = 0,
    readonly what = 'file',
  ) {
    this.length = bytes.length;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** True if `size` bytes at `at` are inside the range (no exception). */
  has(at: number, size: number): boolean {
    return Number.isSafeInteger(at) && Number.isSafeInteger(size) && at >= 0 && size >= 0 && at + size <= this.length;
  }

  /** Throw `MALFORMED` unless `size` bytes at `at` are inside the range. */
  need(at: number, size: number, field: string): void {
    if (!this.has(at, size)) {
      throw malformed(`${this.what}: ${field} (${size} bytes at ${at}) runs past the end (${this.length} bytes)`, {
        offset: this.fileOffset + (Number.isSafeInteger(at) && at >= 0 ? at : 0),
      });
    }
  }

  u8(at: number, field = 'byte'): number {
    this.need(at, 1, field);
    return this.view.getUint8(at);
  }

  u16(at: number, field = 'u16'): number {
    this.need(at, 2, field);
    return this.view.getUint16(at, true);
  }

  u32(at: number, field = 'u32'): number {
    this.need(at, 4, field);
    return this.view.getUint32(at, true);
  }

  i32(at: number, field = 'i32'): number {
    this.need(at, 4, field);
    return this.view.getInt32(at, true);
  }

  /** A 64-bit unsigned field as a number. @throws MALFORMED if it exceeds 2^53 - 1. */
  u64(at: number, field = 'u64'): number {
    this.need(at, 8, field);
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    if (hi > 0x1f_ffff) {
      throw malformed(`${this.what}: ${field} = 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is beyond 2^53`, {
        offset: this.fileOffset + at,
      });
    }
    return hi * 0x1_0000_0000 + lo;
  }

  /** The bytes `[at, at + size)` (a view, not a copy). */
  slice(at: number, size: number, field = 'range'): Uint8Array {
    this.need(at, size, field);
    return this.bytes.subarray(at, at + size);
  }

  /** A reader over `[at, at + size)`, reporting file offsets and `what`. */
  sub(at: number, size: number, what: string): ByteReader {
    return new ByteReader(this.slice(at, size, what), this.fileOffset + at, what);
  }
}
