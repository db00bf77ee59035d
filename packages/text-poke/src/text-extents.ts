import { TextPokeError } from './errors.js';

/** One `write()` into text: bytes [start, end) as offsets from the start of text. */
interface Extent {
  start: number;
  end: number;
  /** Entered by `call()`, written by `emitText` or published: live for good (until freed). */
  published: boolean;
  /** Poke sites whose instruction currently jumps or calls into this extent. */
  sites: number;
  /** Grace-period ticket current when it was retired (its last site left), or -1. */
  retiredAt: number;
}

/** What may be done with an extent. */
export type ExtentState = 'idle' | 'live' | 'retired';

/**
 * Which text bytes hold written code, and which of it may be running: the bookkeeping
 * behind the rule that live text changes only through the checked poke (the kernel's
 * `text_poke` discipline) and retired text only after a grace period.
 *
 * Each `write()` into text is one extent. An extent is live once `call()` entered it,
 * `emitText` wrote it, it was published, or while a poke site targets it; when the last
 * site leaves an extent that was never otherwise live it is retired, and writable again
 * only after a `synchronize()` that started after the retirement has completed.
 */
export class TextExtents {
  /** Sorted by start, non-overlapping. */
  private extents: Extent[] = [];
  /** Poke site (text offset) -> the extent its instruction targets. */
  private readonly siteTargets = new Map<number, Extent>();
  private syncStarted = 0;
  private syncCompleted = 0;

  /** A grace period starts: returns its ticket. */
  beginGrace(): number {
    return ++this.syncStarted;
  }

  /** The grace period with `ticket` completed. */
  endGrace(ticket: number): void {
    if (ticket > this.syncCompleted) this.syncCompleted = ticket;
  }

  private stateOf(e: Extent): ExtentState {
    if (e.published || e.sites > 0) return 'live';
    if (e.retiredAt >= 0 && this.syncCompleted <= e.retiredAt) return 'retired';
    return 'idle';
  }

  /** Index of the first extent whose end is > offset. */
  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.extents[mid] as Extent).end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private overlapping(start: number, end: number): Extent[] {
    const out: Extent[] = [];
    for (let i = this.firstEndingAfter(start); i < this.extents.length; i++) {
      const e = this.extents[i] as Extent;
      if (e.start >= end) break;
      out.push(e);
    }
    return out;
  }

  /** The extent holding the byte at `offset`, if any. */
  private containing(offset: number): Extent | undefined {
    const e = this.extents[this.firstEndingAfter(offset)];
    return e !== undefined && e.start <= offset ? e : undefined;
  }

  /** True if the byte at `offset` was written. */
  isWritten(offset: number): boolean {
    return this.containing(offset) !== undefined;
  }

  /** State of the extent holding `offset` (undefined if that byte was never written). */
  stateAt(offset: number): ExtentState | undefined {
    const e = this.containing(offset);
    return e === undefined ? undefined : this.stateOf(e);
  }

  /**
   * Record a write of [start, end): the parts of older extents it covers are replaced.
   * @throws TextPokeError EBUSY if it overlaps live or retired text (nothing is recorded).
   */
  write(start: number, end: number, describe: (offset: number) => string): void {
    if (end <= start) return;
    const hit = this.overlapping(start, end);
    for (const e of hit) {
      const state = this.stateOf(e);
      if (state === 'idle') continue;
      const why =
        state === 'live'
          ? e.sites > 0
            ? `a poke site jumps into it (${e.sites} site${e.sites === 1 ? '' : 's'})`
            : 'it was called, emitted by emitText or published'
          : 'it was retired (its last poke site left) and no synchronize() started since has completed';
      throw new TextPokeError(
        'EBUSY',
        `write: ${describe(start)} overlaps live text [${describe(e.start)}, +${e.end - e.start}) (${why}); live text changes only through textPoke(), retired text only after synchronize()`,
      );
    }
    // sites inside the overwritten bytes no longer hold their instruction
    for (const [site, target] of this.siteTargets) {
      if (site >= start && site < end) this.dropSite(site, target);
    }
    const pieces: Extent[] = [];
    for (const e of hit) {
      if (e.start < start) pieces.push({ ...e, end: start });
      if (e.end > end) pieces.push({ ...e, start: end });
    }
    pieces.push({ start, end, published: false, sites: 0, retiredAt: -1 });
    pieces.sort((a, b) => a.start - b.start);
    const at = this.firstEndingAfter(start);
    this.extents.splice(at, hit.length, ...pieces);
  }

  /**
   * Make the extents covering [start, end) live for good.
   * @throws TextPokeError EINVAL if a byte of the range was never written.
   */
  publish(start: number, end: number, describe: (offset: number) => string): void {
    let cursor = start;
    const hit = this.overlapping(start, end);
    for (const e of hit) {
      if (e.start > cursor) break;
      cursor = e.end;
    }
    if (cursor < end) throw new TextPokeError('EINVAL', `publish: ${describe(cursor)} holds no written code; write() the code first`);
    for (const e of hit) e.published = true;
  }

  /** `call()` enters the code at `offset`: false if no code was written there. */
  enter(offset: number): boolean {
    const e = this.containing(offset);
    if (e === undefined) return false;
    e.published = true;
    return true;
  }

  /**
   * The poke site at `site` now targets text `target` (undefined: the nop, or code outside
   * this arena's text). The extent it targeted before loses a site and is retired if that
   * was its last and it was never otherwise live.
   */
  retarget(site: number, target: number | undefined): void {
    const before = this.siteTargets.get(site);
    if (before !== undefined) this.dropSite(site, before);
    if (target === undefined) return;
    const e = this.containing(target);
    if (e === undefined) return;
    e.sites++;
    this.siteTargets.set(site, e);
  }

  private dropSite(site: number, e: Extent): void {
    this.siteTargets.delete(site);
    e.sites--;
    if (e.sites === 0 && !e.published) e.retiredAt = this.syncStarted;
  }

  /**
   * Forget [start, end) (a region is freed): its extents and the poke sites inside it.
   * @throws TextPokeError EBUSY if a poke site outside the range still targets it.
   */
  release(start: number, end: number, describe: (offset: number) => string): void {
    const hit = this.overlapping(start, end);
    for (const [site, target] of this.siteTargets) {
      if ((site < start || site >= end) && hit.includes(target)) {
        throw new TextPokeError('EBUSY', `free: the poke site at ${describe(site)} still jumps into this region; poke it away first`);
      }
    }
    for (const [site, target] of this.siteTargets) {
      if (site >= start && site < end) this.dropSite(site, target);
    }
    this.extents.splice(this.firstEndingAfter(start), hit.length);
  }
}
