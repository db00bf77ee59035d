/** One dispatcher entry: a program and how many users attached it. */
export interface Slot {
  readonly prog: bigint;
  readonly users: number;
}

/**
 * The kernel's `struct bpf_dispatcher_prog progs[MAX]` with its `num_progs`: a fixed
 * array of refcounted slots, the `find` / `add_prog` / `remove_prog` half of
 * `bpf_dispatcher_change_prog()`.
 *
 * The slots own the users of each slotted program address (`bpf_dispatcher_prog.users`):
 * nothing else counts them. A program that finds no free slot is not recorded at all: it
 * runs through the fallback and is not promoted when a slot frees later (its attachments
 * are the xdp_call's to count, the program a netdev runs is the netdev's).
 */
export class ProgSlots {
  private slots: ({ prog: bigint; users: number } | null)[];

  constructor(readonly max: number) {
    this.slots = new Array(max).fill(null);
  }

  /** Occupied slots. */
  get numProgs(): number {
    let n = 0;
    for (const s of this.slots) if (s !== null) n++;
    return n;
  }

  private find(prog: bigint): { prog: bigint; users: number } | undefined {
    for (const s of this.slots) if (s !== null && s.prog === prog) return s;
    return undefined;
  }

  /** Users of `prog`, 0 if it has no slot. */
  users(prog: bigint): number {
    return this.find(prog)?.users ?? 0;
  }

  /**
   * `bpf_dispatcher_add_prog`: null -> false; present -> users++, false (no regeneration);
   * no free slot -> false; else take a slot with users = 1 -> true.
   */
  add(prog: bigint | null): { changed: boolean; placement: 'new-slot' | 'shared' | 'fallback' | 'none' } {
    if (prog === null) return { changed: false, placement: 'none' };
    const existing = this.find(prog);
    if (existing !== undefined) {
      existing.users++;
      return { changed: false, placement: 'shared' };
    }
    const free = this.slots.indexOf(null);
    if (free < 0) return { changed: false, placement: 'fallback' };
    this.slots[free] = { prog, users: 1 };
    return { changed: true, placement: 'new-slot' };
  }

  /** `bpf_dispatcher_remove_prog`: null or absent -> false; users--, at 0 free the slot -> true. */
  remove(prog: bigint | null): boolean {
    if (prog === null) return false;
    const index = this.slots.findIndex((s) => s !== null && s.prog === prog);
    const slot = this.slots[index];
    if (slot === undefined || slot === null) return false;
    slot.users--;
    if (slot.users > 0) return false;
    this.slots[index] = null;
    return true;
  }

  /** The occupied slots, in slot order. */
  entries(): Slot[] {
    return this.slots.filter((s) => s !== null).map((s) => ({ prog: s.prog, users: s.users }));
  }

  /** Program addresses of the occupied slots. */
  progs(): bigint[] {
    return this.slots.filter((s) => s !== null).map((s) => s.prog);
  }

  /** A copy of the state, for rollback. */
  save(): ({ prog: bigint; users: number } | null)[] {
    return this.slots.map((s) => (s === null ? null : { ...s }));
  }

  /** Restore a state from {@link save}. */
  restore(saved: ({ prog: bigint; users: number } | null)[]): void {
    this.slots = saved.map((s) => (s === null ? null : { ...s }));
  }
}
