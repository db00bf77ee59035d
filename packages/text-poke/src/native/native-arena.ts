import type { Address } from '@bpf-dispatcher/x86';
import { BaseArena } from '../base-arena.js';
import { PokeMismatchError, TextPokeError } from '../errors.js';
import type { Word } from '../types.js';
import {
  type Libc,
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  type Serialization,
  libc,
  membarrierSync,
  registerMembarrier,
} from './libc.js';
import { callNative } from './native-call.js';
import { ViewPages } from './view-pages.js';

/** Options of {@link NativeArena}. */
export interface NativeArenaOptions {
  /** Bytes of text (default 4 MiB; rounded up to pages). */
  readonly textSize?: number;
  /** Bytes of data (default 16 MiB; rounded up to pages). */
  readonly dataSize?: number;
  /**
   * `'dual-map'` (default, W^X): text is a memfd mapped twice, executable at the address
   * code sees and writable elsewhere. `'rwx'`: one read-write-execute mapping, for systems
   * that forbid the double mapping.
   */
  readonly mapping?: 'dual-map' | 'rwx';
}

const PAGE = 4096;
const LIMIT_2G = 1n << 31n;

const roundPages = (n: number) => Math.ceil(n / PAGE) * PAGE;

/**
 * A {@link TextArena} of real executable memory on x86-64 Linux, mapped below 2 GiB
 * (MAP_32BIT) so every address fits a sign-extended imm32 and every text/data pair is
 * within rel32 reach.
 *
 * Pokes are one aligned 8-byte compare-and-swap on the writable alias of the site's word
 * (sites must satisfy `(ip & 7) <= 3`), followed by
 * `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)` so that no core keeps executing
 * the stale instruction: the user-space form of the kernel's `text_poke_bp()`.
 */
export class NativeArena extends BaseArena {
  readonly kind = 'native' as const;
  readonly mapping: 'dual-map' | 'rwx';
  /** The barrier used after each poke. */
  readonly serialization: Serialization;
  private readonly c: Libc;
  private readonly maps: { address: bigint; size: number }[] = [];
  private fd = -1;
  private textWords: BigInt64Array;
  private dataBase = 0n;
  private viewPages: ViewPages | undefined;
  private readonly scratch = new DataView(new ArrayBuffer(8));

