/**
 * The few libc entry points the native arena needs, bound lazily through koffi (so that
 * merely importing the package never loads a native module).
 */
import { createRequire } from 'node:module';
import { TextPokeError } from '../errors.js';

const require = createRequire(import.meta.url);

/** mmap protection and flag bits (Linux x86-64). */
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_32BIT = 0x40;
export const MAP_ANONYMOUS = 0x20;
export const MAP_FIXED = 0x10;
export const MAP_NORESERVE = 0x4000;
export const MFD_CLOEXEC = 1;
/** membarrier(2) commands. */
export const MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3;
export const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4;
export const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 5;
export const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 6;
const SYS_membarrier = 324;

/** The bound functions. Pointers are bigints (koffi 3). */
export interface Libc {
  readonly koffi: KoffiModule;
  mmap(addr: bigint | null, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): number;
  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, length: number): number;
  close(fd: number): number;
  membarrier(cmd: number): number;
  errno(): number;
}

/** The subset of koffi's API used here. */
export interface KoffiModule {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  proto(signature: string): unknown;
  call(fn: unknown, type: unknown, ...args: unknown[]): unknown;
  view(ptr: unknown, length: number): ArrayBuffer;
  errno(): number;
}

let bound: Libc | undefined;

/** True where the native arena can run: x86-64 Linux. */
export function nativeSupported(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}

/**
 * Bind libc once per thread.
 * @throws TextPokeError UNSUPPORTED_PLATFORM off x86-64 Linux or when koffi cannot load.
 */
export function libc(): Libc {
  if (bound !== undefined) return bound;
  if (!nativeSupported()) {
    throw new TextPokeError('UNSUPPORTED_PLATFORM', `the native arena needs x86-64 Linux; this is ${process.platform}/${process.arch} (use SimulatedArena)`);
  }
  let koffi: KoffiModule;
  try {
    koffi = require('koffi') as KoffiModule;
  } catch (error) {
    throw new TextPokeError('UNSUPPORTED_PLATFORM', 'the native arena needs koffi, which failed to load', { cause: error });
  }
  const lib = koffi.load('libc.so.6');
  const mmap = lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
  const munmap = lib.func('int munmap(void *addr, size_t len)');
  const memfdCreate = lib.func('int memfd_create(const char *name, unsigned int flags)');
  const ftruncate = lib.func('int ftruncate(int fd, int64_t len)');
  const close = lib.func('int close(int fd)');
  const syscall = lib.func('long syscall(long number, ...)');
  bound = {
    koffi,
    mmap: (addr, length, prot, flags, fd, offset) => BigInt.asUintN(64, BigInt(mmap(addr, length, prot, flags, fd, offset) as bigint | number)),
    munmap: (addr, length) => munmap(addr, length) as number,
    memfdCreate: (name, flags) => memfdCreate(name, flags) as number,
    ftruncate: (fd, length) => ftruncate(fd, length) as number,
    close: (fd) => close(fd) as number,
    membarrier: (cmd) => Number(syscall(SYS_membarrier, 'int', cmd, 'uint', 0, 'int', 0)),
    errno: () => koffi.errno(),
  };
  return bound;
}

/** MAP_FAILED as an unsigned address. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** How the arena makes other cores drop stale instructions after a poke. */
export type Serialization = 'sync-core' | 'expedited';

let serialization: Serialization | undefined;

/**
 * Register this process for membarrier once: SYNC_CORE where the kernel has it (a
 * core-serialising barrier on every CPU running the process), else plain EXPEDITED.
 * @throws TextPokeError NATIVE_FAILURE if neither is available.
 */
export function registerMembarrier(c: Libc): Serialization {
  if (serialization !== undefined) return serialization;
  if (c.membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) === 0) serialization = 'sync-core';
  else if (c.membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) === 0) serialization = 'expedited';
  else throw new TextPokeError('NATIVE_FAILURE', `membarrier registration failed (errno ${c.errno()})`);
  return serialization;
}

/** Issue the registered barrier. @throws TextPokeError NATIVE_FAILURE if it fails. */
export function membarrierSync(c: Libc, mode: Serialization): void {
  const cmd = mode === 'sync-core' ? MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE : MEMBARRIER_CMD_PRIVATE_EXPEDITED;
  if (c.membarrier(cmd) !== 0) throw new TextPokeError('NATIVE_FAILURE', `membarrier(${cmd}) failed (errno ${c.errno()})`);
}
