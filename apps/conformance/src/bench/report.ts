import type { LoadResult } from './load-times.js';
import { textTable } from './text-table.js';

/**
 * The groups of cases: `packets` (the cover letter's cases), `mixed` (traffic over 16
 * programs), `calls` (call-only), `kernel` (the running kernel's `BPF_PROG_TEST_RUN`) and
 * `profile` (profile-guided dispatch and the kernel layout it is compared with).
 */
export type CaseGroup = 'packets' | 'mixed' | 'calls' | 'kernel' | 'profile';

/** Results of one benchmark case. */
export interface CaseResult {
  readonly case: string;
  readonly group: CaseGroup;
  readonly entries: number | null;
  readonly runs: number;
  /** Packets (or calls, or kernel runs) per run. */
  readonly per_run: number;
  readonly mpps_median: number;
  readonly mpps_min: number;
  readonly mpps_max: number;
  readonly ns_per_packet_median: number;
  readonly ns_per_packet_min: number;
  readonly ns_per_packet_max: number;
  /** Wall nanoseconds of every run, in the order they ran (each run is `per_run` packets). */
  readonly samples_ns: readonly number[];
  /** Change of the median against the group's baseline, percent (null for the baseline itself). */
  readonly pct_vs_baseline: number | null;
  /** Instructions per packet, counted on the simulated CPU (packet and profile cases). */
  readonly instructions_per_packet?: number | null;
  /** Kernel cases: the kernel's own `duration` of every run (ns per repeat), in run order. */
  readonly kernel_reported_samples_ns?: readonly number[];
  /** Kernel cases: the median of {@link kernel_reported_samples_ns}. */
  readonly kernel_reported_ns_median?: number;
}

/** The kernel's cases (group `kernel`), or why they could not run here. */
export type KernelResults = { readonly cases: readonly CaseResult[] } | { readonly skipped: string };

/** Everything one run of `bench` measured, and its targets. */
export interface BenchReport {
  readonly packets: readonly CaseResult[];
  readonly mixed: readonly CaseResult[];
  readonly calls: readonly CaseResult[];
  /** `kernel-dispatcher-N`, `kernel-full`, or the single `kernel-test-run` (the same as `kernel-dispatcher-1`). */
  readonly kernel: KernelResults;
  /** `profile-hot-16`, `zipf-kernel-16`, `zipf-profile-16`, `uniform-kernel-16`, `uniform-profile-16` (any of them; may be empty). */
  readonly profile: readonly CaseResult[];
  /** Load times of the shipped objects (absent: the section is left out). */
  readonly loads?: readonly LoadResult[];
  readonly targets: readonly TargetResult[];
}

/** One target of the issue, evaluated. */
export interface TargetResult {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean;
}

/** The original measurements (cover letter v1: i40e 40GbE, 3 GHz Skylake, 64-byte UDP). */
export const ORIGINAL_MPPS: Readonly<Record<string, number>> = Object.freeze({
  baseline: 22.7,
  'dispatcher-1': 31.7,
  'dispatcher-2': 32.2,
  'dispatcher-3': 31.3,
  'dispatcher-4': 32.0,
  'dispatcher-5': 31.2,
  'dispatcher-6': 31.2,
  'dispatcher-7': 30.2,
  'dispatcher-8': 31.3,
  'dispatcher-9': 30.1,
  'dispatcher-10': 31.6,
  'dispatcher-11': 31.1,
  'dispatcher-12': 30.9,
  'dispatcher-13': 30.4,
  'dispatcher-14': 31.2,
  'dispatcher-15': 30.9,
  'dispatcher-16': 32.1,
  full: 22.4,
});

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/**
 * Summarise the runs of a case: `nanos` are the wall nanoseconds of each run of `perRun`
 * packets; `kernelNs` (kernel cases) the kernel's own duration of each run, ns per repeat.
 */
