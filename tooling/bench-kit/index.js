// Benchmark helpers: time a function in batches, summarise, describe the machine, write JSON.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Summary statistics of samples (any unit). */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: sorted[0],
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/**
 * Time `fn` in `batches` batches of `iterations` calls after `warmup` calls; each sample is
 * the mean time of one call within a batch, in nanoseconds.
 */
export function timeBatches(fn, { batches = 30, iterations = 1000, warmup = 1000 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return summarize(samples);
}

/** Time each call of `fn` separately (for latencies such as a poke); nanoseconds. */
export function timeEach(fn, { count = 1000, warmup = 50 } = {}) {
  for (let i = 0; i < warmup; i++) fn(i);
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return summarize(samples);
}

/** The machine a result was measured on. */
export function machine() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? model;
  } catch {}
  return {
    cpu: model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: process.platform,
    arch: process.arch,
    node: process.version,
  };
}

/** Write `{ benchmark, machine, date, results }` as JSON to `file` and return it. */
export function writeResults(file, benchmark, results) {
  const doc = { benchmark, date: new Date().toISOString(), machine: machine(), results };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return doc;
}

/** Format nanoseconds for a table. */
export function ns(value) {
  return value >= 1e6 ? `${(value / 1e6).toFixed(2)} ms` : value >= 1e3 ? `${(value / 1e3).toFixed(2)} us` : `${value.toFixed(1)} ns`;
}
