/**
 * Test support for `bpf-dispatcher run`: the test program whose verdict each frame picks
 * (packages/i40e/fixtures/xdp_mixed.bpf.o, used in place: the workspace's BPF build and
 * `--check` cover the packages' fixtures folders, not apps), a model of what it does, and frames.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * xdp_mixed: the low two bits of the first byte pick the verdict — 0 DROP, 1 PASS, 2 TX
 * with the MACs swapped, 3 PASS without the Ethernet header; frames under 14 bytes (or
 * that the header strip would leave under 14) are ABORTED.
 */
export const MIXED_OBJECT = fileURLToPath(new URL('../../../../packages/i40e/fixtures/xdp_mixed.bpf.o', import.meta.url));

/** A verdict of xdp_mixed. */
export type MixedVerdict = 'ABORTED' | 'DROP' | 'PASS' | 'TX';

/** What xdp_mixed does to `frame`: its verdict and, for PASS and TX, the bytes it leaves. */
export function mixedModel(frame: Uint8Array): { verdict: MixedVerdict; out?: Uint8Array } {
  if (frame.length < 14) return { verdict: 'ABORTED' };
  switch ((frame[0] as number) & 3) {
    case 0:
      return { verdict: 'DROP' };
    case 1:
      return { verdict: 'PASS', out: frame };
    case 2: {
      const out = frame.slice();
      out.set(frame.subarray(6, 12), 0);
      out.set(frame.subarray(0, 6), 6);
      return { verdict: 'TX', out };
    }
    default:
      return frame.length - 14 < 14 ? { verdict: 'ABORTED' } : { verdict: 'PASS', out: frame.subarray(14) };
  }
}

/** `count` frames of pseudo-random bytes, lengths 0..`maxLength` (one in eight under 14 bytes), from `seed`. */
export function randomFrames(count: number, maxLength: number, seed: number): Uint8Array[] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return Array.from({ length: count }, () => {
    const length = next() % 8 === 0 ? next() % 14 : 14 + (next() % (maxLength - 13));
    return Uint8Array.from({ length }, () => next() & 0xff);
  });
}

/** Scratch folders under the system's temporary folder: `make()` one, `removeAll()` of them (in `afterAll`). */
export function scratchDirs(prefix: string): { make(): string; removeAll(): void } {
  const made: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
