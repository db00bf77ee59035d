import type { Address } from '@bpf-dispatcher/x86';

/** A block of arena memory. */
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

/** A 64-bit argument or result of a call into arena code. */
export type Word = bigint | number;

/**
 * Where code lives and how it changes while it runs: the user-space counterpart of the
 * kernel's executable allocations, `text_poke` and RCU. Implemented by `SimulatedArena`
 * (bytes and a small CPU) and `NativeArena` (mmap'd memory on x86-64 Linux); every test
 * of a higher layer runs against this contract.
 *
 * Every method throws a `TextPokeError` with code `DISPOSED` after {@link dispose}.
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
   * @throws TextPokeError ENOMEM when full, EINVAL for a bad size/alignment/placement.
   */
  alloc(size: number, options?: AllocOptions | number): Region;
  /** Allocate zeroed read-write memory reachable by code. @throws like {@link alloc}. */
  allocData(size: number, options?: AllocOptions | number): Region;
  /** Return a region. @throws TextPokeError EINVAL if it is not a live region of this arena. */
  free(region: Region): void;

  /**
   * Copy bytes in: text that is not live yet, or data.
   * @throws TextPokeError EFAULT if the range is not inside one allocated region.
   */
  write(address: Address, bytes: Uint8Array): void;
  /** Copy bytes out. @throws TextPokeError EFAULT outside allocated regions. */
  read(address: Address, length: number): Uint8Array;
  /** A live view of a data region (no copy). @throws TextPokeError EINVAL for a text region. */
  dataView(region: Region): Uint8Array;

  /**
   * The kernel's `bpf_arch_text_poke(ip, type, old, new)`: change the 5-byte instruction at
   * `ip` from `call|jmp old` (or the 5-byte nop when `old` is null) to `call|jmp new` (or
   * the nop). Readers executing the site see either the whole old or the whole new
   * instruction.
   * @throws TextPokeError ERANGE if a target is beyond rel32 reach; PokeMismatchError
   *   (EBUSY) if the site does not hold the old instruction (nothing is written); EINVAL
   *   for a site the arena cannot poke atomically; EFAULT outside text.
   */
  textPoke(ip: Address, type: PokeType, oldTarget: Address | null, newTarget: Address | null): PokeResult;

  /** Register a reader thread for grace periods. @throws TextPokeError ENOMEM when all slots are taken. */
  registerReader(name?: string): Reader;
  /**
   * Wait until every online reader has passed a quiescent state since the call
   * (the kernel's `synchronize_rcu()`).
   * @throws SyncTimeoutError if one has not within the timeout.
   */
  synchronize(options?: SyncOptions): Promise<SyncResult>;

  /**
   * Call code at `entry` with up to six integer arguments (System V: rdi, rsi, rdx, rcx,
   * r8, r9) and return rax as an unsigned 64-bit bigint.
   */
  call(entry: Address, ...args: Word[]): bigint;

  /** Release all memory. Idempotent. */
  dispose(): void;
}
