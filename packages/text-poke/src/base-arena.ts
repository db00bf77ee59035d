import { type Address, describeValue, toAddress as x86Address } from '@bpf-dispatcher/x86';
import { brandArena } from './arena-check.js';
import { PokeMismatchError, TextPokeError } from './errors.js';
import { COUNTER_OFFSET, type GracePeriodCookie, MAX_READERS, ONLINE_OFFSET, READER_SLOT_SIZE, READER_TABLE_SIZE, ReaderTable } from './grace-period.js';
import { POKE_SIZE, pokeInstruction } from './poke-insn.js';
import { RegionAllocator } from './region-allocator.js';
import { type RegionLease, RegionMemory } from './region-memory.js';
import { TextExtents } from './text-extents.js';
import type {
  AllocOptions,
  ArenaUsage,
  MemoryUsage,
  PokeResult,
  PokeType,
  Reader,
  ReaderTableInfo,
  Region,
  SyncOptions,
  SyncResult,
  TextArena,
  Word,
} from './types.js';

const INT3 = 0xcc;
/** Largest size any arena can have; larger requests are malformed (EINVAL), not just too big. */
const MAX_SIZE = 1 << 30;
const MAX_ALIGN = 1 << 20;
const WORD_MIN = -(1n << 63n);
const WORD_LIMIT = 1n << 64n;
const MAX_ARGS = 6;

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

/** What the arena knows about a region it handed out. */
interface RegionState {
  readonly space: 'text' | 'data';
  readonly offset: number;
  /** The raw view handed out by dataBytes(), created on first use. */
  bytes: Uint8Array | undefined;
  /** Shared with the region's RegionMemory accessors; emptied on free/dispose. */
  readonly lease: RegionLease;
  accessor: RegionMemory | undefined;
}

/** Normalise an address to an unsigned 64-bit bigint. @throws TextPokeError EINVAL for non-integers. */
export function toAddress(address: Address, what: string): bigint {
  return x86Address(address, what, (message) => new TextPokeError('EINVAL', message));
}

/**
 * Normalise a call argument to an unsigned 64-bit bigint.
 * @throws TextPokeError EINVAL unless it is a bigint in [-2^63, 2^64) or a safe integer.
 */
export function toWord(value: Word, what: string): bigint {
  if (typeof value === 'bigint' && value >= WORD_MIN && value < WORD_LIMIT) return BigInt.asUintN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  throw new TextPokeError('EINVAL', `${what}: ${describeValue(value)} is not a 64-bit word (a bigint, or a safe integer)`);
}


/**
 * The part of the {@link TextArena} contract both arenas share: allocation, bounds-checked
 * reads and writes, the live-text rule, the checked poke protocol, reader registration and
 * grace periods. Subclasses map the memory, store poked bytes the way their platform
 * needs, and run code.
 */
export abstract class BaseArena implements TextArena {
  abstract readonly kind: 'simulated' | 'native';
  private mem!: ArenaMemory;
  private textSize = 0;
  private dataSize = 0;
  private textAlloc!: RegionAllocator;
  private dataAlloc!: RegionAllocator;
  private readers!: ReaderTable;
  private readerTableInfo!: ReaderTableInfo;
  private readonly extents = new TextExtents();
  /** The regions handed out and not freed, by identity. */
  private readonly regions = new Map<Region, RegionState>();
  private isDisposed = false;
  /** Number of pokes that changed bytes. */
  pokes = 0;

