import type { Address } from '@bpf-dispatcher/x86';
import type { GracePeriodCookie } from './grace-period.js';
import type { RegionMemory } from './region-memory.js';

/**
 * A block of arena memory. Arenas recognise the regions they handed out by identity, not
 * by shape: pass the very object `alloc()`/`allocData()` returned.
 */
export interface Region {
  /** Address of the first byte, unsigned 64-bit. */
  readonly address: bigint;
  /** Size in bytes. */
  readonly size: number;
  /** `text` (executable; written only while not live, changed live only by pokes) or `data` (read-write). */
  readonly kind: 'text' | 'data';
}

/** What a poke site becomes: `call rel32` (E8) or `jmp rel32` (E9); the kernel's BPF_MOD_CALL / BPF_MOD_JUMP. */
export type PokeType = 'call' | 'jump';

/** `poked`: the five bytes changed; `unchanged`: they already held the new instruction. */
export type PokeResult = 'poked' | 'unchanged';

/** Options of {@link TextArena.alloc}. */
export interface AllocOptions {
  /** Alignment, a power of two (default 16 for text, 64 for data). */
  readonly align?: number;
  /** Place the region exactly here (fails with EINVAL/ENOMEM if out of the arena or taken). */
  readonly at?: Address;
}

/** Options of {@link TextArena.synchronize}. */
export interface SyncOptions {
  /** Give up after this many milliseconds with a SyncTimeoutError (default 5000). */
  readonly timeoutMs?: number;
}

/** What a grace period waited for. */
export interface SyncResult {
  /** Readers that were online and had to pass a quiescent state. */
  readonly waitedFor: number;
  /** Wall time spent, milliseconds. */
  readonly elapsedMs: number;
}

/**
 * A registered reader thread (userspace RCU, QSBR flavour). Its counter and state words
 * live in arena data memory so machine code can update them: see `emitQuiescentState`.
 */
export interface Reader {
  readonly name: string;
  /**
   * True once the reader was unregistered or its arena disposed: its addresses no longer
   * belong to it and must not be handed to code any more (its methods throw).
   */
  readonly disposed: boolean;
  /** Address of the 64-bit quiescent-state counter (bumped once per quiescent state). */
  readonly counterAddress: bigint;
  /** Address of the 64-bit online flag (1 = online, 0 = offline). */
  readonly onlineAddress: bigint;
  /** Report a quiescent state from JS. */
  quiescent(): void;
  /** Go offline: synchronize() stops waiting for this reader. It must not hold references. */
  offline(): void;
  /** Come back online. */
  online(): void;
  /** Release the slot. */
  unregister(): void;
}

/**
 * Where the readers' quiescent-state counters live, for machine code that checks a grace
 * period itself (deferred reclamation on a hot path that cannot call back into JS): slot
 * `i` is at `address + i * slotSize`; a reader is online while the u64 at `onlineOffset`
 * is non-zero and passes a quiescent state by incrementing the u64 at `counterOffset`. A
 * grace period that began with a snapshot of the counters has elapsed once every slot that
 * is online shows a counter other than the snapshot's.
 */
export interface ReaderTableInfo {
  readonly address: bigint;
  readonly slots: number;
  readonly slotSize: number;
  readonly counterOffset: number;
  readonly onlineOffset: number;
}

/** How much of one kind of arena memory (text or data) is allocated. */
export interface MemoryUsage {
  /** Bytes the arena manages. */
  readonly capacity: number;
  /** Bytes in live regions (alignment gaps not counted). */
  readonly used: number;
  /** Live regions. */
  readonly regions: number;
}

/** What {@link TextArena.usage} reports. */
export interface ArenaUsage {
  readonly text: MemoryUsage;
  readonly data: MemoryUsage;
}

/** A 64-bit argument of a call into arena code: a bigint in [-2^63, 2^64) or a safe integer. */
export type Word = bigint | number;

/**
 * Where code lives and how it changes while it runs: the user-space counterpart of the
 * kernel's executable allocations, `text_poke` and RCU. Implemented by `SimulatedArena`
 * (bytes and a small CPU) and `NativeArena` (mmap'd memory on x86-64 Linux); every test
 * of a higher layer runs against this contract.
 *
 * Every method throws a `TextPokeError` with code `DISPOSED` after {@link dispose}, and
 * `EINVAL` for malformed arguments (before doing anything).
 *
 * **Live text.** Every `write()` into text is one extent. An extent is *live* once
 * {@link call} entered it, `emitText` wrote it, {@link publish} published it, or while a
 * poke site jumps or calls into it. Live text changes only through {@link textPoke} (the
 * kernel's rule for text that may be executing); `write()` over it throws EBUSY. When the
 * last poke site leaves an extent that was never otherwise live, the extent is *retired*:
 * writable again once a {@link synchronize} that started after the retirement has
 * completed (a grace period), EBUSY before.
 */
export interface TextArena {
  readonly kind: 'simulated' | 'native';
  /** True once disposed. */
  readonly disposed: boolean;
  /** Address range of all text, [start, end). */
  readonly textRange: readonly [bigint, bigint];
  /** Address range of all data, [start, end). */
  readonly dataRange: readonly [bigint, bigint];

