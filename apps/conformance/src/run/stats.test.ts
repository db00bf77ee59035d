import { describe, expect, it } from 'vitest';
import { formatInterval, formatTotals, interval, type KernelCounters, kernelDrops, runTotals, type Sample } from './stats.js';

const kernel = (over: Partial<KernelCounters> = {}): KernelCounters => ({
  rxDropped: 0,
  rxRingFull: 0,
  rxInvalidDescs: 0,
  txInvalidDescs: 0,
  rxFillRingEmptyDescs: 0,
  txRingEmptyDescs: 0,
  ...over,
});

/** A sample at `ms` with `drop`, `pass` and `tx` verdicts split over queues 0 and 3 (two thirds, one third). */
function sample(ms: number, drop: number, pass: number, tx: number, k: Partial<KernelCounters> = {}): Sample {
  const packets = drop + pass + tx;
  const q0 = Math.round((packets * 2) / 3);
  const verdicts = { ABORTED: 0, DROP: drop, PASS: pass, TX: tx, REDIRECT: 0 };
  return {
    ms,
    packets,
    bytes: packets * 64,
    verdicts,
    invalidVerdicts: 0,
    queues: [
      { queue: 0, packets: q0, verdicts: { ...verdicts, DROP: q0, PASS: 0, TX: 0 } },
      { queue: 3, packets: packets - q0, verdicts: { ...verdicts, DROP: drop - q0, PASS: pass, TX: tx } },
    ],
    kernel: kernel(k),
    txPackets: tx,
    txDropped: 0,
    completions: tx,
    stackEnqueued: pass,
    stackDropped: 0,
    noProg: 0,
  };
}

describe('run statistics', () => {
  it('rates per second over an interval, with running totals', () => {
    const iv = interval(sample(1000, 300, 600, 300), sample(1500, 800, 1100, 400, { rxRingFull: 6, rxDropped: 4 }));
    expect(iv.atSeconds).toBe(1.5);
    expect(iv.seconds).toBe(0.5);
    expect(iv.rx).toEqual({ pps: 2200, total: 2300 });
    expect(iv.verdicts.DROP).toEqual({ pps: 1000, total: 800 });
    expect(iv.verdicts.TX).toEqual({ pps: 200, total: 400 });
    expect(iv.queues.map((q) => [q.queue, Math.round(q.pps), q.total])).toEqual([
      [0, 1466, 1533],
      [3, 734, 767],
    ]);
    expect(iv.kernelDrops).toEqual({ pps: 20, total: 10 });
    expect(kernelDrops(kernel({ rxDropped: 1, rxRingFull: 2, rxInvalidDescs: 4 }))).toBe(3);
    // a zero-length interval has rates of 0, not NaN or Infinity
    expect(interval(sample(5, 1, 1, 1), sample(5, 2, 2, 2)).rx).toEqual({ pps: 0, total: 6 });
  });

  it('totals between the first and last sample, per verdict and per queue', () => {
    const t = runTotals(sample(0, 0, 0, 0), sample(4000, 1000, 2000, 1000, { rxRingFull: 3, rxFillRingEmptyDescs: 9 }));
    expect(t).toMatchObject({
      seconds: 4,
      packets: 4000,
      bytes: 256_000,
      pps: 1000,
      verdicts: { ABORTED: 0, DROP: 1000, PASS: 2000, TX: 1000, REDIRECT: 0 },
      kernelDrops: 3,
      txPackets: 1000,
      completions: 1000,
      stackEnqueued: 2000,
    });
    expect(t.perQueue.map((q) => [q.queue, q.packets, Math.round(q.pps)])).toEqual([
      [0, 2667, 667],
      [3, 1333, 333],
    ]);
    expect(t.kernel.rxFillRingEmptyDescs).toBe(9);
  });

  it('prints an interval as xdp-bench does: summary, verdicts, queues, kernel drops', () => {
    const iv = interval(sample(1000, 300, 600, 300), sample(2000, 1_300_000, 600, 300, { rxRingFull: 12 }));
    expect(formatInterval(iv)).toBe(
      [
        'Summary 2.0 s                 1,299,700 rx/s         1,300,900 total',
        '  XDP_ABORTED                         0 pkt/s                0',
        '  XDP_DROP                    1,299,700 pkt/s        1,300,000',
        '  XDP_PASS                            0 pkt/s              600',
        '  XDP_TX                              0 pkt/s              300',
        '  XDP_REDIRECT                        0 pkt/s                0',
        '  queue 0                       866,467 pkt/s          867,267',
        '  queue 3                       433,233 pkt/s          433,633',
        '  kernel drops                       12 pkt/s               12  rx_dropped 0, rx_ring_full 12, rx_invalid_descs 0, tx_invalid_descs 0',
      ].join('\n'),
    );
  });

  it('prints the totals with the reason the run stopped; invalid verdicts only when there are some', () => {
    const last = { ...sample(2500, 10, 20, 10), invalidVerdicts: 2 };
    const text = formatTotals(runTotals(sample(0, 0, 0, 0), last), { stoppedBy: 'SIGINT', program: 'xdp_mixed', iface: 'xsk0' });
    expect(text).toBe(
      [
        'Totals after 2.5 s (stopped by SIGINT); xdp_mixed detached from xsk0',
        '  packets                            40  16 pkt/s on average, 2,560 bytes',
        '  XDP_ABORTED                         0',
        '  XDP_DROP                           10',
        '  XDP_PASS                           20',
        '  XDP_TX                             10',
        '  XDP_REDIRECT                        0',
        '  invalid verdict                     2',
        '  queue 0                            27  11 pkt/s on average',
        '  queue 3                            13  5 pkt/s on average',
        '  kernel drops                        0  rx_dropped 0, rx_ring_full 0, rx_invalid_descs 0, tx_invalid_descs 0',
        '  transmitted                        10  10 completed, 0 refused by a full tx ring',
        '  to the stack                       20  0 more found the stack queue full (it is released after every run)',
      ].join('\n'),
    );
    const bySeconds = formatTotals(runTotals(sample(0, 0, 0, 0), sample(1000, 0, 0, 0)), {
      stoppedBy: 'seconds',
      program: 'p',
      iface: 'eth0',
    });
    expect(bySeconds.split('\n')[0]).toBe('Totals after 1.0 s (stopped by the --seconds limit); p detached from eth0');
    expect(bySeconds).not.toContain('invalid verdict');
  });
});
