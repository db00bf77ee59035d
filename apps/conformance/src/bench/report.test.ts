import { describe, expect, it } from 'vitest';
import { dispatcherCase } from '../test-support/bench-fixtures.js';
import { evaluateTargets, formatMarkdown, formatSvg, summarise, withBaseline } from './report.js';

describe('bench report', () => {
  it('summarises runs as Mpps median/min/max and ns per packet', () => {
    const r = summarise('x', 'packets', null, 1_000_000, [10_000_000, 20_000_000, 5_000_000]);
    expect(r).toMatchObject({ mpps_median: 100, mpps_min: 50, mpps_max: 200, ns_per_packet_median: 10, runs: 3 });
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
    expect(formatMarkdown(results, [], [], evaluateTargets(results), 'test machine')).toContain('| dispatcher-16 |');
    const svg = formatSvg(results);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle/g)?.length).toBe(17);
  });
});
