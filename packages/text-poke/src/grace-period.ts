import { TextPokeError, SyncTimeoutError } from './errors.js';
import type { Reader, SyncOptions, SyncResult } from './types.js';

/** Bytes per reader slot: counter (u64), online flag (u64), padding to a cache line. */
export const READER_SLOT_SIZE = 64;
/** Offset of the quiescent-state counter in a slot. */
export const COUNTER_OFFSET = 0;
/** Offset of the online flag in a slot. */
export const ONLINE_OFFSET = 8;
/** Reader slots per arena. */
export const MAX_READERS = 64;
/** Size of the reader table. */
export const READER_TABLE_SIZE = READER_SLOT_SIZE * MAX_READERS;

const DEFAULT_TIMEOUT_MS = 5000;

/** An opaque grace-period state from {@link ReaderTable.snapshot} (recognised by identity). */
export interface GracePeriodCookie {
  readonly kind: 'grace-period';
}

/** What each cookie waits for. */
const cookies = new WeakMap<object, { table: ReaderTable; seen: { slot: Slot; seen: bigint }[] }>();

interface Slot {
  name: string;
  index: number;
}

/**
 * Grace periods in the style of userspace RCU's QSBR flavour, the user-space stand-in for
 * the kernel's `synchronize_rcu()`. Each reader thread owns a slot in arena data memory
 * with a counter it bumps whenever it holds no reference to RCU-protected code (between
 * poll batches) and an online flag. `synchronize()` snapshots the counters of the online
 * readers and waits until each has moved or gone offline.
 *
 * The table lives in memory that machine code writes directly; this class only reads it
 * (and writes it for readers driven from JS).
 */
export class ReaderTable {
  private words: BigInt64Array;
  private readonly slots: (Slot | undefined)[] = new Array(MAX_READERS).fill(undefined);

  /**
   * @param view live bytes of the table (READER_TABLE_SIZE, 8-byte aligned)
   * @param address the table's address as code sees it
   * @param check throws if the owning arena is disposed
   * @param isDisposed true once the owning arena is disposed
   */
  constructor(
    view: Uint8Array,
    private readonly address: bigint,
    private readonly check: () => void,
    private readonly isDisposed: () => boolean,
  ) {
    if (view.byteOffset % 8 !== 0 || view.length < READER_TABLE_SIZE) throw new TextPokeError('EINVAL', 'reader table view must be 8-byte aligned');
    this.words = new BigInt64Array(view.buffer, view.byteOffset, READER_TABLE_SIZE / 8);
  }

  private word(index: number, offset: number): number {
    return (index * READER_SLOT_SIZE + offset) / 8;
  }

  private counter(index: number): bigint {
    return Atomics.load(this.words, this.word(index, COUNTER_OFFSET));
  }

  private isOnline(index: number): boolean {
    return Atomics.load(this.words, this.word(index, ONLINE_OFFSET)) !== 0n;
  }

  /**
   * Register a reader; it starts online.
   * @throws TextPokeError ENOMEM when all slots are taken; EINVAL for a name that is not a string.
   */
  register(name?: string): Reader {
    this.check();
    if (name !== undefined && typeof name !== 'string') throw new TextPokeError('EINVAL', `registerReader: name must be a string, got ${typeof name}`);
    const index = this.slots.indexOf(undefined);
    if (index < 0) throw new TextPokeError('ENOMEM', `registerReader: all ${MAX_READERS} reader slots are taken`);
    const slot: Slot = { name: name ?? `reader-${index}`, index };
    this.slots[index] = slot;
    const counterIndex = this.word(index, COUNTER_OFFSET);
    const onlineIndex = this.word(index, ONLINE_OFFSET);
    Atomics.store(this.words, counterIndex, 0n);
    Atomics.store(this.words, onlineIndex, 1n);
    const slotAddress = this.address + BigInt(index * READER_SLOT_SIZE);
    const live = () => {
      this.check();
      if (this.slots[index] !== slot) throw new TextPokeError('EINVAL', `reader ${slot.name} is unregistered`);
    };
    const isDisposed = () => this.isDisposed();
    const slots = this.slots;
    return Object.freeze({
      name: slot.name,
      get disposed() {
        return isDisposed() || slots[index] !== slot;
      },
      counterAddress: slotAddress + BigInt(COUNTER_OFFSET),
      onlineAddress: slotAddress + BigInt(ONLINE_OFFSET),
      quiescent: () => {
        live();
        Atomics.add(this.words, counterIndex, 1n);
      },
      offline: () => {
        live();
        Atomics.add(this.words, counterIndex, 1n);
        Atomics.store(this.words, onlineIndex, 0n);
      },
      online: () => {
        live();
        Atomics.store(this.words, onlineIndex, 1n);
      },
      unregister: () => {
        live();
        Atomics.store(this.words, onlineIndex, 0n);
        this.slots[index] = undefined;
      },
    });
  }

