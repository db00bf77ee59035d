import type { Address } from '@bpf-dispatcher/x86';
import { PokeMismatchError, TextPokeError } from './errors.js';
import { READER_TABLE_SIZE, ReaderTable } from './grace-period.js';
import { POKE_SIZE, pokeInstruction } from './poke-insn.js';
import { RegionAllocator } from './region-allocator.js';
import type { AllocOptions, PokeResult, PokeType, Reader, Region, SyncOptions, SyncResult, TextArena, Word } from './types.js';

const INT3 = 0xcc;

/** Where an address lives: which memory and at what offset. */
export interface Location {
  readonly space: 'text' | 'data';
  readonly offset: number;
}

/** The memory an arena manages, as the subclass mapped it. */
export interface ArenaMemory {
  /** Address of text as code sees it (the executable mapping). */
  readonly textBase: bigint;
  /** Writable bytes of text (for the native arena: the writable alias of the executable mapping). */
  readonly text: Uint8Array;
  readonly dataBase: bigint;
  readonly data: Uint8Array;
}

/** Normalise an address to an unsigned 64-bit bigint. @throws TextPokeError EINVAL for non-integers. */
export function toAddress(address: Address, what: string): bigint {
  if (typeof address === 'bigint') return BigInt.asUintN(64, address);
  if (typeof address === 'number' && Number.isSafeInteger(address)) return BigInt.asUintN(64, BigInt(address));
  throw new TextPokeError('EINVAL', `${what}: ${String(address)} is not an address`);
}

/**
 * The part of the {@link TextArena} contract both arenas share: allocation, bounds-checked
 * reads and writes, the checked poke protocol, reader registration and grace periods.
 * Subclasses map the memory, store poked bytes the way their platform needs, and run code.
 */
export abstract class BaseArena implements TextArena {
  abstract readonly kind: 'simulated' | 'native';
  private memory!: ArenaMemory;
  private textAlloc!: RegionAllocator;
  private dataAlloc!: RegionAllocator;
  private readers!: ReaderTable;
  private isDisposed = false;
  /** Number of pokes that changed bytes. */
  pokes = 0;

