/**
 * Keeps the pages under raw memory views that JS may still hold mapped after the arena is
 * disposed, so that a stale view can never touch unmapped memory.
 *
 * koffi's views are external ArrayBuffers that cannot be detached (Node 20 neither
 * detaches them on transfer nor has `ArrayBuffer.prototype.transfer`), so on dispose the
 * pages under views not yet garbage-collected are replaced by an inert anonymous mapping
 * (zero-filled, read-write) at the same address; the others are unmapped. A
 * FinalizationRegistry unmaps an inert page once the last view over it is collected.
 */
const PAGE = 4096;

/** How to change the memory of one page run. */
export interface PageOps {
  /** Replace [address, address + length) by inert memory (on failure, leave it mapped as it is). */
  inert(address: bigint, length: number): void;
  unmap(address: bigint, length: number): void;
}

interface Held {
  readonly pages: ViewPages;
  readonly first: number;
  readonly last: number;
}

const registry = new FinalizationRegistry<Held>((held) => held.pages.dropped(held.first, held.last));

/** The pages of one data mapping and the raw views over them. */
export class ViewPages {
  /** Views not yet collected per page. */
  private readonly counts = new Map<number, number>();
  private retired = false;

  constructor(
    private readonly base: bigint,
    private readonly size: number,
    private readonly ops: PageOps,
  ) {}

  /** A view over [offset, offset + length) of the mapping was handed out. */
  track(view: ArrayBuffer, offset: number, length: number): void {
    const first = Math.floor(offset / PAGE);
    const last = Math.floor((offset + Math.max(1, length) - 1) / PAGE);
    for (let p = first; p <= last; p++) this.counts.set(p, (this.counts.get(p) ?? 0) + 1);
    registry.register(view, { pages: this, first, last });
  }

  /** Pages with a live view, as runs [firstPage, endPage). */
  private runs(pinned: boolean): [number, number][] {
    const out: [number, number][] = [];
    const pages = Math.ceil(this.size / PAGE);
    let start = -1;
    for (let p = 0; p <= pages; p++) {
      const match = p < pages && (this.counts.get(p) ?? 0) > 0 === pinned;
      if (match && start < 0) start = p;
      if (!match && start >= 0) {
        out.push([start, p]);
        start = -1;
      }
    }
    return out;
  }

  private address(page: number): bigint {
    return this.base + BigInt(page * PAGE);
  }

  /** The arena is disposed: unmap what no view covers, make the rest inert. */
  retire(): void {
    this.retired = true;
    for (const [first, end] of this.runs(false)) this.ops.unmap(this.address(first), (end - first) * PAGE);
    for (const [first, end] of this.runs(true)) this.ops.inert(this.address(first), (end - first) * PAGE);
  }

  /** Pages still kept mapped for views (after retire). */
  get pinnedPages(): number {
    let n = 0;
    for (const count of this.counts.values()) if (count > 0) n++;
    return n;
  }

  /** A view over pages first..last was garbage-collected. */
  dropped(first: number, last: number): void {
    for (let p = first; p <= last; p++) {
      const count = (this.counts.get(p) ?? 1) - 1;
      if (count > 0) {
        this.counts.set(p, count);
        continue;
      }
      this.counts.delete(p);
      if (this.retired) this.ops.unmap(this.address(p), PAGE);
    }
  }
}
