/**
 * The native side of the kernel oracle: libc's `syscall(2)` bound through koffi, plus
 * native scratch memory for the `union bpf_attr` and the buffers it points to.
 *
 * koffi is loaded lazily, on the first use of the kernel oracle, so importing the package
 * never loads a native module. The binding is cached per module instance, which means
 * per thread: a worker thread binds its own copy (koffi sets up its per-thread call state
 * when a library is loaded on that thread).
 */
import { createRequire } from 'node:module';
import { EbpfError } from '../errors.js';
import { KernelError } from './kernel-error.js';

const require = createRequire(import.meta.url);

/** `__NR_bpf` on x86-64. */
export const SYS_BPF = 321;

/** The subset of koffi's API used here (koffi 3: pointers are bigints). */
interface KoffiModule {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  alloc(type: string, length: number): bigint;
  free(pointer: bigint): void;
  view(pointer: bigint, length: number): ArrayBuffer;
  errno(): number;
  readonly os: { readonly errno: Readonly<Record<string, number>> };
}

/** Native memory that does not move: its `address` can be written into a `bpf_attr`. */
export interface NativeBuffer {
  /** The address of the first byte. */
  readonly address: bigint;
  /** The bytes, aliasing the native memory (valid until freed). */
  readonly bytes: Uint8Array;
  /** A little-endian view of the same bytes. */
  readonly view: DataView;
}

/** The bound syscall and memory functions. */
export interface BpfNative {
  /** `syscall(SYS_bpf, cmd, attr, size)`: the result (≥ 0) or `-errno`. */
  bpf(cmd: number, attr: NativeBuffer): number;
  /** `close(2)`: 0 or `-errno`. */
  close(fd: number): number;
  /** Allocate `size` zeroed bytes of native memory; release with {@link Scratch.free}. */
  alloc(size: number): NativeBuffer & { readonly pointer: bigint };
  free(pointer: bigint): void;
  /** The symbolic name of an errno value. */
  errnoName(errno: number): string;
}

let bound: BpfNative | undefined;
let failure: EbpfError | undefined;

/** True on the one platform the oracle binds: x86-64 Linux. */
export function bpfPlatformSupported(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}

/**
 * Bind libc's `syscall` once (per thread) through koffi.
 * @throws EbpfError UNSUPPORTED off x86-64 Linux, or when koffi or libc cannot be loaded.
 */
export function bpfNative(): BpfNative {
  if (bound !== undefined) return bound;
  if (failure !== undefined) throw failure;
  if (!bpfPlatformSupported()) {
    failure = new EbpfError('UNSUPPORTED', `the kernel oracle needs bpf(2) on x86-64 Linux; this is ${process.platform}/${process.arch}`);
    throw failure;
  }
  let koffi: KoffiModule;
  let syscall: (...args: unknown[]) => unknown;
  let closeFn: (...args: unknown[]) => unknown;
  try {
    koffi = require('koffi') as KoffiModule;
    const lib = koffi.load('libc.so.6');
    syscall = lib.func('long syscall(long number, ...)');
    closeFn = lib.func('int close(int fd)');
  } catch (error) {
    failure = new EbpfError('UNSUPPORTED', 'the kernel oracle needs koffi and libc.so.6, which failed to load', { cause: error });
    throw failure;
  }
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(koffi.os.errno)) if (!names.has(value)) names.set(value, name);
  bound = {
    bpf(cmd, attr) {
      const ret = Number(syscall(SYS_BPF, 'int', cmd, 'uint64_t', attr.address, 'uint', attr.bytes.length));
      return ret < 0 ? -koffi.errno() : ret;
    },
    close(fd) {
      const ret = Number(closeFn(fd));
      return ret < 0 ? -koffi.errno() : ret;
    },
    alloc(size) {
      const pointer = koffi.alloc('uint8_t', Math.max(size, 1));
      const buffer = koffi.view(pointer, Math.max(size, 1));
      const bytes = new Uint8Array(buffer, 0, size);
      bytes.fill(0);
      return { pointer, address: pointer, bytes, view: new DataView(buffer, 0, size) };
    },
    free(pointer) {
      koffi.free(pointer);
    },
    errnoName(errno) {
      return names.get(errno) ?? `errno ${errno}`;
    },
  };
  return bound;
}

/**
 * Native allocations for one `bpf()` request, all released together by `free()` (call it
 * in a `finally`).
 */
export class Scratch {
  private readonly pointers: bigint[] = [];
  constructor(readonly native: BpfNative) {}

  /** Zeroed native bytes of `size`. */
  alloc(size: number): NativeBuffer {
    const buffer = this.native.alloc(size);
    this.pointers.push(buffer.pointer);
    return buffer;
  }

  /** Native bytes holding a copy of `data`. */
  copy(data: Uint8Array): NativeBuffer {
    const buffer = this.alloc(data.length);
    buffer.bytes.set(data);
    return buffer;
  }

  /** Release every allocation. */
  free(): void {
    for (const pointer of this.pointers.splice(0)) this.native.free(pointer);
  }
}

/** Size of the zeroed `union bpf_attr` passed with every command (≥ the kernel's union; the tail stays zero). */
export const BPF_ATTR_SIZE = 256;

/**
 * Run one `bpf()` command with a zeroed attr that `fill` completes; return the result,
 * or throw a {@link KernelError} naming the command and errno.
 * `after` sees the attr after the call (success or failure) to read fields back.
 */
export function bpfCall(
  command: string,
  cmd: number,
  fill: (attr: DataView, scratch: Scratch) => void,
  options: { after?: (attr: DataView, ret: number) => void; detail?: (errnoName: string) => string; log?: () => string } = {},
): number {
  const native = bpfNative();
  const scratch = new Scratch(native);
  try {
    const attr = scratch.alloc(BPF_ATTR_SIZE);
    fill(attr.view, scratch);
    const ret = native.bpf(cmd, attr);
    options.after?.(attr.view, ret);
    if (ret < 0) {
      const name = native.errnoName(-ret);
      throw new KernelError(command, -ret, name, options.detail?.(name) ?? '', options.log?.() ?? '');
    }
    return ret;
  } finally {
    scratch.free();
  }
}
