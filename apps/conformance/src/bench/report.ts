import type { LoadResult } from './load-times.js';

/** Results of one benchmark case. */
export interface CaseResult {
  readonly case: string;
  readonly group: 'packets' | 'mixed' | 'calls' | 'kernel';
  readonly entries: number | null;
  readonly runs: number;
  /** Packets (or calls) per run. */
  readonly per_run: number;
  readonly mpps_median: number;
  readonly mpps_min: number;
  readonly mpps_max: number;
  readonly ns_per_packet_median: number;
  /** Change of the median against the group's baseline, percent (null for the baseline itself). */
  readonly pct_vs_baseline: number | null;
  /** Instructions per packet, counted on the simulated CPU (packet cases only). */
  readonly instructions_per_packet?: number | null;
}

/** The eBPF part of the report: load times of the program objects and the kernel's run of the same object. */
export interface EbpfReport {
  readonly loads: readonly LoadResult[];
  /** `BPF_PROG_TEST_RUN` of xdp_rxq_info.bpf.o (wall time per run, and the kernel's own `duration`), or why it was skipped. */
  readonly kernel: (CaseResult & { readonly kernel_reported_ns: number }) | { readonly skipped: string };
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

/** Summarise timings (ns per run) of a case. */
export function summarise(name: string, group: CaseResult['group'], entries: number | null, perRun: number, nanos: readonly number[]): Omit<CaseResult, 'pct_vs_baseline'> {
  const mpps = nanos.map((ns) => (perRun / ns) * 1e3);
  return {
    case: name,
    group,
    entries,
    runs: nanos.length,
    per_run: perRun,
    mpps_median: median(mpps),
    mpps_min: Math.min(...mpps),
    mpps_max: Math.max(...mpps),
    ns_per_packet_median: median(nanos.map((ns) => ns / perRun)),
  };
}

/** Add the change against a baseline case of the same group. */
export function withBaseline(results: Omit<CaseResult, 'pct_vs_baseline'>[], baselineName: string): CaseResult[] {
  const base = results.find((r) => r.case === baselineName);
  return results.map((r) => ({ ...r, pct_vs_baseline: base === undefined || r.case === baselineName ? null : (r.mpps_median / base.mpps_median - 1) * 100 }));
}

const insn = (r: CaseResult) => (r.instructions_per_packet == null ? '' : r.instructions_per_packet.toFixed(1));
const pct = (v: number | null) => (v === null ? '' : `${v >= 0 ? '+' : ''}${v.toFixed(0)}%`);
const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);

/** Evaluate the issue's targets on the packet cases. */
export function evaluateTargets(packets: readonly CaseResult[]): TargetResult[] {
  const get = (name: string) => packets.find((r) => r.case === name);
  const base = get('baseline');
  const ceiling = get('no-retpoline');
  const full = get('full');
  const dispatchers = packets.filter((r) => r.case.startsWith('dispatcher-'));
  if (base === undefined || ceiling === undefined || full === undefined || dispatchers.length === 0) return [];
  const gains = dispatchers.map((d) => (d.mpps_median / base.mpps_median - 1) * 100);
  const medians = dispatchers.map((d) => d.mpps_median);
  const spread = ((Math.max(...medians) - Math.min(...medians)) / Math.min(...medians)) * 100;
  const fullDelta = (full.mpps_median / base.mpps_median - 1) * 100;
  const toCeiling = dispatchers.map((d) => Math.abs(d.mpps_median / ceiling.mpps_median - 1) * 100);
  const x86 = get('x86-rxq-info');
  const one = get('dispatcher-1');
  const jit =
    x86 === undefined || one === undefined
      ? []
      : [
          {
            name: 'eBPF xdp_rxq_info vs hand-written x86',
            target: '<= +10% ns/packet',
            value: pct((one.ns_per_packet_median / x86.ns_per_packet_median - 1) * 100),
            met: one.ns_per_packet_median <= x86.ns_per_packet_median * 1.1,
          },
        ];
  return [
    { name: 'dispatcher 1..16 vs baseline', target: '>= +40%', value: `+${Math.min(...gains).toFixed(0)}% .. +${Math.max(...gains).toFixed(0)}%`, met: Math.min(...gains) >= 40 },
    { name: 'spread across 1..16 entries', target: '<= 5%', value: `${spread.toFixed(1)}%`, met: spread <= 5 },
    { name: 'full vs baseline', target: 'within +-3%', value: pct(fullDelta), met: Math.abs(fullDelta) <= 3 },
    { name: 'dispatcher vs no-retpoline', target: 'within 5%', value: `worst ${Math.max(...toCeiling).toFixed(1)}%`, met: Math.max(...toCeiling) <= 5 },
    ...jit,
  ];
}

