/**
 * The `bench --svg` chart: nanoseconds per packet by dispatcher entries, ours and the
 * kernel's side by side with min–max bars, and the profile-guided cases in a second panel
 * when they were measured. A Vega-Lite spec (built here, testable as data), compiled and
 * rendered to SVG by vega in Node; both are imported only when a chart is drawn, so the
 * CLI starts without them.
 */
import type { TopLevelSpec } from 'vega-lite';
import { type BenchReport, type CaseResult, entriesRows, profileRows } from './report.js';

/** What the chart's caption says about the run. */
export interface ChartCaption {
  /** The machine in one line. */
  readonly machine: string;
  /** ISO 8601 time of the run. */
  readonly date: string;
  readonly quick: boolean;
}

/** The series of the main panel (each has a legend entry). */
export const SERIES = Object.freeze({
  ours: 'ours: i40e poll loop, our dispatcher',
  kernel: "kernel: BPF_PROG_TEST_RUN, the kernel's dispatcher",
  baseline: 'ours: baseline (retpoline, no dispatcher)',
  ceiling: 'ours: no-retpoline (plain jmp: the ceiling)',
});

/** The layouts of the profile panel (each has a legend entry). */
export const PROFILE_SERIES = Object.freeze({
  reference: 'reference: dispatcher-N',
  kernel: "the kernel's layout",
  profile: 'profile-guided layout',
});

export const Y_TITLE = 'ns per packet (median; bars: min–max)';
export const X_TITLE = 'dispatcher entries (full: the call falls back through the retpoline)';

const COLORS = Object.freeze({
  [SERIES.ours]: '#2563c9',
  [SERIES.kernel]: '#d97706',
  [SERIES.baseline]: '#c0262d',
  [SERIES.ceiling]: '#2a9d3a',
});

const PROFILE_COLORS = Object.freeze({
  [PROFILE_SERIES.reference]: '#6b7280',
  [PROFILE_SERIES.kernel]: '#d97706',
  [PROFILE_SERIES.profile]: '#2563c9',
});

interface Point {
  readonly series: string;
  readonly x: string;
  readonly ns: number;
  readonly min: number;
  readonly max: number;
  readonly insns?: string;
}

const point = (series: string, x: string, r: CaseResult): Point => ({
  series,
  x,
  ns: r.ns_per_packet_median,
  min: r.ns_per_packet_min,
  max: r.ns_per_packet_max,
  ...(r.instructions_per_packet == null ? {} : { insns: `${r.instructions_per_packet.toFixed(1)} insns` }),
});

/** The layout a profile-section case belongs to. */
function profileLayout(name: string): string {
  if (/profile/.test(name)) return PROFILE_SERIES.profile;
  if (/kernel/.test(name)) return PROFILE_SERIES.kernel;
  return PROFILE_SERIES.reference;
}

/** `2026-01-31T12:34:56.789Z` as `2026-01-31 12:34 UTC` (other text as it is). */
const shortDate = (iso: string) => {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)[^Z]*Z$/.exec(iso);
  return m === null ? iso : `${m[1]} ${m[2]} UTC`;
};

/** The caption: the machine; the date, the mode and the runs. */
export function captionLines(report: BenchReport, caption: ChartCaption): string[] {
  const runs = report.packets[0]?.runs ?? 0;
  return [
    caption.machine,
    `${shortDate(caption.date)}, ${caption.quick ? 'quick mode (--quick)' : 'full mode'}, ${runs} runs per case, cases interleaved`,
  ];
}

/** Legends below their panel, one series a line, labels never cut (0: no limit; without a canvas vega only estimates text widths). */
const LEGEND = Object.freeze({ orient: 'bottom', direction: 'vertical', labelLimit: 0 });

interface PanelAxes {
  readonly xTitle: string;
  /** The x values, in order. */
  readonly xOrder: readonly string[];
  readonly labelAngle: number;
  /** The colour legend: its title, series and their colours. */
  readonly legendTitle: string;
  readonly colorDomain: readonly string[];
  readonly colorRange: readonly string[];
  /** The series drawn side by side within each x (none: one point per x). */
  readonly offsetDomain?: readonly string[];
}

/** Encodings shared by a panel's layers. */
function panelEncodings(axes: PanelAxes) {
  return {
    x: {
      field: 'x',
      type: 'nominal',
      sort: [...axes.xOrder],
      title: axes.xTitle,
      scale: { type: 'band', paddingInner: 0.25 },
      axis: { labelAngle: axes.labelAngle },
    },
    color: {
      field: 'series',
      type: 'nominal',
      title: axes.legendTitle,
      scale: { domain: [...axes.colorDomain], range: [...axes.colorRange] },
      legend: LEGEND,
    },
    ...(axes.offsetDomain === undefined ? {} : { xOffset: { field: 'series', type: 'nominal', sort: [...axes.offsetDomain] } }),
  };
}

