/** A one-line progress display on a terminal's stderr (nothing when stderr is not a TTY). */
export interface ProgressLine {
  /** Redraw the line. */
  update(text: string): void;
  /** Clear the line (before the final output). */
  done(): void;
}

/** Format a duration in seconds as `42 s`, `3 min 05 s` or `1 h 02 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A progress line on `stream` (default stderr), redrawn in place with `\r`, or a no-op when
 * `enabled` is false or the stream is not a terminal (pipes, CI logs, `--json -`).
 */
export function progressLine(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!enabled || !stream.isTTY) return { update: () => {}, done: () => {} };
  let shown = false;
  return {
    update(text) {
      const width = stream.columns > 1 ? stream.columns - 1 : 79;
      stream.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}

/**
 * Seconds left in a run limited both by time and by a count, whichever comes first:
 * the time left, or the count left at the rate so far (the time left while no rate is known).
 */
export function eta(done: number, limit: number, elapsedMs: number, maxSeconds: number): { seconds: number; by: 'seconds' | 'count' } {
  const byTime = Math.max(0, maxSeconds - elapsedMs / 1000);
  if (done <= 0 || elapsedMs <= 0) return { seconds: byTime, by: 'seconds' };
  const byCount = Math.max(0, (limit - done) / (done / (elapsedMs / 1000)));
  return byCount < byTime ? { seconds: byCount, by: 'count' } : { seconds: byTime, by: 'seconds' };
}