  /**
   * Allocate executable memory (filled with int3). All regions lie within +-2 GiB of each
   * other and, by default, at addresses that fit a sign-extended imm32. `options` may be
   * just the alignment (`alloc(4096, 4096)`).
   * @throws TextPokeError ENOMEM when full; EINVAL for a size that is not an integer from 1
   *   to 1 GiB, an alignment that is not a power of two up to 1 MiB, or a bad placement.
   */
  alloc(size: number, options?: AllocOptions | number): Region;
  /** Allocate zeroed read-write memory reachable by code. @throws like {@link alloc}. */
  allocData(size: number, options?: AllocOptions | number): Region;
  /**
   * Return a region (the kernel's `bpf_jit_free_exec`).
   * @throws TextPokeError EINVAL if it is not a live region of this arena (freed already,
   *   another arena's, or not an object `alloc()` returned); EBUSY if a poke site
   *   elsewhere still jumps into it.
   */
  free(region: Region): void;

  /**
   * Copy bytes in: text that is not live (see above), or data.
   * @throws TextPokeError EFAULT if the range is not inside one allocated region; EBUSY if it
   *   overlaps live text, or retired text whose grace period has not passed.
   */
  write(address: Address, bytes: Uint8Array): void;
  /** Copy bytes out. @throws TextPokeError EFAULT outside allocated regions. */
  read(address: Address, length: number): Uint8Array;
  /**
   * Declare written text live: code is about to run (e.g. its address is handed to other
   * code). From now on it changes only through {@link textPoke}, until its region is freed.
   * `emitText` publishes what it writes.
   * @throws TextPokeError EFAULT outside one allocated text region; EINVAL if a byte of the
   *   range was never written.
   */
  publish(address: Address, length: number): void;
  /**
   * The raw live bytes of a data region (no copy, no checks on use; the `buffer` spans
   * only this region). After {@link dispose} a view still held reads zeros and its writes
   * go nowhere (never unmapped memory); prefer {@link memory}, which throws instead.
   * @throws TextPokeError EINVAL for a text region or an object that is not a live region of this arena.
   */
  dataBytes(region: Region): Uint8Array;
  /** @deprecated the same as {@link dataBytes}; use {@link memory} (checked) or `dataBytes`. */
  dataView(region: Region): Uint8Array;
  /**
   * A checked accessor over a data region: little-endian u8/u16/u32/u64 loads and stores
   * and byte copies, each throwing DISPOSED after {@link dispose} (EFAULT after the region is freed).
   * @throws TextPokeError EINVAL as {@link dataBytes}.
   */
  memory(region: Region): RegionMemory;

  /**
   * The kernel's `bpf_arch_text_poke(ip, type, old, new)`: change the 5-byte instruction at
   * `ip` from `call|jmp old` (or the 5-byte nop when `old` is null) to `call|jmp new` (or
   * the nop). Readers executing the site see either the whole old or the whole new
   * instruction.
   * @throws TextPokeError ERANGE if a target is beyond rel32 reach; PokeMismatchError
   *   (EBUSY) if the site does not hold the old instruction (nothing is written); EINVAL
   *   for a site the arena cannot poke atomically or a malformed address; EFAULT for a
   *   site outside text or a new target in data or in text that holds no written code.
   *   The extent `new` lies in is live while the site targets it (see above).
   */
  textPoke(ip: Address, type: PokeType, oldTarget: Address | null, newTarget: Address | null): PokeResult;

  /**
   * Register a reader thread for grace periods; it starts online.
   * @throws TextPokeError ENOMEM when all slots are taken.
   */
  registerReader(name?: string): Reader;
  /**
   * Wait until every online reader has passed a quiescent state since the call
   * (the kernel's `synchronize_rcu()`).
   * @throws SyncTimeoutError if one has not within the timeout.
   */
  synchronize(options?: SyncOptions): Promise<SyncResult>;

  /**
   * The reader table's location and layout, for native code that polls grace periods
   * itself (see {@link ReaderTableInfo}).
   * @throws TextPokeError DISPOSED after {@link dispose}.
   */
  readonly readerTable: ReaderTableInfo;

  /**
   * Begin a grace period without waiting for it (the kernel's `get_state_synchronize_rcu()`):
   * a cookie that {@link pollGracePeriod} reports elapsed once every reader online now has
   * passed a quiescent state. For deferred reclamation that must not block (e.g. map
   * elements unlinked while programs may still read them).
   * @throws TextPokeError DISPOSED after {@link dispose}.
   */
  startGracePeriod(): GracePeriodCookie;
  /**
   * Whether the grace period a cookie began has elapsed (the kernel's
   * `poll_state_synchronize_rcu()`). Never waits.
   * @throws TextPokeError EINVAL for a cookie of another arena; DISPOSED after {@link dispose}.
   */
  pollGracePeriod(cookie: GracePeriodCookie): boolean;

  /**
   * Call code at `entry` with up to six integer arguments (System V: rdi, rsi, rdx, rcx,
   * r8, r9) and return rax as an unsigned 64-bit bigint. The extent entered becomes live.
   * @throws TextPokeError EFAULT if `entry` is not inside written text of this arena;
   *   EINVAL for more than six arguments or one that is not a {@link Word}.
   */
  call(entry: Address, ...args: Word[]): bigint;

  /**
   * How much text and data is allocated: what leak tests compare before and after a
   * create/dispose cycle.
   * @throws TextPokeError DISPOSED after {@link dispose}.
   */
  usage(): ArenaUsage;

  /**
   * Release all memory. Idempotent. Memory views handed out stay harmless (see
   * {@link dataBytes}).
   * @throws TextPokeError EBUSY while a registered reader is online (a thread may still be
   *   executing arena code): nothing is released and the arena stays fully usable. Take
   *   readers offline (`reader.offline()`) or unregister them first.
   */
  dispose(): void;
}