/** Min–max bars and median points of a panel's data. */
function pointsLayers(axes: PanelAxes) {
  const shared = panelEncodings(axes);
  return [
    {
      mark: { type: 'rule', strokeWidth: 1.5 },
      encoding: { ...shared, y: { field: 'min', type: 'quantitative', title: Y_TITLE }, y2: { field: 'max' } },
    },
    {
      mark: { type: 'point', filled: true, size: 50, opacity: 1 },
      encoding: { ...shared, y: { field: 'ns', type: 'quantitative', title: Y_TITLE } },
    },
  ];
}

/** The Vega-Lite spec of the chart. */
export function chartSpec(report: BenchReport, caption: ChartCaption): TopLevelSpec {
  const rows = entriesRows(report.packets, report.kernel);
  const values: Point[] = [];
  for (const row of rows) {
    if (row.ours !== undefined) values.push(point(SERIES.ours, row.label, row.ours));
    if (row.kernel !== undefined) values.push(point(SERIES.kernel, row.label, row.kernel));
  }
  const references: Point[] = [];
  const baseline = report.packets.find((r) => r.case === 'baseline');
  const ceiling = report.packets.find((r) => r.case === 'no-retpoline');
  if (baseline !== undefined) references.push(point(SERIES.baseline, '', baseline));
  if (ceiling !== undefined) references.push(point(SERIES.ceiling, '', ceiling));
  const series = [SERIES.ours, SERIES.kernel, SERIES.baseline, SERIES.ceiling].filter(
    (s) => values.some((v) => v.series === s) || references.some((v) => v.series === s),
  );
  const pointSeries = series.filter((s) => s === SERIES.ours || s === SERIES.kernel);
  const colorRange = series.map((s) => COLORS[s] ?? '#000');
  const main = {
    width: 640,
    height: 340,
    layer: [
      {
        data: { values: references },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: {
          y: { field: 'ns', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', title: 'series', scale: { domain: series, range: colorRange }, legend: LEGEND },
        },
      },
      {
        data: { values },
        layer: pointsLayers({
          xTitle: X_TITLE,
          xOrder: rows.map((r) => r.label),
          labelAngle: 0,
          legendTitle: 'series',
          colorDomain: series,
          colorRange,
          offsetDomain: pointSeries,
        }),
      },
    ],
  };
  const profile = profileRows(report.packets, report.profile);
  const profileValues = profile.map((r) => point(profileLayout(r.case), r.case, r));
  const profileDomain = [PROFILE_SERIES.reference, PROFILE_SERIES.kernel, PROFILE_SERIES.profile].filter((s) =>
    profileValues.some((v) => v.series === s),
  );
  const profilePanel = {
    title: { text: 'Profile-guided dispatch, 16 programs (labels: instructions per packet)', anchor: 'start', fontSize: 13 },
    width: Math.max(240, 64 * profile.length),
    height: 340,
    data: { values: profileValues },
    layer: [
      ...pointsLayers({
        xTitle: 'case',
        xOrder: profile.map((r) => r.case),
        labelAngle: -30,
        legendTitle: 'layout',
        colorDomain: profileDomain,
        colorRange: profileDomain.map((s) => PROFILE_COLORS[s] ?? '#000'),
      }),
      {
        mark: { type: 'text', dy: -10, fontSize: 10 },
        encoding: {
          x: { field: 'x', type: 'nominal', sort: profile.map((r) => r.case) },
          y: { field: 'max', type: 'quantitative' },
          text: { field: 'insns', type: 'nominal' },
        },
      },
    ],
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 12,
    title: {
      text: 'bpf-dispatcher bench: 64-byte UDP into xdp_rxq_info (XDP_DROP)',
      subtitle: captionLines(report, caption),
      anchor: 'start',
      fontSize: 15,
      subtitleFontSize: 11,
    },
    config: { font: 'sans-serif', legend: { labelFontSize: 11, titleFontSize: 11 } },
    ...(profile.length === 0
      ? main
      : {
          hconcat: [
            { title: { text: "Ours and the kernel's dispatcher, by entries", anchor: 'start', fontSize: 13 }, ...main },
            profilePanel,
          ],
          resolve: { scale: { color: 'independent', y: 'independent' }, legend: { color: 'independent' } },
        }),
  };
  return spec as unknown as TopLevelSpec;
}

/** Compile the spec with vega-lite and render it to SVG with vega (both loaded here, on first use). */
export async function renderChart(report: BenchReport, caption: ChartCaption): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const { spec } = vegaLite.compile(chartSpec(report, caption));
  const view = new vega.View(vega.parse(spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}
