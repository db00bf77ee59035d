export interface Summary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}
export declare function percentile(sorted: readonly number[], p: number): number;
export declare function summarize(samples: readonly number[]): Summary;
export declare function timeBatches(fn: () => unknown, options?: { batches?: number; iterations?: number; warmup?: number }): Summary;
export declare function timeEach(fn: (i: number) => unknown, options?: { count?: number; warmup?: number }): Summary;
export declare function machine(): { cpu: string; cores: number; memoryGiB: number; platform: string; arch: string; node: string };
export declare function writeResults<T>(file: string, benchmark: string, results: T): { benchmark: string; date: string; machine: ReturnType<typeof machine>; results: T };
export declare function ns(value: number): string;
