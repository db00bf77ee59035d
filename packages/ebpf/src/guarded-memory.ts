/**
 * Guarded memory: a buffer whose neighbours are `PROT_NONE` guard pages, so that a
 * program which strays outside it faults instead of silently reading or corrupting the
 * process. The user-space counterpart of the kernel's guard pages around vmalloc areas
 * (and of KASAN's redzones): a verified eBPF program must never touch memory outside its
 * regions, and this turns a verifier or JIT hole into a SIGSEGV that can be noticed.
 *
 * Layout of one mapping (pages of `sysconf(_SC_PAGESIZE)` bytes):
 *
 * ```
 * | guard (PROT_NONE) | data pages (PROT_READ|PROT_WRITE) ... | guard (PROT_NONE) |
 *                     ^ placement 'start': address           ^ placement 'end': address + size
 * ```
 *
 * With placement `'end'` (the default) the buffer's last byte is the last byte before the
 * upper guard page: reading `address + size` faults. With `'start'` its first byte is the
 * first after the lower guard page: reading `address - 1` faults. Both ends are flush
 * only when `size` is a whole number of pages; otherwise the other end has up to a page
 * minus one byte of readable slack (zeroed, but memory nobody else uses).
 *
 * The mapping is made with `MAP_32BIT` (below 2 GiB, like the native arena's data) when
 * the kernel has room, else anywhere. JIT'd code does not need rel32 reach for it: the
 * data address is passed in r1 (rdi) and accessed through registers.
 *
 * What is not guarded this way: the program's stack. A JIT'd program's r10 frame is the
 * native stack (`push rbp; mov rbp, rsp; sub rsp, depth`, as in the kernel's x86 JIT);
 * the verifier bounds every stack access to the frame's depth, at most 512 bytes
 * (MAX_BPF_STACK) per frame, at most 8 frames (MAX_CALL_FRAMES), so a program never
 * reaches beyond 4 KiB of native stack plus saved registers. A stray stack access would
 * corrupt the caller's frame rather than fault; that rests on the verifier's bounds.
 * Map values (next issue) are meant to live in guarded memory too.
 */
import { createRequire } from 'node:module';
import { EbpfError } from './errors.js';

const require = createRequire(import.meta.url);

const PROT_NONE = 0;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_32BIT = 0x40;
const MAP_NORESERVE = 0x4000;
const SC_PAGESIZE = 30;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
/** Largest guarded buffer: 1 GiB. */
const MAX_SIZE = 1 << 30;

/** The few koffi entry points used (koffi 3: pointers are bigints). */
interface KoffiModule {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  view(pointer: unknown, length: number): ArrayBuffer;
  errno(): number;
}

interface GuardLibc {
  mmap(addr: bigint | null, length: number, prot: number, flags: number): bigint;
  mprotect(addr: bigint, length: number, prot: number): number;
  munmap(addr: bigint, length: number): number;
  view(addr: bigint, length: number): ArrayBuffer;
  errno(): number;
  pageSize: number;
}

let bound: GuardLibc | undefined;
let failure: EbpfError | undefined;

/** True where guarded memory can be mapped: x86-64 Linux. */
export function guardedMemorySupported(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}

/** Bind mmap/mprotect/munmap through koffi once per thread. */
function guardLibc(): GuardLibc {
  if (bound !== undefined) return bound;
  if (failure !== undefined) throw failure;
  if (!guardedMemorySupported()) {
    failure = new EbpfError('UNSUPPORTED', `guarded memory needs x86-64 Linux; this is ${process.platform}/${process.arch}`);
    throw failure;
  }
  try {
    const koffi = require('koffi') as KoffiModule;
    const lib = koffi.load('libc.so.6');
    const mmap = lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
    const mprotect = lib.func('int mprotect(void *addr, size_t len, int prot)');
    const munmap = lib.func('int munmap(void *addr, size_t len)');
    const sysconf = lib.func('long sysconf(int name)');
    const pageSize = Number(sysconf(SC_PAGESIZE));
    bound = {
      mmap: (addr, length, prot, flags) =>
        BigInt.asUintN(64, BigInt((mmap(addr, length, prot, flags, -1, 0) as bigint | number | null) ?? -1)),
      mprotect: (addr, length, prot) => Number(mprotect(addr, length, prot)),
      munmap: (addr, length) => Number(munmap(addr, length)),
      view: (addr, length) => koffi.view(addr, length),
      errno: () => koffi.errno(),
      pageSize: pageSize > 0 ? pageSize : 4096,
    };
    return bound;
  } catch (error) {
    failure = new EbpfError('UNSUPPORTED', 'guarded memory needs koffi and libc.so.6, which failed to load', { cause: error });
    throw failure;
  }
}

/** Which end of the buffer lies flush against a guard page. */
export type GuardedPlacement = 'end' | 'start';

/** Options of {@link GuardedMemory.create}. */
export interface GuardedMemoryOptions {
  /** `'end'` (default): the byte after the buffer is in the upper guard page; `'start'`: the byte before it is in the lower one. */
  readonly placement?: GuardedPlacement;
}