/** The eBPF lines of the text report. */
function ebpfText(packets: readonly CaseResult[], ebpf: EbpfReport | undefined): string[] {
  if (ebpf === undefined) return [];
  const lines = ['', 'eBPF: xdp_rxq_info compiled from C (bpf/xdp_rxq_info.bpf.c), verified and JIT-compiled'];
  const one = packets.find((r) => r.case === 'dispatcher-1');
  const x86 = packets.find((r) => r.case === 'x86-rxq-info');
  if (one !== undefined && x86 !== undefined) {
    lines.push(`  per packet through the i40e copy loop: eBPF ${f2(one.ns_per_packet_median)} ns (${insn(one)} insns), hand-written x86 ${f2(x86.ns_per_packet_median)} ns (${insn(x86)} insns)`);
  }
  if ('skipped' in ebpf.kernel) lines.push(`  kernel BPF_PROG_TEST_RUN: skipped (${ebpf.kernel.skipped})`);
  else lines.push(`  kernel BPF_PROG_TEST_RUN of the same object: ${f2(ebpf.kernel.ns_per_packet_median)} ns per run (kernel's own duration ${ebpf.kernel.kernel_reported_ns} ns)`);
  lines.push(`  load time (median of ${ebpf.loads[0]?.samples ?? 0}): object, programs, insns, parse + maps + verify + JIT = total ms`);
  for (const l of ebpf.loads) {
    if (l.error !== undefined) {
      lines.push(`    ${l.object.padEnd(22)} did not load: ${l.error}`);
      continue;
    }
    lines.push(`    ${l.object.padEnd(22)} ${String(l.programs).padStart(2)} ${String(l.insns).padStart(5)}   ${f2(l.parse_ms)} + ${f2(l.maps_ms)} + ${f2(l.verify_ms)} + ${f2(l.jit_ms)} = ${f2(l.total_ms)} ms (best ${f2(l.total_ms_best)})`);
  }
  return lines;
}

/** The plain-text report. */
export function formatText(packets: readonly CaseResult[], mixed: readonly CaseResult[], calls: readonly CaseResult[], targets: readonly TargetResult[], ebpf?: EbpfReport): string {
  const lines: string[] = [];
  lines.push('64-byte UDP through the i40e copy-mode poll loop into xdp_rxq_info (XDP_DROP), one rx ring');
  lines.push(`${'case'.padEnd(20)} ${'Mpps'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)} ${'ns/pkt'.padStart(7)} ${'insn/pkt'.padStart(8)} ${'vs base'.padStart(8)}   original`);
  for (const r of [...packets, ...mixed]) {
    const orig = ORIGINAL_MPPS[r.case];
    const origPct = orig === undefined || r.case === 'baseline' ? '' : ` (${pct((orig / 22.7 - 1) * 100)})`;
    lines.push(
      `${r.case.padEnd(20)} ${f1(r.mpps_median).padStart(7)} ${f1(r.mpps_min).padStart(7)} ${f1(r.mpps_max).padStart(7)} ${f2(r.ns_per_packet_median).padStart(7)} ${insn(r).padStart(8)} ${pct(r.pct_vs_baseline).padStart(8)}   ${orig === undefined ? '' : `${orig.toFixed(1)} Mpps${origPct}`}`,
    );
  }
  lines.push('');
  lines.push('call-only: ns per call (native loop, program returns at once)');
  for (const r of calls) lines.push(`${r.case.padEnd(20)} ${f2(r.ns_per_packet_median).padStart(7)} ns   ${pct(r.pct_vs_baseline)}`);
  lines.push(...ebpfText(packets, ebpf));
  lines.push('');
  lines.push('targets');
  for (const t of targets) lines.push(`${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(30)} ${t.value.padEnd(16)} (target ${t.target})`);
  return lines.join('\n');
}