  /**
   * @throws TextPokeError UNSUPPORTED_PLATFORM off x86-64 Linux; ENOMEM / NATIVE_FAILURE if
   *   the kernel refuses the mappings (nothing stays mapped); EINVAL for bad sizes.
   */
  constructor(options: NativeArenaOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new TextPokeError('EINVAL', 'NativeArena: options must be an object');
    this.c = libc();
    for (const name of ['textSize', 'dataSize'] as const) {
      const size: unknown = options[name];
      if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0 || size > 1 << 30)) {
        throw new TextPokeError('EINVAL', `NativeArena: ${name} must be an integer from 1 byte to 1 GiB, got ${String(size)}`);
      }
    }
    const textSize = roundPages(options.textSize ?? 4 << 20);
    const dataSize = roundPages(options.dataSize ?? 16 << 20);
    this.mapping = options.mapping ?? 'dual-map';
    if (this.mapping !== 'dual-map' && this.mapping !== 'rwx') throw new TextPokeError('EINVAL', `NativeArena: unknown mapping ${String(this.mapping)}`);
    this.serialization = registerMembarrier(this.c);
    try {
      let textExec: bigint;
      let textWrite: bigint;
      if (this.mapping === 'dual-map') {
        this.fd = this.c.memfdCreate('bpf-dispatcher-text', MFD_CLOEXEC);
        if (this.fd < 0) throw new TextPokeError('NATIVE_FAILURE', `memfd_create failed (errno ${this.c.errno()})`);
        if (this.c.ftruncate(this.fd, textSize) !== 0) throw new TextPokeError('NATIVE_FAILURE', `ftruncate failed (errno ${this.c.errno()})`);
        textExec = this.map(textSize, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_32BIT, this.fd);
        textWrite = this.map(textSize, PROT_READ | PROT_WRITE, MAP_SHARED, this.fd);
      } else {
        textExec = this.map(textSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1);
        textWrite = textExec;
      }
      const data = this.map(dataSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1);
      this.dataBase = data;
      for (const [start, size] of [[textExec, textSize], [data, dataSize]] as const) {
        if (start + BigInt(size) > LIMIT_2G) throw new TextPokeError('ENOMEM', `NativeArena: the kernel placed a mapping at 0x${start.toString(16)}, above 2 GiB`);
      }
      const text = new Uint8Array(this.c.koffi.view(textWrite, textSize));
      this.textWords = new BigInt64Array(text.buffer, text.byteOffset, textSize / 8);
      this.init({ textBase: textExec, text, dataBase: data, data: new Uint8Array(this.c.koffi.view(data, dataSize)) });
      const c = this.c;
      this.viewPages = new ViewPages(data, dataSize, {
        inert: (address, length) => {
          c.mmap(address, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        },
        unmap: (address, length) => {
          c.munmap(address, length);
        },
      });
    } catch (error) {
      this.unmapAll();
      throw error;
    }
  }

  private map(size: number, prot: number, flags: number, fd: number): bigint {
    const address = this.c.mmap(null, size, prot, flags, fd, 0);
    if (address === MAP_FAILED || address === 0n) {
      throw new TextPokeError('ENOMEM', `mmap of ${size} bytes failed (errno ${this.c.errno()})`);
    }
    this.maps.push({ address, size });
    return address;
  }

  private unmapAll(): void {
    for (const { address, size } of this.maps.splice(0)) this.c.munmap(address, size);
    if (this.fd >= 0) this.c.close(this.fd);
    this.fd = -1;
  }

  protected storePoke(offset: number, current: Uint8Array, insn: Uint8Array, ip: bigint): void {
    const wordIndex = offset >> 3;
    const within = offset & 7;
    const before = Atomics.load(this.textWords, wordIndex);
    this.scratch.setBigInt64(0, before, true);
    for (let i = 0; i < insn.length; i++) {
      if (this.scratch.getUint8(within + i) !== current[i]) {
        const found = new Uint8Array(this.scratch.buffer, within, insn.length).slice();
        throw new PokeMismatchError(ip, current, found);
      }
      this.scratch.setUint8(within + i, insn[i] as number);
    }
    const after = this.scratch.getBigInt64(0, true);
    if (Atomics.compareExchange(this.textWords, wordIndex, before, after) !== before) {
      throw new PokeMismatchError(ip, current, this.read(ip, insn.length));
    }
    membarrierSync(this.c, this.serialization);
  }

  /**
   * Each region's raw view gets an external buffer of its own (so `view.buffer` spans only
   * that region), tracked so that dispose() keeps its pages mapped, inert, while it lives.
   */
  protected override viewOf(offset: number, size: number): Uint8Array {
    const buffer = this.c.koffi.view(this.dataBase + BigInt(offset), size);
    this.viewPages?.track(buffer, offset, size);
    return new Uint8Array(buffer);
  }

  /** Data pages still mapped (inert) after dispose() because a raw view over them may be alive. */
  get pinnedDataPages(): number {
    return this.viewPages?.pinnedPages ?? 0;
  }

  protected release(): void {
    this.textWords = new BigInt64Array(0);
    const data = this.maps.findIndex((m) => m.address === this.dataBase);
    if (data >= 0 && this.viewPages !== undefined) {
      this.maps.splice(data, 1);
      this.viewPages.retire();
    }
    this.unmapAll();
  }

  /**
   * Call code at `entry` (which must lie in written text of this arena) through koffi.
   * @throws TextPokeError EFAULT if `entry` is not inside written text; EINVAL for more
   *   than six arguments or one that is not a Word.
   */
  call(entry: Address, ...args: Word[]): bigint {
    const checked = this.prepareCall(entry, args);
    return callNative(checked.entry, ...checked.args);
  }
}