/**
 * A buffer between two `PROT_NONE` guard pages (see the module comment). JS reaches it
 * only through the checked {@link read}/{@link write}/{@link fill} (copies, bounds
 * checked, refused after {@link free}), so no JS view can outlive the mapping.
 */
export class GuardedMemory {
  /** Address of the buffer's first byte. */
  readonly address: bigint;
  /** Size of the buffer in bytes (may be 0: then every access faults at placement `'end'`). */
  readonly size: number;
  /** Which end is flush against a guard page. */
  readonly placement: GuardedPlacement;
  /** The whole mapping, guard pages included: `[mappingStart, mappingStart + mappingLength)`. */
  readonly mappingStart: bigint;
  /** Bytes of the whole mapping: the data pages plus one guard page on each side. */
  readonly mappingLength: number;
  /** The page size the guards are made of. */
  readonly pageSize: number;
  #bytes: Uint8Array | undefined;
  #libc: GuardLibc;

  private constructor(libc: GuardLibc, size: number, placement: GuardedPlacement) {
    const page = libc.pageSize;
    const dataPages = Math.max(1, Math.ceil(size / page));
    const length = (dataPages + 2) * page;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    let start = libc.mmap(null, length, PROT_NONE, flags | MAP_32BIT);
    if (start === MAP_FAILED || start === 0n) start = libc.mmap(null, length, PROT_NONE, flags);
    if (start === MAP_FAILED || start === 0n)
      throw new EbpfError('EINVAL', `guarded memory: mmap of ${length} bytes failed (errno ${libc.errno()})`);
    const dataStart = start + BigInt(page);
    const dataLength = dataPages * page;
    if (libc.mprotect(dataStart, dataLength, PROT_READ | PROT_WRITE) !== 0) {
      const errno = libc.errno();
      libc.munmap(start, length);
      throw new EbpfError('EINVAL', `guarded memory: mprotect failed (errno ${errno})`);
    }
    const offset = placement === 'end' ? dataLength - size : 0;
    this.#libc = libc;
    this.#bytes = new Uint8Array(libc.view(dataStart, dataLength), offset, size);
    this.address = dataStart + BigInt(offset);
    this.size = size;
    this.placement = placement;
    this.mappingStart = start;
    this.mappingLength = length;
    this.pageSize = page;
  }

  /**
   * Map a zeroed buffer of `size` bytes between guard pages.
   * @throws EbpfError EINVAL for a size that is not an integer in 0..1 GiB or a bad
   *   placement, or when mmap/mprotect fail; UNSUPPORTED off x86-64 Linux or without koffi.
   */
  static create(size: number, options: GuardedMemoryOptions = {}): GuardedMemory {
    if (!Number.isInteger(size) || size < 0 || size > MAX_SIZE)
      throw new EbpfError('EINVAL', `guarded memory: size ${String(size)} is not an integer in 0..${MAX_SIZE}`);
    if (typeof options !== 'object' || options === null) throw new EbpfError('EINVAL', 'guarded memory: options must be an object');
    const placement = options.placement ?? 'end';
    if (placement !== 'end' && placement !== 'start')
      throw new EbpfError('EINVAL', `guarded memory: placement must be 'end' or 'start', got ${String(placement)}`);
    return new GuardedMemory(guardLibc(), size, placement);
  }

  /** True once {@link free} ran. */
  get freed(): boolean {
    return this.#bytes === undefined;
  }

  #live(what: string): Uint8Array {
    if (this.#bytes === undefined) throw new EbpfError('EINVAL', `guarded memory: ${what} after free`);
    return this.#bytes;
  }

  #range(what: string, offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.size)
      throw new EbpfError(
        'EINVAL',
        `guarded memory: ${what} [${String(offset)}, +${String(length)}) is outside the ${this.size}-byte buffer`,
      );
  }

  /**
   * Copy `bytes` in at `offset`.
   * @throws EbpfError EINVAL out of bounds, for a non-Uint8Array or after free.
   */
  write(bytes: Uint8Array, offset = 0): void {
    const view = this.#live('write');
    if (!(bytes instanceof Uint8Array)) throw new EbpfError('EINVAL', 'guarded memory: write expects a Uint8Array');
    this.#range('write', offset, bytes.length);
    view.set(bytes, offset);
  }

  /**
   * A copy of `length` bytes from `offset` (default: the whole buffer).
   * @throws EbpfError EINVAL out of bounds or after free.
   */
  read(offset = 0, length: number = this.size - offset): Uint8Array {
    const view = this.#live('read');
    this.#range('read', offset, length);
    return view.slice(offset, offset + length);
  }

  /**
   * Set every byte of the buffer to `value` (0..255).
   * @throws EbpfError EINVAL for a bad value or after free.
   */
  fill(value: number): void {
    const view = this.#live('fill');
    if (!Number.isInteger(value) || value < 0 || value > 255) throw new EbpfError('EINVAL', 'guarded memory: fill value must be a byte');
    view.fill(value);
  }

  /** Unmap the buffer and its guards (idempotent). Code must no longer use its address. */
  free(): void {
    if (this.#bytes === undefined) return;
    this.#bytes = undefined;
    this.#libc.munmap(this.mappingStart, this.mappingLength);
  }
}