  /** Names of the registered readers whose online flag is set (by JS or by machine code). */
  onlineNames(): string[] {
    const names: string[] = [];
    for (const slot of this.slots) if (slot !== undefined && this.isOnline(slot.index)) names.push(slot.name);
    return names;
  }

  /** The arena is disposed: drop the view of its memory (every reader method throws DISPOSED first). */
  release(): void {
    this.words = new BigInt64Array(0);
  }

  /**
   * The state a later {@link elapsed} compares with (the kernel's `get_state_synchronize_rcu()`):
   * the counters of the readers online now. Never waits.
   */
  snapshot(): GracePeriodCookie {
    this.check();
    const seen: { slot: Slot; seen: bigint }[] = [];
    for (const slot of this.slots) {
      if (slot !== undefined && this.isOnline(slot.index)) seen.push({ slot, seen: this.counter(slot.index) });
    }
    const cookie = Object.freeze({ kind: 'grace-period' as const });
    cookies.set(cookie, { table: this, seen });
    return cookie;
  }

  /**
   * True once every reader online at {@link snapshot} has passed a quiescent state since
   * (its counter moved), gone offline or unregistered (the kernel's
   * `poll_state_synchronize_rcu()`). Never waits.
   * @throws TextPokeError EINVAL for a cookie that is not one of this table's.
   */
  elapsed(cookie: GracePeriodCookie): boolean {
    this.check();
    const state = typeof cookie === 'object' && cookie !== null ? cookies.get(cookie) : undefined;
    if (state === undefined || state.table !== this) throw new TextPokeError('EINVAL', 'pollGracePeriod: not a cookie of this arena (use startGracePeriod())');
    state.seen = state.seen.filter(({ slot, seen }) => this.slots[slot.index] === slot && this.isOnline(slot.index) && this.counter(slot.index) === seen);
    return state.seen.length === 0;
  }

  /** Number of registered readers. */
  get registered(): number {
    return this.slots.filter((s) => s !== undefined).length;
  }

  /**
   * Wait until every reader online now has passed a quiescent state (its counter moved)
   * or gone offline.
   * @throws SyncTimeoutError naming the stalled readers.
   */
  async synchronize(options: SyncOptions = {}): Promise<SyncResult> {
    this.check();
    if (typeof options !== 'object' || options === null) throw new TextPokeError('EINVAL', 'synchronize: options must be an object');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw new TextPokeError('EINVAL', `synchronize: timeoutMs must be >= 0, got ${timeoutMs}`);
    const start = performance.now();
    let waiting: { slot: Slot; seen: bigint }[] = [];
    for (const slot of this.slots) {
      if (slot !== undefined && this.isOnline(slot.index)) waiting.push({ slot, seen: this.counter(slot.index) });
    }
    const waitedFor = waiting.length;
    for (let round = 0; ; round++) {
      waiting = waiting.filter(
        ({ slot, seen }) => this.slots[slot.index] === slot && this.isOnline(slot.index) && this.counter(slot.index) === seen,
      );
      if (waiting.length === 0) return { waitedFor, elapsedMs: performance.now() - start };
      if (performance.now() - start > timeoutMs) {
        throw new SyncTimeoutError(
          timeoutMs,
          waiting.map(({ slot }) => slot.name),
        );
      }
      // Yield to the event loop (readers driven from JS run there); back off gently.
      await new Promise<void>((resolve) => (round < 64 ? setImmediate(resolve) : setTimeout(resolve, 1)));
      this.check();
    }
  }
}
