import { describe, expect, it } from 'vitest';
import { dispatcherCase } from '../test-support/bench-fixtures.js';
import { BENCH_SCHEMA_VERSION, benchJson } from './bench-json.js';
import {
  type BenchReport,
  type CaseGroup,
  type CaseResult,
  type KernelResults,
  checkExitCode,
  entriesRows,
  evaluateTargets,
  formatMarkdown,
  formatText,
  missedTargets,
  summarise,
  withBaseline,
} from './report.js';

/** A synthetic case: three runs of 1000 packets around `ns` per packet (median `ns`, min 0.98×, max 1.05×). */
const synthetic = (
  name: string,
  group: CaseGroup,
  entries: number | null,
  ns: number,
  extra: { insns?: number; kernelNs?: number[] } = {},
) => {
  const r = summarise(name, group, entries, 1000, [ns * 980, ns * 1000, ns * 1050], extra.kernelNs);
  return extra.insns === undefined ? r : { ...r, instructions_per_packet: extra.insns };
};

const packets = (): CaseResult[] =>
  withBaseline(
    [
      synthetic('baseline', 'packets', null, 10, { insns: 60.8 }),
      synthetic('no-retpoline', 'packets', null, 6, { insns: 57.8 }),
      ...Array.from({ length: 16 }, (_, i) => synthetic(`dispatcher-${i + 1}`, 'packets', i + 1, 6.1 + i * 0.01, { insns: 58.8 + i })),
      synthetic('full', 'packets', 16, 10.2, { insns: 70.8 }),
    ],
    'baseline',
  );

const kernelPerEntries = (): { cases: CaseResult[] } => ({
  cases: withBaseline(
    [
      ...Array.from({ length: 16 }, (_, i) => synthetic(`kernel-dispatcher-${i + 1}`, 'kernel', i + 1, 8, { kernelNs: [7, 7, 8] })),
      synthetic('kernel-full', 'kernel', null, 12, { kernelNs: [11, 11, 12] }),
    ],
    '',
  ),
});

const kernelTestRun = (): KernelResults => ({
  cases: withBaseline([synthetic('kernel-test-run', 'kernel', 1, 8, { kernelNs: [7, 8, 8] })], ''),
});

/** Profile cases that meet every profile target; `changes` scales a case's ns per packet or replaces its instruction count. */
const profile = (changes: Record<string, { ns?: number; insns?: number }> = {}): CaseResult[] => {
  const base: [string, number, number][] = [
    ['profile-hot-16', 6.2, 59.8],
    ['zipf-kernel-16', 7.0, 66.8],
    ['zipf-profile-16', 6.5, 61.2],
    ['uniform-kernel-16', 7.0, 66.8],
    ['uniform-profile-16', 7.1, 66.9],
  ];
  return withBaseline(
    base.map(([name, ns, insns]) =>
      synthetic(name, 'profile', 16, ns * (changes[name]?.ns ?? 1), { insns: changes[name]?.insns ?? insns }),
    ),
    '',
  );
};

const report = (kernel: KernelResults, profileCases: CaseResult[] = []): BenchReport => {
  const p = packets();
  return { packets: p, mixed: [], calls: [], kernel, profile: profileCases, targets: evaluateTargets(p, profileCases) };
};