/** The Markdown report (the table of the README). */
export function formatMarkdown(
  packets: readonly CaseResult[],
  mixed: readonly CaseResult[],
  calls: readonly CaseResult[],
  targets: readonly TargetResult[],
  machine: string,
  ebpf?: EbpfReport,
): string {
  const kernel = ebpf === undefined ? [] : 'skipped' in ebpf.kernel ? [`Kernel \`BPF_PROG_TEST_RUN\` skipped: ${ebpf.kernel.skipped}.`, ''] : [
    `The kernel's own \`BPF_PROG_TEST_RUN\` of the same \`xdp_rxq_info.bpf.o\` (repeat ${(ebpf.kernel.per_run).toLocaleString('en-US')}, through the kernel's XDP dispatcher), same run: ${f2(ebpf.kernel.ns_per_packet_median)} ns per run (${f2(ebpf.kernel.mpps_min)}–${f2(ebpf.kernel.mpps_max)} Mruns/s; the kernel's own duration ${ebpf.kernel.kernel_reported_ns} ns).`,
    '',
  ];
  const loads =
    ebpf === undefined
      ? []
      : [
          `| object | programs | eBPF insns | parse ms | maps ms | verify ms | JIT ms | total ms (best) |`,
          '|---|---:|---:|---:|---:|---:|---:|---:|',
          ...ebpf.loads.map((l) =>
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
  return [
    `Measured on ${machine}. 64-byte UDP frames, i40e copy-mode poll loop, \`xdp_rxq_info\` returning XDP_DROP; median of ${packets[0]?.runs ?? 0} runs of ${(packets[0]?.per_run ?? 0).toLocaleString('en-US')} packets, cases interleaved.`,
    '',
    '| case | Mpps | min–max | ns/packet | instructions/packet | vs baseline | original Mpps (vs baseline) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    '| call-only | ns per call | vs retpoline |',
    '|---|---:|---:|',
    ...calls.map((r) => `| ${r.case} | ${f2(r.ns_per_packet_median)} | ${pct(r.pct_vs_baseline)} |`),
    '',
    ...kernel,
    ...loads,
    '| target | value | goal | |',
    '|---|---|---|---|',
    ...targets.map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.met ? 'met' : '**missed**'} |`),
    '',
  ].join('\n');
}

/** An SVG chart of Mpps against dispatcher entries, with the baseline and the no-retpoline ceiling. */
export function formatSvg(packets: readonly CaseResult[]): string {
  const dispatchers = packets.filter((r) => r.entries !== null && r.case.startsWith('dispatcher-'));
  const base = packets.find((r) => r.case === 'baseline')?.mpps_median ?? 0;
  const ceiling = packets.find((r) => r.case === 'no-retpoline')?.mpps_median ?? 0;
  const full = packets.find((r) => r.case === 'full')?.mpps_median;
  const W = 640;
  const H = 360;
  const m = { l: 60, r: 20, t: 30, b: 40 };
  const highest = Math.max(ceiling, ...dispatchers.map((d) => d.mpps_max)) || 1;
  const magnitude = 10 ** Math.floor(Math.log10(highest / 5));
  const step = ([1, 2, 5, 10].find((k) => (highest * 1.05) / (k * magnitude) <= 6) ?? 10) * magnitude;
  const top = Math.ceil((highest * 1.05) / step) * step;
  const x = (n: number) => m.l + ((n - 1) / 15) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - (v / top) * (H - m.t - m.b);
  const path = dispatchers.map((d, i) => `${i === 0 ? 'M' : 'L'}${x(d.entries as number).toFixed(1)},${y(d.mpps_median).toFixed(1)}`).join(' ');
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => step * i);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Mpps against dispatcher entries (64-byte UDP, xdp_rxq_info DROP)</text>
${ticks.map((t) => `<line x1="${m.l}" x2="${W - m.r}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/><text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t.toFixed(0)}</text>`).join('\n')}
${dispatchers.map((d) => `<text x="${x(d.entries as number).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${d.entries}</text>`).join('\n')}
<text x="${W / 2}" y="${H - 6}" text-anchor="middle">entries</text>
<line x1="${m.l}" x2="${W - m.r}" y1="${y(ceiling).toFixed(1)}" y2="${y(ceiling).toFixed(1)}" stroke="#2a2" stroke-dasharray="6 4"/><text x="${W - m.r}" y="${(y(ceiling) - 5).toFixed(1)}" text-anchor="end" fill="#2a2">no-retpoline ${ceiling.toFixed(1)}</text>
<line x1="${m.l}" x2="${W - m.r}" y1="${y(base).toFixed(1)}" y2="${y(base).toFixed(1)}" stroke="#c22" stroke-dasharray="6 4"/><text x="${W - m.r}" y="${(y(base) - 5).toFixed(1)}" text-anchor="end" fill="#c22">baseline (retpoline) ${base.toFixed(1)}</text>
${full === undefined ? '' : `<circle cx="${x(16).toFixed(1)}" cy="${y(full).toFixed(1)}" r="4" fill="#c80"/><text x="${(x(16) - 8).toFixed(1)}" y="${(y(full) + 16).toFixed(1)}" text-anchor="end" fill="#c80">full ${full.toFixed(1)}</text>`}
<path d="${path}" fill="none" stroke="#25c" stroke-width="2"/>
${dispatchers.map((d) => `<circle cx="${x(d.entries as number).toFixed(1)}" cy="${y(d.mpps_median).toFixed(1)}" r="3" fill="#25c"/>`).join('\n')}
</svg>
`;
}
