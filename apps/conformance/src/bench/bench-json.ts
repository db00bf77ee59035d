import type { LoadResult } from './load-times.js';
import { type BenchReport, type CaseResult, type TargetResult, kernelCases, kernelOneEntry } from './report.js';

/**
 * Version of the document `bench --json` writes. 1 was the unversioned document before
 * this field existed; 2 added `schema_version`, `tool`, `kernel`, and to every case
 * `samples_ns`, `ns_per_packet_min`, `ns_per_packet_max` (and to kernel cases
 * `kernel_reported_samples_ns`, `kernel_reported_ns_median`). Every field of 1 is kept with
 * its meaning: readers of 1 read 2.
 */
export const BENCH_SCHEMA_VERSION = 2;

/** The machine a run was measured on (bench-kit's `machine()`). */
export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly arch: string;
  readonly node: string;
}

/** The eBPF part (kept from schema 1): load times, and the kernel's run of the same object with one entry in its dispatcher. */
export interface EbpfReport {
  readonly loads: readonly LoadResult[];
  /** `kernel-dispatcher-1` (else `kernel-test-run`) with `kernel_reported_ns`, the kernel's own duration of its last run; or why it was skipped. */
  readonly kernel: (CaseResult & { readonly kernel_reported_ns: number }) | { readonly skipped: string };
}

/** The `bench --json` document. */
export interface BenchJson {
  readonly schema_version: typeof BENCH_SCHEMA_VERSION;
  /** The CLI that wrote it: `bpf-dispatcher` and its version, as `--version` prints it. */
  readonly tool: { readonly name: string; readonly version: string };
  /** ISO 8601 time of the run. */
  readonly date: string;
  readonly quick: boolean;
  readonly pinnedCpu: number | null;
  readonly machine: MachineInfo;
  /** Every case of every group (packets, mixed, calls, kernel, profile), with the machine as text. */
  readonly cases: readonly (CaseResult & { readonly machine: string })[];
  /** Present when the kernel's cases could not run: why. */
  readonly kernel?: { readonly skipped: string };
  readonly targets: readonly TargetResult[];
  readonly ebpf: EbpfReport;
}

/** What the JSON document says about the run besides its results. */
export interface BenchRunInfo {
  readonly toolVersion: string;
  readonly date: string;
  readonly quick: boolean;
  readonly pinnedCpu: number | null;
  readonly machine: MachineInfo;
  /** The machine in one line, as the Markdown report says it. */
  readonly machineText: string;
}

/** The eBPF part of the document (schema 1's `ebpf`). */
export function ebpfReport(report: BenchReport): EbpfReport {
  const loads = report.loads ?? [];
  if ('skipped' in report.kernel) return { loads, kernel: { skipped: report.kernel.skipped } };
  const one = kernelOneEntry(report.kernel);
  if (one === undefined) return { loads, kernel: { skipped: 'no kernel case with one entry was measured' } };
  return { loads, kernel: { ...one, kernel_reported_ns: one.kernel_reported_samples_ns?.at(-1) ?? 0 } };
}

/** The `bench --json` document of a run. */
export function benchJson(report: BenchReport, info: BenchRunInfo): BenchJson {
  const cases = [...report.packets, ...report.mixed, ...report.calls, ...kernelCases(report.kernel), ...report.profile];
  return {
    schema_version: BENCH_SCHEMA_VERSION,
    tool: { name: 'bpf-dispatcher', version: info.toolVersion },
    date: info.date,
    quick: info.quick,
    pinnedCpu: info.pinnedCpu,
    machine: info.machine,
    cases: cases.map((r) => ({ ...r, machine: info.machineText })),
    ...('skipped' in report.kernel ? { kernel: { skipped: report.kernel.skipped } } : {}),
    targets: report.targets,
    ebpf: ebpfReport(report),
  };
}