describe('bench report', () => {
  it('summarises runs as Mpps median/min/max, ns per packet and the raw samples', () => {
    const r = summarise('x', 'packets', null, 1_000_000, [10_000_000, 20_000_000, 5_000_000]);
    expect(r).toMatchObject({
      mpps_median: 100,
      mpps_min: 50,
      mpps_max: 200,
      ns_per_packet_median: 10,
      ns_per_packet_min: 5,
      ns_per_packet_max: 20,
      runs: 3,
    });
    expect(r.samples_ns).toEqual([10_000_000, 20_000_000, 5_000_000]);
    expect(r).not.toHaveProperty('kernel_reported_samples_ns');
    const k = summarise('kernel-test-run', 'kernel', 1, 1000, [8000, 9000], [7, 8]);
    expect(k).toMatchObject({ kernel_reported_samples_ns: [7, 8], kernel_reported_ns_median: 7.5 });
  });

  it('evaluates the targets from the medians', () => {
    const results = withBaseline(
      [
        summarise('baseline', 'packets', null, 1000, [10_000]),
        summarise('no-retpoline', 'packets', null, 1000, [6_000]),
        ...Array.from({ length: 16 }, (_, i) => dispatcherCase(i + 1, 6_100 + i * 10)),
        summarise('full', 'packets', 16, 1000, [10_200]),
      ],
      'baseline',
    );
    const targets = Object.fromEntries(evaluateTargets(results).map((t) => [t.name, t.met]));
    expect(targets).toEqual({
      'dispatcher 1..16 vs baseline': true,
      'spread across 1..16 entries': true,
      'full vs baseline': true,
      'dispatcher vs no-retpoline': true,
    });
    const slow = results.map((r) => (r.case === 'dispatcher-9' ? { ...r, mpps_median: r.mpps_median * 0.8 } : r));
    expect(evaluateTargets(slow).find((t) => t.name === 'spread across 1..16 entries')?.met).toBe(false);
  });

  it('evaluates the profile targets only when their cases were measured', () => {
    const names = (cases: CaseResult[]) => evaluateTargets(packets(), cases).map((t) => t.name);
    expect(names([])).not.toContain('profile-hot-16 vs dispatcher-1');
    expect(names(profile().filter((r) => r.case.startsWith('zipf')))).toEqual([
      'dispatcher 1..16 vs baseline',
      'spread across 1..16 entries',
      'full vs baseline',
      'dispatcher vs no-retpoline',
      'Zipf: profile vs kernel layout',
    ]);
    const met = (cases: CaseResult[]) => Object.fromEntries(evaluateTargets(packets(), cases).map((t) => [t.name, t.met]));
    expect(met(profile())).toMatchObject({
      'profile-hot-16 vs dispatcher-1': true,
      'Zipf: profile vs kernel layout': true,
      'uniform: profile vs kernel layout': true,
    });
    // profile-hot-16: at most 5% slower than dispatcher-1 (6.10 ns)
    expect(met(profile({ 'profile-hot-16': { ns: 6.5 / 6.2 } }))['profile-hot-16 vs dispatcher-1']).toBe(false);
    expect(met(profile({ 'profile-hot-16': { ns: 6.4 / 6.2 } }))['profile-hot-16 vs dispatcher-1']).toBe(true);
    // Zipf: fewer instructions AND fewer ns per packet than the kernel's layout
    expect(met(profile({ 'zipf-profile-16': { insns: 67 } }))['Zipf: profile vs kernel layout']).toBe(false);
    expect(met(profile({ 'zipf-profile-16': { ns: 7.1 / 6.5 } }))['Zipf: profile vs kernel layout']).toBe(false);
    // uniform: no worse than the kernel's layout by more than 2%
    expect(met(profile({ 'uniform-profile-16': { ns: 7.13 / 7.1 } }))['uniform: profile vs kernel layout']).toBe(true);
    expect(met(profile({ 'uniform-profile-16': { ns: 7.15 / 7.1 } }))['uniform: profile vs kernel layout']).toBe(false);
    const zipf = evaluateTargets(packets(), profile()).find((t) => t.name === 'Zipf: profile vs kernel layout');
    expect(zipf?.value).toBe('-7.1% ns, -5.6 insns');
  });

  it('gives --check its exit code: 1 when a target is missed, else 0', () => {
    const all = evaluateTargets(packets(), profile());
    expect(missedTargets(all)).toEqual([]);
    expect(checkExitCode(all)).toBe(0);
    expect(checkExitCode([])).toBe(0);
    const missed = evaluateTargets(packets(), profile({ 'uniform-profile-16': { ns: 1.1 } }));
    expect(missedTargets(missed).map((t) => t.name)).toEqual(['uniform: profile vs kernel layout']);
    expect(checkExitCode(missed)).toBe(1);
  });

  it('puts ours and the kernel side by side by entries, with the gains over the retpoline fallback', () => {
    const rows = entriesRows(packets(), kernelPerEntries());
    expect(rows.map((r) => r.label)).toEqual([...Array.from({ length: 16 }, (_, i) => String(i + 1)), 'full']);
    const [one] = rows;
    expect(one?.ours?.case).toBe('dispatcher-1');
    expect(one?.kernel?.case).toBe('kernel-dispatcher-1');
    expect(one?.oursVsFull).toBeCloseTo((10.2 / 6.1 - 1) * 100, 6);
    expect(one?.oursVsBaseline).toBeCloseTo((10 / 6.1 - 1) * 100, 6);
    expect(one?.kernelVsFull).toBeCloseTo(50, 6);
    const full = rows.at(-1);
    expect(full).toMatchObject({ entries: null, oursVsFull: null, kernelVsFull: null });
    expect(full?.kernel?.case).toBe('kernel-full');
    expect(full?.oursVsBaseline).toBeCloseTo((10 / 10.2 - 1) * 100, 6);

    // the single kernel-test-run is the kernel's row 1; kernel-dispatcher-47/48 add rows
    const single = entriesRows(packets(), kernelTestRun());
    expect(single[0]?.kernel?.case).toBe('kernel-test-run');
    expect(single.filter((r) => r.kernel !== undefined)).toHaveLength(1);
    expect(single[0]?.kernelVsFull).toBeNull();
    const more = entriesRows(packets(), {
      cases: [...kernelPerEntries().cases, ...withBaseline([synthetic('kernel-dispatcher-48', 'kernel', 48, 9)], '')],
    });
    expect(more.map((r) => r.label).slice(-3)).toEqual(['16', '48', 'full']);
    expect(more.at(-2)?.ours).toBeUndefined();
    expect(entriesRows(packets(), { skipped: 'no bpf()' }).every((r) => r.kernel === undefined)).toBe(true);
  });

  it('writes the text tables side by side, the profile section only with profile cases', () => {
    const text = formatText(report(kernelPerEntries(), profile()));
    expect(text.includes('\u001b[')).toBe(false);
    const lines = text.split('\n');
    const head = lines.find((l) => l.startsWith('entries'));
    expect(head).toMatch(
      /^entries +ours ns\/packet \(min–max\) +ours vs full +ours vs baseline +kernel ns\/run \(min–max\) +kernel's own ns +kernel vs kernel-full$/,
    );
    expect(lines).toContainEqual(expect.stringMatching(/^1 +6\.10 \(5\.98–6\.41\) +\+67% +\+64% +8\.00 \(7\.84–8\.40\) +7\.0 +\+50%$/));
    expect(lines).toContainEqual(expect.stringMatching(/^full +10\.20 \(10\.00–10\.71\) +-2% +12\.00 \(11\.76–12\.60\) +11\.0$/));
    // right-aligned columns: every row of the side-by-side table is as long as its header
    const at = lines.indexOf(head as string);
    for (const row of lines.slice(at + 1, at + 17)) expect(row.length).toBe(head?.length);
    expect(text).toContain('profile-guided dispatch, 16 programs');
    expect(lines).toContainEqual(expect.stringMatching(/^profile-hot-16 vs dispatcher-1 +\+1\.6% +\+1\.0 +<= \+5% ns\/packet: met$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^zipf-profile-16 vs zipf-kernel-16 +-7\.1% +-5\.6 +fewer insns and ns\/packet: met$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^met +uniform: profile vs kernel layout +\+1\.4% +<= \+2% ns\/packet$/));
    // the cover letter's table keeps the original Mpps
    expect(lines).toContainEqual(expect.stringMatching(/^dispatcher-1 +163\.9 .* 31\.7 Mpps \(\+40%\)$/));

    const plain = formatText(report(kernelPerEntries()));
    expect(plain).not.toContain('profile-guided dispatch');
    expect(plain).not.toContain('profile-hot-16');
  });

  it('skips the kernel columns, with the reason, when the kernel cases could not run', () => {
    const text = formatText(report({ skipped: 'bpf() is not usable here: EPERM' }));
    expect(text).toContain('(kernel columns skipped: bpf() is not usable here: EPERM)');
    const head = text.split('\n').find((l) => l.startsWith('entries'));
    expect(head).toMatch(/^entries +ours ns\/packet \(min–max\) +ours vs full +ours vs baseline$/);
    const md = formatMarkdown(report({ skipped: 'EPERM' }), 'test machine');
    expect(md).toContain('Kernel columns skipped: EPERM.');
    expect(md).toContain('| entries | ours ns/packet (min–max) | ours vs full | ours vs baseline |\n|---|---:|---:|---:|');
  });

  it('shows the single kernel-test-run as the kernel side of one entry', () => {
    const text = formatText(report(kernelTestRun()));
    const lines = text.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^1 +6\.10 \(5\.98–6\.41\) +\+67% +\+64% +8\.00 \(7\.84–8\.40\) +8\.0$/));
    expect(lines).toContainEqual(expect.stringMatching(/^2 +6\.11 \(5\.99–6\.42\) +\+67% +\+64%$/));
    expect(text).toContain("kernel BPF_PROG_TEST_RUN of the same object: 8.00 ns per run (kernel's own duration 8.0 ns)");
  });

  it('writes GitHub tables in Markdown: every row with as many cells as its header', () => {
    const md = formatMarkdown(report(kernelPerEntries(), profile()), 'test machine');
    expect(md).toContain('| dispatcher-16 |');
    expect(md).toContain('Measured on test machine.');
    expect(md).toContain(
      "| entries | ours ns/packet (min–max) | ours vs full | ours vs baseline | kernel ns/run (min–max) | kernel's own ns | kernel vs kernel-full |\n|---|---:|---:|---:|---:|---:|---:|",
    );
    expect(md).toContain('| 1 | 6.10 (5.98–6.41) | +67% | +64% | 8.00 (7.84–8.40) | 7.0 | +50% |');
    expect(md).toContain('| full | 10.20 (10.00–10.71) |  | -2% | 12.00 (11.76–12.60) | 11.0 |  |');
    expect(md).toContain('| profile-hot-16 vs dispatcher-1 | +1.6% | +1.0 | <= +5% ns/packet: met |');
    expect(md).toContain('| uniform: profile vs kernel layout | +1.4% | <= +2% ns/packet | met |');
    // each table: header, alignment row and rows with the same number of cells
    const cells = (line: string) => line.split('|').length;
    const blocks = md.split('\n\n').filter((b) => b.startsWith('|'));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const block of blocks) {
      const [header, ...rest] = block.trim().split('\n');
      expect(rest[0]).toMatch(/^\|(---:?\|)+$/);
      for (const row of rest) expect(cells(row)).toBe(cells(header as string));
    }
  });

  it('writes the JSON with its schema version, the tool, every case with its raw runs, and the fields of schema 1', () => {
    const machine = { cpu: 'Test CPU', cores: 2, memoryGiB: 4, platform: 'linux', arch: 'x64', node: 'v20.20.2' };
    const info = {
      toolVersion: '1.2.3',
      date: '2026-01-31T12:00:00.000Z',
      quick: true,
      pinnedCpu: 1,
      machine,
      machineText: 'Test CPU (2 cores)',
    };
    const loads = [
      {
        object: 'x.bpf.o',
        programs: 1,
        insns: 10,
        samples: 5,
        parse_ms: 1,
        maps_ms: 1,
        verify_ms: 1,
        jit_ms: 1,
        total_ms: 4,
        total_ms_best: 3,
      },
    ];
    const doc = JSON.parse(JSON.stringify(benchJson({ ...report(kernelPerEntries(), profile()), loads }, info)));
    expect(BENCH_SCHEMA_VERSION).toBe(2);
    expect(doc).toMatchObject({
      schema_version: 2,
      tool: { name: 'bpf-dispatcher', version: '1.2.3' },
      date: info.date,
      quick: true,
      pinnedCpu: 1,
      machine,
    });
    expect(doc).not.toHaveProperty('kernel');
    const groups = new Set(doc.cases.map((c: CaseResult) => c.group));
    expect([...groups]).toEqual(['packets', 'kernel', 'profile']);
    expect(doc.cases).toHaveLength(19 + 17 + 5);
    for (const c of doc.cases) {
      expect(c.samples_ns).toHaveLength(c.runs);
      expect(c).toMatchObject({ per_run: 1000, machine: 'Test CPU (2 cores)' });
      for (const key of [
        'case',
        'group',
        'entries',
        'runs',
        'mpps_median',
        'mpps_min',
        'mpps_max',
        'ns_per_packet_median',
        'pct_vs_baseline',
      ])
        expect(c).toHaveProperty(key);
    }
    const one = doc.cases.find((c: CaseResult) => c.case === 'kernel-dispatcher-1');
    expect(one).toMatchObject({ samples_ns: [7840, 8000, 8400], kernel_reported_samples_ns: [7, 7, 8], kernel_reported_ns_median: 7 });
    expect(doc.targets.map((t: { name: string }) => t.name)).toContain('Zipf: profile vs kernel layout');
    // schema 1's ebpf: the loads and the kernel's one-entry case with its last run's own duration
    expect(doc.ebpf.loads).toEqual(loads);
    expect(doc.ebpf.kernel).toMatchObject({ case: 'kernel-dispatcher-1', kernel_reported_ns: 8 });
    expect(benchJson(report(kernelTestRun()), info).ebpf.kernel).toMatchObject({ case: 'kernel-test-run', kernel_reported_ns: 8 });

    const skipped = benchJson(report({ skipped: 'EPERM' }), info);
    expect(skipped.kernel).toEqual({ skipped: 'EPERM' });
    expect(skipped.ebpf).toEqual({ loads: [], kernel: { skipped: 'EPERM' } });
    expect(skipped.cases.some((c) => c.group === 'kernel')).toBe(false);
  });
});