  /** Called by the subclass constructor once its memory is mapped. */
  protected init(memory: ArenaMemory): void {
    brandArena(this);
    this.mem = memory;
    this.textSize = memory.text.length;
    this.dataSize = memory.data.length;
    this.textAlloc = new RegionAllocator(memory.text.length);
    this.dataAlloc = new RegionAllocator(memory.data.length);
    const table = this.allocData(READER_TABLE_SIZE, { align: 64 });
    this.readerTableInfo = Object.freeze({ address: table.address, slots: MAX_READERS, slotSize: READER_SLOT_SIZE, counterOffset: COUNTER_OFFSET, onlineOffset: ONLINE_OFFSET });
    const offset = Number(table.address - memory.dataBase);
    this.readers = new ReaderTable(
      memory.data.subarray(offset, offset + READER_TABLE_SIZE),
      table.address,
      () => this.check(),
      () => this.isDisposed,
    );
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  get textRange(): readonly [bigint, bigint] {
    return [this.mem.textBase, this.mem.textBase + BigInt(this.textSize)];
  }

  get dataRange(): readonly [bigint, bigint] {
    return [this.mem.dataBase, this.mem.dataBase + BigInt(this.dataSize)];
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
    const { textBase, dataBase } = this.mem;
    const t = this.offsetIn(textBase, this.textSize, address);
    if (t !== undefined) return this.textAlloc.blockContaining(t, length) ? { space: 'text', offset: t } : undefined;
    const d = this.offsetIn(dataBase, this.dataSize, address);
    if (d !== undefined) return this.dataAlloc.blockContaining(d, length) ? { space: 'data', offset: d } : undefined;
    return undefined;
  }

  /** Like {@link locate} but throws EFAULT (EINVAL for a malformed address or length). */
  protected locateOrFault(address: Address, length: number, what: string): Location {
    const at = toAddress(address, what);
    if (!Number.isSafeInteger(length) || length < 0) throw new TextPokeError('EINVAL', `${what}: bad length ${describeValue(length)}`);
    const location = this.locate(at, Math.max(1, length));
    if (location === undefined) {
      throw new TextPokeError('EFAULT', `${what}: [0x${at.toString(16)}, +${length}) is not inside one allocated region of this arena`);
    }
    return location;
  }

  protected bytesOf(space: 'text' | 'data'): Uint8Array {
    return space === 'text' ? this.mem.text : this.mem.data;
  }

  private textAddress = (offset: number): string => `0x${(this.mem.textBase + BigInt(offset)).toString(16)}`;

  private allocIn(kind: 'text' | 'data', size: number, alignOrOptions: AllocOptions | number | undefined): Region {
    this.check();
    const what = kind === 'text' ? 'alloc' : 'allocData';
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0 || size > MAX_SIZE) {
      throw new TextPokeError('EINVAL', `${what}: size must be an integer from 1 to ${MAX_SIZE}, got ${describeValue(size)}`);
    }
    let options: AllocOptions;
    if (typeof alignOrOptions === 'number') options = { align: alignOrOptions };
    else if (alignOrOptions === undefined || alignOrOptions === null) options = {};
    else if (typeof alignOrOptions === 'object') options = alignOrOptions;
    else throw new TextPokeError('EINVAL', `${what}: options must be an alignment or an object, got ${describeValue(alignOrOptions)}`);
    const align = options.align ?? (kind === 'text' ? 16 : 64);
    if (typeof align !== 'number' || !Number.isSafeInteger(align) || align < 1 || (align & (align - 1)) !== 0 || align > MAX_ALIGN) {
      throw new TextPokeError('EINVAL', `${what}: alignment must be a power of two up to ${MAX_ALIGN}, got ${describeValue(align)}`);
    }
    const allocator = kind === 'text' ? this.textAlloc : this.dataAlloc;
    const base = kind === 'text' ? this.mem.textBase : this.mem.dataBase;
    let at: number | undefined;
    if (options.at !== undefined) {
      const address = toAddress(options.at, what);
      const offset = this.offsetIn(base, allocator.capacity, address);
      if (offset === undefined) throw new TextPokeError('EINVAL', `${what}: 0x${address.toString(16)} is outside this arena's ${kind}`);
      at = offset;
    }
    const block = allocator.alloc(size, align, at);
    const bytes = this.bytesOf(kind);
    bytes.fill(kind === 'text' ? INT3 : 0, block.offset, block.offset + block.size);
    if (kind === 'text') this.onTextWrite();
    const region: Region = Object.freeze({ address: base + BigInt(block.offset), size: block.size, kind });
    const lease: RegionLease = { view: null, gone: () => this.goneError() };
    if (kind === 'data') lease.view = new DataView(this.mem.data.buffer, this.mem.data.byteOffset + block.offset, block.size);
    this.regions.set(region, { space: kind, offset: block.offset, bytes: undefined, lease, accessor: undefined });
    return region;
  }