export function summarise(
  name: string,
  group: CaseGroup,
  entries: number | null,
  perRun: number,
  nanos: readonly number[],
  kernelNs?: readonly number[],
): Omit<CaseResult, 'pct_vs_baseline'> {
  const mpps = nanos.map((ns) => (perRun / ns) * 1e3);
  const perPacket = nanos.map((ns) => ns / perRun);
  return {
    case: name,
    group,
    entries,
    runs: nanos.length,
    per_run: perRun,
    mpps_median: median(mpps),
    mpps_min: Math.min(...mpps),
    mpps_max: Math.max(...mpps),
    ns_per_packet_median: median(perPacket),
    ns_per_packet_min: Math.min(...perPacket),
    ns_per_packet_max: Math.max(...perPacket),
    samples_ns: [...nanos],
    ...(kernelNs === undefined || kernelNs.length === 0
      ? {}
      : { kernel_reported_samples_ns: [...kernelNs], kernel_reported_ns_median: median(kernelNs) }),
  };
}

/** Add the change against a baseline case of the same group. */
export function withBaseline(results: Omit<CaseResult, 'pct_vs_baseline'>[], baselineName: string): CaseResult[] {
  const base = results.find((r) => r.case === baselineName);
  return results.map((r) => ({
    ...r,
    pct_vs_baseline: base === undefined || r.case === baselineName ? null : (r.mpps_median / base.mpps_median - 1) * 100,
  }));
}

const insn = (r: CaseResult | undefined) => (r?.instructions_per_packet == null ? '' : r.instructions_per_packet.toFixed(1));
const pct = (v: number | null) => (v === null ? '' : `${v >= 0 ? '+' : ''}${v.toFixed(0)}%`);
const pct1 = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
const signed1 = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
/** `median (min–max)` in ns, or '' without a case. */
const nsRange = (r: CaseResult | undefined) =>
  r === undefined ? '' : `${f2(r.ns_per_packet_median)} (${f2(r.ns_per_packet_min)}–${f2(r.ns_per_packet_max)})`;

/** The kernel's cases (none when skipped). */
export const kernelCases = (kernel: KernelResults): readonly CaseResult[] => ('skipped' in kernel ? [] : kernel.cases);

/**
 * Speed-up of `r` over `reference`, percent of throughput: reference ns / r's ns - 1, as
 * the `vs baseline` columns count it (null when either is missing or both are the same).
 */
export function gainOver(reference: CaseResult | undefined, r: CaseResult | undefined): number | null {
  if (reference === undefined || r === undefined || reference === r) return null;
  return (reference.ns_per_packet_median / r.ns_per_packet_median - 1) * 100;
}

/** One row of the side-by-side table: ours and the kernel's with the same number of dispatcher entries. */
export interface EntriesRow {
  /** `1`..`16` (more where the kernel has them), or `full`. */
  readonly label: string;
  /** Dispatcher entries, null for `full` (the dispatcher is full: the call falls back through the retpoline). */
  readonly entries: number | null;
  /** `dispatcher-N` or `full`. */
  readonly ours?: CaseResult;
  /** `kernel-dispatcher-N` (`kernel-test-run` as N = 1 when that is absent) or `kernel-full`. */
  readonly kernel?: CaseResult;
  /** Our gain over our `full` (percent; null on the `full` row). */
  readonly oursVsFull: number | null;
  /** Our gain over `baseline` (no dispatcher, the retpoline; percent). */
  readonly oursVsBaseline: number | null;
  /** The kernel's gain over `kernel-full` (percent; null on the `full` row). */
  readonly kernelVsFull: number | null;
}

const FULL = 'full' as const;

