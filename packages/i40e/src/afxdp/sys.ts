/**
 * The libc entry points AF_XDP needs (socket, setsockopt/getsockopt, bind, mmap, poll,
 * sendto/recvfrom, close), bound through koffi on first use, so that importing the
 * package never loads a native module. Pointer arguments are bound as `uint64_t` and
 * passed as addresses of native scratch memory (the x86-64 ABI passes both in the same
 * registers); koffi 3 hands addresses out as bigints.
 */
import { createRequire } from 'node:module';
import { I40eError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The subset of koffi 3's API used here. */
interface KoffiModule {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  alloc(type: string, length: number): unknown;
  address(pointer: unknown): bigint;
  free(pointer: unknown): void;
  view(pointer: unknown, length: number): ArrayBuffer;
  errno(): number;
  readonly os: { readonly errno: Readonly<Record<string, number>> };
}

/** Native memory that does not move. */
export interface NativeBytes {
  /** The address of the first byte. */
  readonly address: bigint;
  /** The bytes (zeroed at allocation), aliasing the native memory until freed. */
  readonly bytes: Uint8Array;
  /** A little-endian view of the same bytes. */
  readonly view: DataView;
}

/** A native call's result: the return value (≥ 0) or `-errno`. */
export type SysResult = number;

/** The bound functions; each returns its result or `-errno` (mmap: the address, or `-errno` as a negative bigint). */
export interface Sys {
  socket(domain: number, type: number, protocol: number): SysResult;
  setsockopt(fd: number, level: number, name: number, value: bigint, length: number): SysResult;
  /** `length` is the address of a `socklen_t` in and out. */
  getsockopt(fd: number, level: number, name: number, value: bigint, length: bigint): SysResult;
  bind(fd: number, address: bigint, length: number): SysResult;
  close(fd: number): SysResult;
  mmap(address: bigint, length: number, prot: number, flags: number, fd: number, offset: bigint): bigint;
  munmap(address: bigint, length: number): SysResult;
  sendto(fd: number, buffer: bigint, length: number, flags: number, address: bigint, addressLength: number): SysResult;
  recvfrom(fd: number, buffer: bigint, length: number, flags: number, address: bigint, addressLength: bigint): SysResult;
  sendmmsg(fd: number, vector: bigint, count: number, flags: number): SysResult;
  poll(fds: bigint, count: number, timeoutMs: number): SysResult;
  setns(fd: number, nstype: number): SysResult;
  /** `syscall(number, a, b, c)` with three 64-bit arguments (e.g. `bpf(cmd, attr, size)`). */
  syscall3(number: number, a: bigint, b: bigint, c: bigint): SysResult;
  /** Zeroed native memory; release with {@link Sys.free}. */
  alloc(size: number): NativeBytes;
  free(bytes: NativeBytes): void;
  /** A view of native memory at `address` (e.g. an mmap'd ring); valid while the memory is mapped. */
  view(address: bigint, length: number): ArrayBuffer;
  /** The symbolic name of an errno value (`EBUSY`, …; 95 is `EOPNOTSUPP`). */
  errnoName(errno: number): string;
}

let bound: Sys | undefined;
let failure: I40eError | undefined;

/** True where AF_XDP can be bound: x86-64 Linux. */
export function sysSupported(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}

/**
 * Bind libc once per thread.
 * @throws I40eError UNSUPPORTED off x86-64 Linux, or when koffi or libc cannot be loaded.
 */
export function sys(): Sys {
  if (bound !== undefined) return bound;
  if (failure !== undefined) throw failure;
  if (!sysSupported()) {
    failure = new I40eError('UNSUPPORTED', `AF_XDP needs x86-64 Linux; this is ${process.platform}/${process.arch}`);
    throw failure;
  }
  let koffi: KoffiModule;
  let f: Record<string, (...args: unknown[]) => unknown>;
  try {
    koffi = require('koffi') as KoffiModule;
    const lib = koffi.load('libc.so.6');
    f = {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, uint64_t value, uint32_t length)'),
      getsockopt: lib.func('int getsockopt(int fd, int level, int name, uint64_t value, uint64_t length)'),
      bind: lib.func('int bind(int fd, uint64_t address, uint32_t length)'),
      close: lib.func('int close(int fd)'),
      mmap: lib.func('int64_t mmap(uint64_t address, size_t length, int prot, int flags, int fd, int64_t offset)'),
      munmap: lib.func('int munmap(uint64_t address, size_t length)'),
      sendto: lib.func('intptr_t sendto(int fd, uint64_t buffer, size_t length, int flags, uint64_t address, uint32_t addressLength)'),
      recvfrom: lib.func('intptr_t recvfrom(int fd, uint64_t buffer, size_t length, int flags, uint64_t address, uint64_t addressLength)'),
      sendmmsg: lib.func('int sendmmsg(int fd, uint64_t vector, unsigned int count, int flags)'),
      poll: lib.func('int poll(uint64_t fds, uint64_t count, int timeout)'),
      setns: lib.func('int setns(int fd, int nstype)'),
      syscall: lib.func('long syscall(long number, ...)'),
    };
  } catch (error) {
    failure = new I40eError('UNSUPPORTED', 'AF_XDP needs koffi and libc.so.6, which failed to load', { cause: error });
    throw failure;
  }
  const k = koffi;
  const names = new Map<number, string>([[95, 'EOPNOTSUPP']]);
  for (const [name, value] of Object.entries(k.os.errno)) if (!names.has(value)) names.set(value, name);
  const int = (ret: unknown): SysResult => {
    const n = Number(ret);
    return n < 0 ? -k.errno() : n;
  };
  const call = (name: string, ...args: unknown[]): SysResult => int((f[name] as (...a: unknown[]) => unknown)(...args));
  const pointers = new WeakMap<NativeBytes, unknown>();
  bound = {
    socket: (domain, type, protocol) => call('socket', domain, type, protocol),
    setsockopt: (fd, level, name, value, length) => call('setsockopt', fd, level, name, value, length),
    getsockopt: (fd, level, name, value, length) => call('getsockopt', fd, level, name, value, length),
    bind: (fd, address, length) => call('bind', fd, address, length),
    close: (fd) => call('close', fd),
    mmap(address, length, prot, flags, fd, offset) {
      // int64_t: MAP_FAILED is -1 exactly (user addresses are below 2^47, safe as numbers)
      const ret = BigInt((f.mmap as (...a: unknown[]) => unknown)(address, length, prot, flags, fd, offset) as bigint | number);
      return ret < 0n ? -BigInt(k.errno()) : ret;
    },
    munmap: (address, length) => call('munmap', address, length),
    sendto: (fd, buffer, length, flags, address, addressLength) => call('sendto', fd, buffer, length, flags, address, addressLength),
    recvfrom: (fd, buffer, length, flags, address, addressLength) => call('recvfrom', fd, buffer, length, flags, address, addressLength),
    sendmmsg: (fd, vector, count, flags) => call('sendmmsg', fd, vector, count, flags),
    poll: (fds, count, timeoutMs) => call('poll', fds, BigInt(count), timeoutMs),
    setns: (fd, nstype) => call('setns', fd, nstype),
    syscall3: (number, a, b, c) => call('syscall', number, 'uint64_t', a, 'uint64_t', b, 'uint64_t', c),
    alloc(size) {
      const length = Math.max(size, 1);
      const pointer = k.alloc('uint8_t', length);
      const buffer = k.view(pointer, length);
      const bytes = new Uint8Array(buffer, 0, size);
      bytes.fill(0);
      const out = { address: k.address(pointer), bytes, view: new DataView(buffer, 0, size) };
      pointers.set(out, pointer);
      return out;
    },
    free(bytes) {
      const pointer = pointers.get(bytes);
      if (pointer === undefined) return;
      pointers.delete(bytes);
      k.free(pointer);
    },
    view: (address, length) => k.view(address, length),
    errnoName: (errno) => names.get(errno) ?? `errno ${errno}`,
  };
  return bound;
}

/**
 * Native scratch allocations released together by `free()` (call it in a `finally`).
 */
export class Scratch {
  private readonly held: NativeBytes[] = [];
  constructor(readonly s: Sys) {}

  /** Zeroed native bytes. */
  alloc(size: number): NativeBytes {
    const bytes = this.s.alloc(size);
    this.held.push(bytes);
    return bytes;
  }

  /** Release every allocation. */
  free(): void {
    for (const bytes of this.held.splice(0)) this.s.free(bytes);
  }
}