  private goneError(): TextPokeError {
    return this.isDisposed
      ? new TextPokeError('DISPOSED', `${this.kind} arena used after dispose()`)
      : new TextPokeError('EFAULT', 'region memory used after the region was freed');
  }

  /** The state of a region this arena handed out. @throws TextPokeError EINVAL otherwise. */
  private stateOf(region: Region, what: string): RegionState {
    const state = this.regions.get(region);
    if (state === undefined) {
      throw new TextPokeError(
        'EINVAL',
        `${what}: not a live region of this arena (freed already, another arena's, or not the object alloc()/allocData() returned)`,
      );
    }
    return state;
  }

  alloc(size: number, options: AllocOptions | number = {}): Region {
    return this.allocIn('text', size, options);
  }

  allocData(size: number, options: AllocOptions | number = {}): Region {
    return this.allocIn('data', size, options);
  }

  free(region: Region): void {
    this.check();
    const state = this.stateOf(region, 'free');
    const { offset } = state;
    if (state.space === 'text') {
      this.extents.release(offset, offset + region.size, this.textAddress);
      this.textAlloc.free(offset, region.size);
      this.mem.text.fill(INT3, offset, offset + region.size);
      this.onTextWrite();
    } else {
      this.dataAlloc.free(offset, region.size);
    }
    this.regions.delete(region);
    state.lease.view = null;
    state.bytes = undefined;
  }

  write(address: Address, bytes: Uint8Array): void {
    this.check();
    if (!(bytes instanceof Uint8Array)) throw new TextPokeError('EINVAL', 'write: bytes must be a Uint8Array');
    const { space, offset } = this.locateOrFault(address, bytes.length, 'write');
    if (space === 'text') this.extents.write(offset, offset + bytes.length, this.textAddress);
    this.bytesOf(space).set(bytes, offset);
    if (space === 'text') this.onTextWrite();
  }

  read(address: Address, length: number): Uint8Array {
    this.check();
    const { space, offset } = this.locateOrFault(address, length, 'read');
    return this.bytesOf(space).slice(offset, offset + length);
  }

  publish(address: Address, length: number): void {
    this.check();
    const { space, offset } = this.locateOrFault(address, length, 'publish');
    if (space !== 'text') throw new TextPokeError('EFAULT', 'publish: the range is data, not text');
    this.extents.publish(offset, offset + length, this.textAddress);
  }

  dataBytes(region: Region): Uint8Array {
    return this.rawView(region, 'dataBytes');
  }

  dataView(region: Region): Uint8Array {
    return this.rawView(region, 'dataView');
  }

  private rawView(region: Region, what: string): Uint8Array {
    const state = this.dataRegion(region, what);
    state.bytes ??= this.viewOf(state.offset, region.size);
    return state.bytes;
  }

  memory(region: Region): RegionMemory {
    const state = this.dataRegion(region, 'memory');
    state.accessor ??= new RegionMemory(region, state.lease);
    return state.accessor;
  }

  private dataRegion(region: Region, what: string): RegionState {
    this.check();
    const state = this.stateOf(region, what);
    if (state.space !== 'data') throw new TextPokeError('EINVAL', `${what}: text regions have no writable view; use read()/write()`);
    return state;
  }

  /**
   * A raw view of data bytes [offset, offset + size) to hand to a caller. The default is
   * a subarray of the data memory; the native arena gives each region a buffer of its own.
   */
  protected viewOf(offset: number, size: number): Uint8Array {
    return this.mem.data.subarray(offset, offset + size);
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
    const from = oldTarget === null ? null : toAddress(oldTarget, 'textPoke old');
    const to = newTarget === null ? null : toAddress(newTarget, 'textPoke new');
    const target = to === null ? undefined : this.pokeTarget(to);
    const oldInsn = pokeInstruction(site, type, from);
    const newInsn = pokeInstruction(site, type, to);
    const text = this.mem.text;
    const current = text.slice(offset, offset + POKE_SIZE);
    if (!equal(current, oldInsn)) throw new PokeMismatchError(site, oldInsn, current);
    if (equal(current, newInsn)) return 'unchanged';
    this.storePoke(offset, current, newInsn, site);
    this.extents.retarget(offset, target);
    this.pokes++;
    return 'poked';
  }