/** Row key of our packet case: its entries, `full`, or undefined (not in the table). */
function oursKey(name: string): number | typeof FULL | undefined {
  if (name === 'full') return FULL;
  const m = /^dispatcher-(\d+)$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** Row key of a kernel case: `kernel-dispatcher-N`, `kernel-full`, or `kernel-test-run` (N = 1) when there is no `kernel-dispatcher-1`. */
function kernelKey(name: string, all: readonly CaseResult[]): number | typeof FULL | undefined {
  if (name === 'kernel-full') return FULL;
  if (name === 'kernel-test-run') return all.some((r) => r.case === 'kernel-dispatcher-1') ? undefined : 1;
  const m = /^kernel-dispatcher-(\d+)$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** Ours and the kernel's side by side, one row per number of entries (ascending), then `full`. */
export function entriesRows(packets: readonly CaseResult[], kernel: KernelResults): EntriesRow[] {
  const ours = new Map<number | typeof FULL, CaseResult>();
  for (const r of packets) {
    const key = oursKey(r.case);
    if (key !== undefined) ours.set(key, r);
  }
  const kernels = kernelCases(kernel);
  const theirs = new Map<number | typeof FULL, CaseResult>();
  for (const r of kernels) {
    const key = kernelKey(r.case, kernels);
    if (key !== undefined) theirs.set(key, r);
  }
  const numbers = [...new Set([...ours.keys(), ...theirs.keys()].filter((k): k is number => k !== FULL))].sort((a, b) => a - b);
  const keys: (number | typeof FULL)[] = ours.has(FULL) || theirs.has(FULL) ? [...numbers, FULL] : numbers;
  const baseline = packets.find((r) => r.case === 'baseline');
  const oursFull = ours.get(FULL);
  const kernelFull = theirs.get(FULL);
  return keys.map((key) => {
    const o = ours.get(key);
    const k = theirs.get(key);
    return {
      label: String(key),
      entries: key === FULL ? null : key,
      ...(o === undefined ? {} : { ours: o }),
      ...(k === undefined ? {} : { kernel: k }),
      oursVsFull: gainOver(oursFull, o),
      oursVsBaseline: gainOver(baseline, o),
      kernelVsFull: gainOver(kernelFull, k),
    };
  });
}

/** The comparisons of the profile section: [case, compared with, the target it is judged by]. */
export const PROFILE_COMPARISONS: readonly (readonly [string, string, string | null])[] = Object.freeze([
  ['profile-hot-16', 'dispatcher-1', 'profile-hot-16 vs dispatcher-1'],
  ['profile-hot-16', 'dispatcher-16', null],
  ['zipf-profile-16', 'zipf-kernel-16', 'Zipf: profile vs kernel layout'],
  ['uniform-profile-16', 'uniform-kernel-16', 'uniform: profile vs kernel layout'],
]);

/** One comparison of the profile section: change of ns/packet (percent) and of instructions/packet. */
export interface ProfileComparison {
  readonly case: string;
  readonly against: string;
  readonly ns_pct: number;
  readonly insn_delta: number | null;
  readonly target: TargetResult | undefined;
}

/** The profile section's comparisons whose two cases were both measured. */
export function profileComparisons(
  packets: readonly CaseResult[],
  profile: readonly CaseResult[],
  targets: readonly TargetResult[],
): ProfileComparison[] {
  const all = [...packets, ...profile];
  const get = (name: string) => all.find((r) => r.case === name);
  const out: ProfileComparison[] = [];
  for (const [name, againstName, targetName] of PROFILE_COMPARISONS) {
    const r = profile.find((p) => p.case === name);
    const against = get(againstName);
    if (r === undefined || against === undefined) continue;
    out.push({
      case: name,
      against: againstName,
      ns_pct: (r.ns_per_packet_median / against.ns_per_packet_median - 1) * 100,
      insn_delta:
        r.instructions_per_packet == null || against.instructions_per_packet == null
          ? null
          : r.instructions_per_packet - against.instructions_per_packet,
      target: targets.find((t) => t.name === targetName),
    });
  }
  return out;
}

/** The rows of the profile section: the reference cases it compares with (from `packets`), then every profile case. */
export function profileRows(packets: readonly CaseResult[], profile: readonly CaseResult[]): CaseResult[] {
  if (profile.length === 0) return [];
  const references = [
    ...new Set(PROFILE_COMPARISONS.filter(([name]) => profile.some((p) => p.case === name)).map(([, against]) => against)),
  ];
  return [...packets.filter((r) => references.includes(r.case)), ...profile];
}

/** Profile-guided dispatch targets, each evaluated only when its cases were measured. */
function profileTargets(packets: readonly CaseResult[], profile: readonly CaseResult[]): TargetResult[] {
  const get = (name: string) => profile.find((r) => r.case === name);
  const targets: TargetResult[] = [];
  const hot = get('profile-hot-16');
  const one = packets.find((r) => r.case === 'dispatcher-1');
  if (hot !== undefined && one !== undefined) {
    const change = (hot.ns_per_packet_median / one.ns_per_packet_median - 1) * 100;
    targets.push({ name: 'profile-hot-16 vs dispatcher-1', target: '<= +5% ns/packet', value: pct1(change), met: change <= 5 });
  }
  const zipfKernel = get('zipf-kernel-16');
  const zipfProfile = get('zipf-profile-16');
  if (zipfKernel !== undefined && zipfProfile !== undefined) {
    const change = (zipfProfile.ns_per_packet_median / zipfKernel.ns_per_packet_median - 1) * 100;
    const ki = zipfKernel.instructions_per_packet;
    const pi = zipfProfile.instructions_per_packet;
    const counted = ki != null && pi != null;
    targets.push({
      name: 'Zipf: profile vs kernel layout',
      target: 'fewer insns and ns/packet',
      value: `${pct1(change)} ns, ${counted ? `${signed1(pi - ki)} insns` : 'insns not counted'}`,
      met: counted && pi < ki && zipfProfile.ns_per_packet_median < zipfKernel.ns_per_packet_median,
    });
  }
  const uniformKernel = get('uniform-kernel-16');
  const uniformProfile = get('uniform-profile-16');
  if (uniformKernel !== undefined && uniformProfile !== undefined) {
    const change = (uniformProfile.ns_per_packet_median / uniformKernel.ns_per_packet_median - 1) * 100;
    targets.push({ name: 'uniform: profile vs kernel layout', target: '<= +2% ns/packet', value: pct1(change), met: change <= 2 });
  }
  return targets;
}

/**
 * Evaluate the issue's targets: on the packet cases (dispatcher vs baseline, spread, full,
 * no-retpoline ceiling, the JIT against hand-written x86) and, where the profile cases were
 * measured, profile-guided dispatch (`profile-hot-16` at most 5% slower than
 * `dispatcher-1`; Zipf traffic: fewer instructions and nanoseconds per packet than the
 * kernel's layout; uniform traffic: at most 2% slower than it).
 */
export function evaluateTargets(packets: readonly CaseResult[], profile: readonly CaseResult[] = []): TargetResult[] {
  const get = (name: string) => packets.find((r) => r.case === name);
  const base = get('baseline');
  const ceiling = get('no-retpoline');
  const full = get('full');
  const dispatchers = packets.filter((r) => /^dispatcher-\d+$/.test(r.case));
  const core: TargetResult[] = [];
  if (base !== undefined && ceiling !== undefined && full !== undefined && dispatchers.length > 0) {
    const gains = dispatchers.map((d) => (d.mpps_median / base.mpps_median - 1) * 100);
    const medians = dispatchers.map((d) => d.mpps_median);
    const spread = ((Math.max(...medians) - Math.min(...medians)) / Math.min(...medians)) * 100;
    const fullDelta = (full.mpps_median / base.mpps_median - 1) * 100;
    const toCeiling = dispatchers.map((d) => Math.abs(d.mpps_median / ceiling.mpps_median - 1) * 100);
    core.push(
      {
        name: 'dispatcher 1..16 vs baseline',
        target: '>= +40%',
        value: `+${Math.min(...gains).toFixed(0)}% .. +${Math.max(...gains).toFixed(0)}%`,
        met: Math.min(...gains) >= 40,
      },
      { name: 'spread across 1..16 entries', target: '<= 5%', value: `${spread.toFixed(1)}%`, met: spread <= 5 },
      { name: 'full vs baseline', target: 'within +-3%', value: pct(fullDelta), met: Math.abs(fullDelta) <= 3 },
      {
        name: 'dispatcher vs no-retpoline',
        target: 'within 5%',
        value: `worst ${Math.max(...toCeiling).toFixed(1)}%`,
        met: Math.max(...toCeiling) <= 5,
      },
    );
  }
  const x86 = get('x86-rxq-info');
  const one = get('dispatcher-1');
  if (x86 !== undefined && one !== undefined) {
    core.push({
      name: 'eBPF xdp_rxq_info vs hand-written x86',
      target: '<= +10% ns/packet',
      value: pct((one.ns_per_packet_median / x86.ns_per_packet_median - 1) * 100),
      met: one.ns_per_packet_median <= x86.ns_per_packet_median * 1.1,
    });
  }
  return [...core, ...profileTargets(packets, profile)];
}

/** The targets that were missed. */
export const missedTargets = (targets: readonly TargetResult[]): TargetResult[] => targets.filter((t) => !t.met);

/** `bench --check`'s exit code: 1 when a target was missed, else 0. */
export function checkExitCode(targets: readonly TargetResult[]): 0 | 1 {
  return missedTargets(targets).length > 0 ? 1 : 0;
}

/** The kernel's single run of the same object as dispatcher-1 (`kernel-dispatcher-1`, else `kernel-test-run`). */
export function kernelOneEntry(kernel: KernelResults): CaseResult | undefined {
  const cases = kernelCases(kernel);
  return cases.find((r) => r.case === 'kernel-dispatcher-1') ?? cases.find((r) => r.case === 'kernel-test-run');
}

const kernelOwn = (r: CaseResult | undefined) => (r?.kernel_reported_ns_median === undefined ? '' : f1(r.kernel_reported_ns_median));

/** Header and cells of the side-by-side table (without the kernel's columns when they were skipped). */
function entriesTable(report: BenchReport): { head: string[]; rows: string[][] } {
  const withKernel = !('skipped' in report.kernel);
  const head = ['entries', 'ours ns/packet (min–max)', 'ours vs full', 'ours vs baseline'];
  if (withKernel) head.push('kernel ns/run (min–max)', "kernel's own ns", 'kernel vs kernel-full');
  const rows = entriesRows(report.packets, report.kernel).map((row) => {
    const cells = [row.label, nsRange(row.ours), pct(row.oursVsFull), pct(row.oursVsBaseline)];
    if (withKernel) cells.push(nsRange(row.kernel), kernelOwn(row.kernel), pct(row.kernelVsFull));
    return cells;
  });
  return { head, rows };
}

const runsOf = (report: BenchReport) => report.packets[0]?.runs ?? 0;

/** The eBPF lines of the text report. */
function ebpfText(report: BenchReport): string[] {
  const { packets, loads } = report;
  const lines = ['', 'eBPF: xdp_rxq_info compiled from C (bpf/xdp_rxq_info.bpf.c), verified and JIT-compiled'];
  const one = packets.find((r) => r.case === 'dispatcher-1');
  const x86 = packets.find((r) => r.case === 'x86-rxq-info');
  if (one !== undefined && x86 !== undefined) {
    lines.push(
      `  per packet through the i40e copy loop: eBPF ${f2(one.ns_per_packet_median)} ns (${insn(one)} insns), hand-written x86 ${f2(x86.ns_per_packet_median)} ns (${insn(x86)} insns)`,
    );
  }
  const kernel = kernelOneEntry(report.kernel);
  if ('skipped' in report.kernel) lines.push(`  kernel BPF_PROG_TEST_RUN: skipped (${report.kernel.skipped})`);
  else if (kernel !== undefined)
    lines.push(
      `  kernel BPF_PROG_TEST_RUN of the same object: ${f2(kernel.ns_per_packet_median)} ns per run (kernel's own duration ${kernelOwn(kernel)} ns)`,
    );
  if (loads !== undefined && loads.length > 0) {
    lines.push(`  load time, ms (median of ${loads[0]?.samples ?? 0}; best total in brackets):`);
    const rows = loads.map((l) =>
      l.error !== undefined
        ? [l.object, '', '', `did not load: ${l.error}`]
        : [
            l.object,
            String(l.programs),
            String(l.insns),
            f2(l.parse_ms),
            f2(l.maps_ms),
            f2(l.verify_ms),
            f2(l.jit_ms),
            `${f2(l.total_ms)} (${f2(l.total_ms_best)})`,
          ],
    );
    lines.push(...textTable(['object', 'programs', 'insns', 'parse', 'maps', 'verify', 'JIT', 'total'], rows, undefined, '    '));
  }
  return lines;
}

/** The profile section's lines (none without profile cases). */
function profileText(report: BenchReport): string[] {
  const rows = profileRows(report.packets, report.profile);
  if (rows.length === 0) return [];
  const comparisons = profileComparisons(report.packets, report.profile, report.targets);
  return [
    '',
    `profile-guided dispatch, 16 programs: ns per packet, median (min–max) of ${rows[0]?.runs ?? 0} runs, and instructions per packet`,
    ...textTable(
      ['case', 'ns/packet (min–max)', 'insn/packet'],
      rows.map((r) => [r.case, nsRange(r), insn(r)]),
    ),
    ...(comparisons.length === 0
      ? []
      : [
          '',
          ...textTable(
            ['comparison', 'ns/packet', 'insn/packet', 'target'],
            comparisons.map((c) => [
              `${c.case} vs ${c.against}`,
              pct1(c.ns_pct),
              c.insn_delta === null ? '' : signed1(c.insn_delta),
              c.target === undefined ? '' : `${c.target.target}: ${c.target.met ? 'met' : 'MISSED'}`,
            ]),
            ['left', 'right', 'right', 'left'],
          ),
        ]),
  ];
}

/** The plain-text report. */
export function formatText(report: BenchReport): string {
  const { packets, mixed, calls, targets } = report;
  const lines: string[] = [];
  lines.push('64-byte UDP through the i40e copy-mode poll loop into xdp_rxq_info (XDP_DROP), one rx ring');
  lines.push(
    ...textTable(
      ['case', 'Mpps', 'min', 'max', 'ns/pkt', 'insn/pkt', 'vs base', 'original'],
      [...packets, ...mixed].map((r) => {
        const orig = ORIGINAL_MPPS[r.case];
        const origPct = orig === undefined || r.case === 'baseline' ? '' : ` (${pct((orig / 22.7 - 1) * 100)})`;
        return [
          r.case,
          f1(r.mpps_median),
          f1(r.mpps_min),
          f1(r.mpps_max),
          f2(r.ns_per_packet_median),
          insn(r),
          pct(r.pct_vs_baseline),
          orig === undefined ? '' : `${orig.toFixed(1)} Mpps${origPct}`,
        ];
      }),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  );
  lines.push('');
  lines.push(
    `ours and the kernel's dispatcher by entries: ns per packet (the kernel: per BPF_PROG_TEST_RUN run), median (min–max) of ${runsOf(report)} runs; "vs": the speed-up over the retpoline fallback`,
  );
  if ('skipped' in report.kernel) lines.push(`(kernel columns skipped: ${report.kernel.skipped})`);
  const entries = entriesTable(report);
  lines.push(...textTable(entries.head, entries.rows));
  lines.push(...profileText(report));
  lines.push('');
  lines.push('call-only: ns per call (native loop, program returns at once)');
  lines.push(
    ...textTable(
      ['case', 'ns/call', 'vs retpoline'],
      calls.map((r) => [r.case, f2(r.ns_per_packet_median), pct(r.pct_vs_baseline)]),
    ),
  );
  lines.push(...ebpfText(report));
  lines.push('');
  lines.push('targets');
  lines.push(
    ...textTable(
      ['', 'target', 'value', 'goal'],
      targets.map((t) => [t.met ? 'met' : 'MISSED', t.name, t.value, t.target]),
      ['left', 'left', 'left', 'left'],
    ),
  );
  return lines.join('\n');
}

const mdRow = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
const mdAlign = (columns: number) => `|---|${'---:|'.repeat(columns - 1)}`;

/** The Markdown report (the tables of the README). */
export function formatMarkdown(report: BenchReport, machine: string): string {
  const { packets, mixed, calls, targets, loads } = report;
  const one = kernelOneEntry(report.kernel);
  const kernel =
    'skipped' in report.kernel
      ? [`Kernel \`BPF_PROG_TEST_RUN\` skipped: ${report.kernel.skipped}.`, '']
      : one === undefined
        ? []
        : [
            `The kernel's own \`BPF_PROG_TEST_RUN\` of the same \`xdp_rxq_info.bpf.o\` (repeat ${one.per_run.toLocaleString('en-US')}, through the kernel's XDP dispatcher), same run: ${f2(one.ns_per_packet_median)} ns per run (${f2(one.mpps_min)}–${f2(one.mpps_max)} Mruns/s; the kernel's own duration ${kernelOwn(one)} ns).`,
            '',
          ];
  const loadRows =
    loads === undefined || loads.length === 0
      ? []
      : [
          '| object | programs | eBPF insns | parse ms | maps ms | verify ms | JIT ms | total ms (best) |',
          '|---|---:|---:|---:|---:|---:|---:|---:|',
          ...loads.map((l) =>
            l.error !== undefined
              ? `| ${l.object} | | | did not load: ${l.error} | | | | |`
              : `| ${l.object} | ${l.programs} | ${l.insns} | ${f2(l.parse_ms)} | ${f2(l.maps_ms)} | ${f2(l.verify_ms)} | ${f2(l.jit_ms)} | ${f2(l.total_ms)} (${f2(l.total_ms_best)}) |`,
          ),
          '',
        ];
  const rows = [...packets, ...mixed].map((r) => {
    const orig = ORIGINAL_MPPS[r.case];
    return `| ${r.case} | ${f1(r.mpps_median)} | ${f1(r.mpps_min)}–${f1(r.mpps_max)} | ${f2(r.ns_per_packet_median)} | ${insn(r)} | ${pct(r.pct_vs_baseline)} | ${orig === undefined ? '' : `${orig.toFixed(1)}${r.case === 'baseline' ? '' : ` (${pct((orig / 22.7 - 1) * 100)})`}`} |`;
  });
  const entries = entriesTable(report);
  const profile = profileRows(packets, report.profile);
  const comparisons = profileComparisons(packets, report.profile, targets);
  const profileSection =
    profile.length === 0
      ? []
      : [
          `Profile-guided dispatch, 16 programs: median (min–max) of ${profile[0]?.runs ?? 0} runs.`,
          '',
          '| case | ns/packet (min–max) | instructions/packet |',
          '|---|---:|---:|',
          ...profile.map((r) => mdRow([r.case, nsRange(r), insn(r)])),
          '',
          ...(comparisons.length === 0
            ? []
            : [
                '| comparison | ns/packet | instructions/packet | target |',
                '|---|---:|---:|---|',
                ...comparisons.map((c) =>
                  mdRow([
                    `${c.case} vs ${c.against}`,
                    pct1(c.ns_pct),
                    c.insn_delta === null ? '' : signed1(c.insn_delta),
                    c.target === undefined ? '' : `${c.target.target}: ${c.target.met ? 'met' : '**missed**'}`,
                  ]),
                ),
                '',
              ]),
        ];
  return [
    `Measured on ${machine}. 64-byte UDP frames, i40e copy-mode poll loop, \`xdp_rxq_info\` returning XDP_DROP; median of ${runsOf(report)} runs of ${(packets[0]?.per_run ?? 0).toLocaleString('en-US')} packets, cases interleaved.`,
    '',
    '| case | Mpps | min–max | ns/packet | instructions/packet | vs baseline | original Mpps (vs baseline) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Ours and the kernel's dispatcher by entries: ns per packet (the kernel's: per \`BPF_PROG_TEST_RUN\` run), median (min–max); "vs": the speed-up over the retpoline fallback (\`full\`, \`kernel-full\`) or \`baseline\`.${'skipped' in report.kernel ? ` Kernel columns skipped: ${report.kernel.skipped}.` : ''}`,
    '',
    mdRow(entries.head),
    mdAlign(entries.head.length),
    ...entries.rows.map(mdRow),
    '',
    ...profileSection,
    '| call-only | ns per call | vs retpoline |',
    '|---|---:|---:|',
    ...calls.map((r) => `| ${r.case} | ${f2(r.ns_per_packet_median)} | ${pct(r.pct_vs_baseline)} |`),
    '',
    ...kernel,
    ...loadRows,
    '| target | value | goal | |',
    '|---|---|---|---|',
    ...targets.map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.met ? 'met' : '**missed**'} |`),
    '',
  ].join('\n');
}
