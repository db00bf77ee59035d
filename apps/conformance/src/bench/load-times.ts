/**
 * Load time of the program objects: parse (open), create the maps, verify and JIT every
 * program (load), measured natively for each object the xdp-call package ships.
 */
import { NativeArena } from '@bpf-dispatcher/text-poke';
import { BUNDLED_OBJECTS, type BundledObjectName, openBundledObject } from '@bpf-dispatcher/xdp-call';

/** Load times of one object (milliseconds, medians over the samples, with the best sample). */
export interface LoadResult {
  readonly object: string;
  readonly programs: number;
  /** eBPF instruction slots over every program (subprograms linked in). */
  readonly insns: number;
  readonly samples: number;
  readonly parse_ms: number;
  readonly maps_ms: number;
  readonly verify_ms: number;
  readonly jit_ms: number;
  readonly total_ms: number;
  readonly total_ms_best: number;
  /** Set when the object did not load (the figures are then 0). */
  readonly error?: string;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Open and load each bundled object `samples` times (after one warm-up) and close it again. */
export async function measureLoadTimes(samples: number, objects: readonly BundledObjectName[] = BUNDLED_OBJECTS): Promise<LoadResult[]> {
  const arena = new NativeArena({ textSize: 4 << 20, dataSize: 16 << 20 });
  try {
    const results: LoadResult[] = [];
    for (const name of objects) {
      const rows: { parse: number; maps: number; verify: number; jit: number }[] = [];
      let programs = 0;
      let insns = 0;
      let error: string | undefined;
      for (let i = 0; i <= samples && error === undefined; i++) {
        let object: ReturnType<typeof openBundledObject>;
        try {
          object = openBundledObject(name).load(arena);
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
          break;
        }
        const t = object.timings;
        if (i > 0) rows.push({ parse: t.parseMs, maps: t.mapsMs, verify: t.verifyMs, jit: t.jitMs });
        programs = object.programs.length;
        insns = object.programs.reduce((n, p) => n + p.insns.length, 0);
        await object.close();
      }
      const totals = rows.map((r) => r.parse + r.maps + r.verify + r.jit);
      if (error !== undefined) {
        results.push({ object: `${name}.bpf.o`, programs, insns, samples: 0, parse_ms: 0, maps_ms: 0, verify_ms: 0, jit_ms: 0, total_ms: 0, total_ms_best: 0, error });
        continue;
      }
      results.push({
        object: `${name}.bpf.o`,
        programs,
        insns,
        samples,
        parse_ms: median(rows.map((r) => r.parse)),
        maps_ms: median(rows.map((r) => r.maps)),
        verify_ms: median(rows.map((r) => r.verify)),
        jit_ms: median(rows.map((r) => r.jit)),
        total_ms: median(totals),
        total_ms_best: Math.min(...totals),
      });
    }
    return results;
  } finally {
    arena.dispose();
  }
}