  /** Called by the subclass constructor once its memory is mapped. */
  protected init(memory: ArenaMemory): void {
    this.memory = memory;
    this.textAlloc = new RegionAllocator(memory.text.length);
    this.dataAlloc = new RegionAllocator(memory.data.length);
    const table = this.allocData(READER_TABLE_SIZE, { align: 64 });
    this.readers = new ReaderTable(this.dataView(table), table.address, () => this.check());
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  get textRange(): readonly [bigint, bigint] {
    return [this.memory.textBase, this.memory.textBase + BigInt(this.memory.text.length)];
  }

  get dataRange(): readonly [bigint, bigint] {
    return [this.memory.dataBase, this.memory.dataBase + BigInt(this.memory.data.length)];
  }

  /** @throws TextPokeError DISPOSED once disposed. */
  protected check(): void {
    if (this.isDisposed) throw new TextPokeError('DISPOSED', `${this.kind} arena used after dispose()`);
  }

  private offsetIn(base: bigint, size: number, address: bigint): number | undefined {
    const delta = BigInt.asUintN(64, address - base);
    return delta < BigInt(size) ? Number(delta) : undefined;
  }

  /** Locate [address, address + length) inside one allocated region, or undefined. */
  protected locate(address: bigint, length: number): Location | undefined {
    const { textBase, text, dataBase, data } = this.memory;
    const t = this.offsetIn(textBase, text.length, address);
    if (t !== undefined) return this.textAlloc.blockContaining(t, length) ? { space: 'text', offset: t } : undefined;
    const d = this.offsetIn(dataBase, data.length, address);
    if (d !== undefined) return this.dataAlloc.blockContaining(d, length) ? { space: 'data', offset: d } : undefined;
    return undefined;
  }

  /** Like {@link locate} but throws EFAULT. */
  protected locateOrFault(address: Address, length: number, what: string): Location {
    const at = toAddress(address, what);
    if (!Number.isSafeInteger(length) || length < 0) throw new TextPokeError('EINVAL', `${what}: bad length ${length}`);
    const location = this.locate(at, Math.max(1, length));
    if (location === undefined) {
      throw new TextPokeError('EFAULT', `${what}: [0x${at.toString(16)}, +${length}) is not inside one allocated region of this arena`);
    }
    return location;
  }

  protected bytesOf(space: 'text' | 'data'): Uint8Array {
    return space === 'text' ? this.memory.text : this.memory.data;
  }

  private allocIn(kind: 'text' | 'data', size: number, alignOrOptions: AllocOptions | number): Region {
    this.check();
    const options: AllocOptions = typeof alignOrOptions === 'number' ? { align: alignOrOptions } : (alignOrOptions ?? {});
    const allocator = kind === 'text' ? this.textAlloc : this.dataAlloc;
    const base = kind === 'text' ? this.memory.textBase : this.memory.dataBase;
    let at: number | undefined;
    if (options.at !== undefined) {
      const address = toAddress(options.at, 'alloc');
      const offset = this.offsetIn(base, allocator.capacity, address);
      if (offset === undefined) throw new TextPokeError('EINVAL', `alloc: 0x${address.toString(16)} is outside this arena's ${kind}`);
      at = offset;
    }
    const block = allocator.alloc(size, options.align ?? (kind === 'text' ? 16 : 64), at);
    const bytes = this.bytesOf(kind);
    bytes.fill(kind === 'text' ? INT3 : 0, block.offset, block.offset + block.size);
    if (kind === 'text') this.onTextWrite();
    return Object.freeze({ address: base + BigInt(block.offset), size: block.size, kind });
  }

  alloc(size: number, options: AllocOptions | number = {}): Region {
    return this.allocIn('text', size, options);
  }

  allocData(size: number, options: AllocOptions | number = {}): Region {
    return this.allocIn('data', size, options);
  }

  free(region: Region): void {
    this.check();
    const location = this.locate(toAddress(region?.address, 'free'), 1);
    if (location === undefined || location.space !== region.kind) {
      throw new TextPokeError('EINVAL', 'free: not a live region of this arena');
    }
    (location.space === 'text' ? this.textAlloc : this.dataAlloc).free(location.offset, region.size);
    if (location.space === 'text') {
      this.memory.text.fill(INT3, location.offset, location.offset + region.size);
      this.onTextWrite();
    }
  }

  write(address: Address, bytes: Uint8Array): void {
    this.check();
    if (!(bytes instanceof Uint8Array)) throw new TextPokeError('EINVAL', 'write: bytes must be a Uint8Array');
    const { space, offset } = this.locateOrFault(address, bytes.length, 'write');
    this.bytesOf(space).set(bytes, offset);
    if (space === 'text') this.onTextWrite();
  }

  read(address: Address, length: number): Uint8Array {
    this.check();
    const { space, offset } = this.locateOrFault(address, length, 'read');
    return this.bytesOf(space).slice(offset, offset + length);
  }

  dataView(region: Region): Uint8Array {
    this.check();
    const { space, offset } = this.locateOrFault(region.address, region.size, 'dataView');
    if (space !== 'data') throw new TextPokeError('EINVAL', 'dataView: text regions have no writable view; use read()/write()');
    return this.memory.data.subarray(offset, offset + region.size);
  }

  textPoke(ip: Address, type: PokeType, oldTarget: Address | null, newTarget: Address | null): PokeResult {
    this.check();
    const site = toAddress(ip, 'textPoke');
    const { space, offset } = this.locateOrFault(site, POKE_SIZE, 'textPoke');
    if (space !== 'text') throw new TextPokeError('EFAULT', `textPoke: 0x${site.toString(16)} is data, not text`);
    if (Number(site & 7n) > 8 - POKE_SIZE) {
      throw new TextPokeError(
        'EINVAL',
        `textPoke: site 0x${site.toString(16)} crosses an aligned 8-byte word; poke sites must satisfy (ip & 7) <= 3 so one atomic store covers them`,
      );
    }
    const oldInsn = pokeInstruction(site, type, oldTarget);
    const newInsn = pokeInstruction(site, type, newTarget);
    const text = this.memory.text;
    const current = text.slice(offset, offset + POKE_SIZE);
    if (!equal(current, oldInsn)) throw new PokeMismatchError(site, oldInsn, current);
    if (equal(current, newInsn)) return 'unchanged';
    this.storePoke(offset, current, newInsn, site);
    this.pokes++;
    return 'poked';
  }

  registerReader(name?: string): Reader {
    return this.readers.register(name);
  }

  synchronize(options?: SyncOptions): Promise<SyncResult> {
    return this.readers.synchronize(options);
  }

  abstract call(entry: Address, ...args: Word[]): bigint;

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.release();
  }

  /**
   * Replace the five bytes at text `offset` (currently `current`) by `insn` so that a
   * concurrent reader sees the whole old or the whole new instruction.
   * @throws PokeMismatchError if the bytes changed under us.
   */
  protected abstract storePoke(offset: number, current: Uint8Array, insn: Uint8Array, ip: bigint): void;
  /** Text bytes changed (decode caches must drop). */
  protected onTextWrite(): void {}
  /** Unmap everything. Called once. */
  protected abstract release(): void;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
