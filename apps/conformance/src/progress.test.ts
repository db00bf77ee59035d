import { describe, expect, it } from 'vitest';
import { eta, formatDuration, progressLine } from './progress.js';

describe('progress', () => {
  it('formats durations', () => {
    expect([0, 4.4, 59, 60, 185, 3600, 3725].map(formatDuration)).toEqual([
      '0 s',
      '4 s',
      '59 s',
      '1 min 00 s',
      '3 min 05 s',
      '1 h 00 min',
      '1 h 02 min',
    ]);
  });

  it('estimates the time left by whichever limit comes first', () => {
    // 1,000 updates in 1 s, 9,000 to go: 9 s by count, 29 s by time
    expect(eta(1_000, 10_000, 1_000, 30)).toEqual({ seconds: 9, by: 'count' });
    // 100 updates in 10 s, 1,000,000 to go: the time limit (20 s left) comes first
    expect(eta(100, 1_000_000, 10_000, 30)).toEqual({ seconds: 20, by: 'seconds' });
    expect(eta(0, 10, 0, 30)).toEqual({ seconds: 30, by: 'seconds' });
    expect(eta(50, 10, 1_000, 30)).toEqual({ seconds: 0, by: 'count' });
    expect(eta(50, 1_000, 40_000, 30)).toEqual({ seconds: 0, by: 'seconds' });
  });

  it('draws nothing when the stream is not a terminal or when disabled', () => {
    const written: string[] = [];
    const fake = { isTTY: false, columns: 80, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    progressLine(true, fake).update('x');
    progressLine(false, { ...fake, isTTY: true } as unknown as NodeJS.WriteStream).update('x');
    expect(written).toEqual([]);
    const tty = { ...fake, isTTY: true, columns: 10 } as unknown as NodeJS.WriteStream;
    const line = progressLine(true, tty);
    line.update('0123456789abc');
    line.done();
    expect(written).toEqual(['\r\x1b[2K012345678', '\r\x1b[2K']);
  });
});
