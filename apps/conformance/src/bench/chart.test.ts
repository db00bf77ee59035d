import { describe, expect, it } from 'vitest';
import { PROFILE_SERIES, SERIES, X_TITLE, Y_TITLE, captionLines, chartSpec, renderChart } from './chart.js';
import { type BenchReport, type CaseGroup, type KernelResults, summarise, withBaseline } from './report.js';

const synthetic = (name: string, group: CaseGroup, entries: number | null, ns: number, insns?: number, kernelNs?: number[]) => {
  const r = summarise(name, group, entries, 1000, [ns * 990, ns * 1000, ns * 1040], kernelNs);
  return insns === undefined ? r : { ...r, instructions_per_packet: insns };
};

const report = (kernel: 'per-entries' | 'test-run' | 'skipped', withProfile: boolean): BenchReport => {
  const packets = withBaseline(
    [
      synthetic('baseline', 'packets', null, 10),
      synthetic('no-retpoline', 'packets', null, 6),
      ...Array.from({ length: 16 }, (_, i) => synthetic(`dispatcher-${i + 1}`, 'packets', i + 1, 6.1 + i * 0.02, 58.8)),
      synthetic('full', 'packets', 16, 10.2),
    ],
    'baseline',
  );
  const kernelResults: KernelResults =
    kernel === 'skipped'
      ? { skipped: 'no bpf()' }
      : kernel === 'test-run'
        ? { cases: withBaseline([synthetic('kernel-test-run', 'kernel', 1, 8, undefined, [7, 7, 8])], '') }
        : {
            cases: withBaseline(
              [
                ...Array.from({ length: 16 }, (_, i) =>
                  synthetic(`kernel-dispatcher-${i + 1}`, 'kernel', i + 1, 8 + i * 0.05, undefined, [7, 7, 8]),
                ),
                synthetic('kernel-full', 'kernel', null, 12, undefined, [11, 11, 12]),
              ],
              '',
            ),
          };
  const profile = withProfile
    ? withBaseline(
        [
          synthetic('profile-hot-16', 'profile', 16, 6.2, 59.8),
          synthetic('zipf-kernel-16', 'profile', 16, 7, 66.8),
          synthetic('zipf-profile-16', 'profile', 16, 6.5, 61.2),
          synthetic('uniform-kernel-16', 'profile', 16, 7, 66.8),
          synthetic('uniform-profile-16', 'profile', 16, 7.1, 66.9),
        ],
        '',
      )
    : [];
  return { packets, mixed: [], calls: [], kernel: kernelResults, profile, targets: [] };
};

const caption = { machine: 'Test CPU (2 cores), Linux, Node v20.20.2', date: '2026-01-31T12:34:56.789Z', quick: true };

/** The SVG's lines of text, entities decoded (vega writes a `<text>` per label, title and legend entry; a `<tspan>` per line of a multi-line one). */
function texts(svg: string): string[] {
  const decode = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;|&apos;/g, "'")
      .replace(/&amp;/g, '&');
  const lines = (inner: string) =>
    inner.includes('<tspan') ? [...inner.matchAll(/<tspan\b[^>]*>([^<]*)<\/tspan>/g)].map((m) => m[1] as string) : [inner];
  return [...svg.matchAll(/<text\b[^>]*>(.*?)<\/text>/gs)].flatMap((m) => lines(m[1] as string)).map(decode);
}

/** Check that the SVG is well-formed XML as far as elements go: every tag closed, properly nested, one root. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (closing === '/') {
      expect(stack.pop()).toBe(name);
    } else if (selfClosing !== '/') {
      if (stack.length === 0) roots++;
      stack.push(name as string);
    } else if (stack.length === 0) roots++;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

describe('bench chart', () => {
  it('builds a Vega-Lite spec with the caption: machine, date and mode', () => {
    expect(captionLines(report('per-entries', false), caption)).toEqual([
      'Test CPU (2 cores), Linux, Node v20.20.2',
      '2026-01-31 12:34 UTC, quick mode (--quick), 3 runs per case, cases interleaved',
    ]);
    expect(captionLines(report('per-entries', false), { ...caption, quick: false })[1]).toContain('full mode');
    const spec = chartSpec(report('per-entries', false), caption) as unknown as Record<string, unknown>;
    expect(spec).toHaveProperty('layer');
    expect(spec).not.toHaveProperty('hconcat');
    expect(chartSpec(report('per-entries', true), caption)).toHaveProperty('hconcat');
  });

  it('renders SVG with the axis titles, a legend entry for every series, the min–max bars and the caption', async () => {
    const svg = await renderChart(report('per-entries', false), caption);
    expect(svg.startsWith('<svg')).toBe(true);
    assertWellFormed(svg);
    const t = texts(svg);
    expect(t).toContain(Y_TITLE);
    expect(t).toContain(X_TITLE);
    for (const series of Object.values(SERIES)) expect(t).toContain(series);
    expect(t).toContain('bpf-dispatcher bench: 64-byte UDP into xdp_rxq_info (XDP_DROP)');
    for (const line of captionLines(report('per-entries', false), caption)) expect(t).toContain(line);
    // the x axis: 1..16 and full
    for (const label of ['1', '8', '16', 'full']) expect(t).toContain(label);
    // 17 rows × 2 series: one point and one min–max bar each
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(34);
    expect(svg.match(/aria-roledescription="rule mark"/g)?.length).toBeGreaterThanOrEqual(34);
    expect(t.some((s) => PROFILE_SERIES.profile === s)).toBe(false);
  }, 30_000);

  it('shows the profile cases in a second panel, and leaves the kernel out of the legend when it was skipped', async () => {
    const svg = await renderChart(report('skipped', true), caption);
    assertWellFormed(svg);
    const t = texts(svg);
    for (const series of Object.values(PROFILE_SERIES)) expect(t).toContain(series);
    for (const name of ['profile-hot-16', 'zipf-kernel-16', 'zipf-profile-16', 'uniform-kernel-16', 'uniform-profile-16', 'dispatcher-1'])
      expect(t).toContain(name);
    expect(t).toContain('61.2 insns');
    expect(t).toContain(SERIES.ours);
    expect(t).not.toContain(SERIES.kernel);

    const single = texts(await renderChart(report('test-run', false), caption));
    expect(single).toContain(SERIES.kernel);
  }, 30_000);
});