  /**
   * The text offset a poke target lies at (undefined outside this arena's memory).
   * @throws TextPokeError EFAULT for a target in data or in text that holds no written code.
   */
  private pokeTarget(target: bigint): number | undefined {
    if (this.offsetIn(this.mem.dataBase, this.dataSize, target) !== undefined) {
      throw new TextPokeError('EFAULT', `textPoke: target 0x${target.toString(16)} is data, not code`);
    }
    const offset = this.offsetIn(this.mem.textBase, this.textSize, target);
    if (offset === undefined) return undefined;
    if (!this.extents.isWritten(offset)) {
      throw new TextPokeError('EFAULT', `textPoke: target 0x${target.toString(16)} holds no written code (allocated text is int3 until written)`);
    }
    return offset;
  }

  get readerTable(): ReaderTableInfo {
    this.check();
    return this.readerTableInfo;
  }

  registerReader(name?: string): Reader {
    return this.readers.register(name);
  }

  startGracePeriod(): GracePeriodCookie {
    return this.readers.snapshot();
  }

  pollGracePeriod(cookie: GracePeriodCookie): boolean {
    return this.readers.elapsed(cookie);
  }

  async synchronize(options?: SyncOptions): Promise<SyncResult> {
    this.check();
    const ticket = this.extents.beginGrace();
    const result = await this.readers.synchronize(options);
    this.extents.endGrace(ticket);
    return result;
  }

  /**
   * Check a call before the subclass runs it: the entry must lie in written text of this
   * arena (its extent becomes live), at most six arguments, each a {@link Word}.
   * @throws TextPokeError DISPOSED; EFAULT for an entry outside written text; EINVAL for bad arguments.
   */
  protected prepareCall(entry: Address, args: readonly Word[]): { entry: bigint; args: bigint[] } {
    this.check();
    if (args.length > MAX_ARGS) throw new TextPokeError('EINVAL', `call: at most ${MAX_ARGS} arguments, got ${args.length}`);
    const words = args.map((value, i) => toWord(value, `call argument ${i + 1}`));
    const at = toAddress(entry, 'call');
    const { space, offset } = this.locateOrFault(at, 1, 'call');
    if (space !== 'text') throw new TextPokeError('EFAULT', `call: 0x${at.toString(16)} is data, not text`);
    if (!this.extents.enter(offset)) {
      throw new TextPokeError('EFAULT', `call: 0x${at.toString(16)} holds no written code (allocated text is int3 until written)`);
    }
    return { entry: at, args: words };
  }

  abstract call(entry: Address, ...args: Word[]): bigint;

  usage(): ArenaUsage {
    this.check();
    const of = (a: RegionAllocator): MemoryUsage => ({ capacity: a.capacity, used: a.used, regions: a.count });
    return { text: of(this.textAlloc), data: of(this.dataAlloc) };
  }

  dispose(): void {
    if (this.isDisposed) return;
    const online = this.readers.onlineNames();
    if (online.length > 0) {
      throw new TextPokeError(
        'EBUSY',
        `dispose: reader(s) ${online.join(', ')} are online and may be executing arena code; take them offline or unregister them first (nothing was released)`,
      );
    }
    this.isDisposed = true;
    for (const state of this.regions.values()) {
      state.lease.view = null;
      state.bytes = undefined;
    }
    this.regions.clear();
    this.readers.release();
    this.release();
    const empty = new Uint8Array(0);
    this.mem = { textBase: this.mem.textBase, text: empty, dataBase: this.mem.dataBase, data: empty };
  }

  /**
   * Replace the five bytes at text `offset` (currently `current`) by `insn` so that a
   * concurrent reader sees the whole old or the whole new instruction.
   * @throws PokeMismatchError if the bytes changed under us.
   */
  protected abstract storePoke(offset: number, current: Uint8Array, insn: Uint8Array, ip: bigint): void;
  /** Text bytes changed (decode caches must drop). */
  protected onTextWrite(): void {}
  /** Unmap everything. Called once, after every JS view the arena holds was dropped. */
  protected abstract release(): void;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
