/**
 * The machine code of one hash map: every native function, specialised for the map's
 * sizes and addresses, emitted into one text region at creation (what the kernel does
 * generically in C, done here per map as a JIT would).
 */
import { emitText, type Region, type TextArena } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, call, ret } from '@bpf-dispatcher/x86';
import { emitDetachRetired, emitGetNextKey, emitKeys, emitLookupCopy, emitRelease } from './admin-emit.js';
import { type HashCodeParams, emitLock, emitUnlock } from './list-emit.js';
import { emitDelete, emitLookup, emitUpdate } from './ops-emit.js';
import { type ReclaimParams, emitNativeReclaim } from './reclaim-emit.js';

/** Entry points of a map's native functions (see the emitters for each ABI). */
export interface HashEntries {
  /** `lookup(map, key) -> value | 0` (programs and TypeScript). */
  readonly lookup: bigint;
  /** `update(map, key, value, flags) -> 0 | -errno`, a program's update (CPU r12's copy for per-CPU maps). */
  readonly update: bigint;
  /** `delete(map, key) -> 0 | -ENOENT`. */
  readonly delete: bigint;
  /** `update_all(map, key, values, flags) -> 0 | -errno`: every CPU's copy given, copy-on-write (per-CPU maps from TypeScript; hash maps: the same as `update` over a padded value). */
  readonly updateAll: bigint;
  /** `get_next_key(map, key | 0, out) -> 0 | -ENOENT`. */
  readonly getNextKey: bigint;
  /** `keys(map, out) -> count`. */
  readonly keys: bigint;
  /** `detach_retired(map, count_out) -> list`. */
  readonly detachRetired: bigint;
  /** `release(map, list) -> count`. */
  readonly release: bigint;
  /** `lookup_copy(map, key, out) -> 1 | 0`: the value area copied under the lock (TypeScript's lookups). */
  readonly lookupCopy: bigint;
  /** `reclaim_locked(map)`: the map's own reclamation under its lock (TypeScript's reclaim runs it too). */
  readonly reclaimLocked: bigint;
}

/** The emitted code: its text region and entries. */
export interface HashCode {
  readonly region: Region;
  readonly entries: HashEntries;
}

type EntryName = keyof HashEntries;

/**
 * Emit and publish a map's functions into one text region.
 * @throws the errors of `emitText` (TextPokeError ENOMEM when the arena's text is full).
 */
export function emitHashCode(arena: TextArena, p: HashCodeParams, reclaim: ReclaimParams): HashCode {
  const emitters: readonly (readonly [EntryName, (buf: CodeBuffer, q: HashCodeParams) => void])[] = [
    ['lookup', (buf, q) => emitLookup(buf, q)],
    ['update', (buf, q) => emitUpdate(buf, q, 'program')],
    ['delete', (buf, q) => emitDelete(buf, q)],
    ['updateAll', (buf, q) => emitUpdate(buf, q, 'all')],
    ['getNextKey', (buf, q) => emitGetNextKey(buf, q)],
    ['keys', (buf, q) => emitKeys(buf, q)],
    ['detachRetired', (buf) => emitDetachRetired(buf)],
    ['release', (buf, q) => emitRelease(buf, q)],
    ['lookupCopy', (buf, q) => emitLookupCopy(buf, q)],
  ];
  const offsets = new Map<EntryName, number>();
  const region = emitText(arena, (buf) => {
    const q: HashCodeParams = { ...p, reclaim: buf.newLabel() };
    for (const [name, emit] of emitters) {
      buf.align(16);
      offsets.set(name, buf.length);
      emit(buf, q);
    }
    buf.align(16);
    buf.bind(q.reclaim as NonNullable<HashCodeParams['reclaim']>);
    emitNativeReclaim(buf, q, reclaim);
    buf.align(16);
    offsets.set('reclaimLocked', buf.length);
    emitLock(buf, 'rdi', 'eax');
    call(buf, q.reclaim as NonNullable<HashCodeParams['reclaim']>);
    emitUnlock(buf, 'rdi');
    ret(buf);
  });
  const at = (name: EntryName): bigint => region.address + BigInt(offsets.get(name) ?? 0);
  const entries: HashEntries = Object.freeze({
    lookup: at('lookup'),
    update: at('update'),
    delete: at('delete'),
    updateAll: at('updateAll'),
    getNextKey: at('getNextKey'),
    keys: at('keys'),
    detachRetired: at('detachRetired'),
    release: at('release'),
    lookupCopy: at('lookupCopy'),
    reclaimLocked: at('reclaimLocked'),
  });
  return Object.freeze({ region, entries });
}
