/**
 * `bench-veth`, tiny: every case measured in every round on a real veth pair, every frame
 * accounted for (processed, or a drop the kernel reported), and the JSON's shape. Counts
 * only — nothing here depends on how fast the machine is. Root only: skipped, with the
 * reason printed, where namespaces, bpf(), AF_XDP or the live-frame generator are refused.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VethCaseResult, VethReport } from '../bench/veth-report.js';
import type { VethConfig, VethSample } from '../bench/veth-run.js';

// The benchmark starts its generator thread from the compiled worker, so this test runs the
// built modules (turbo builds the app before its tests).
const dist = (path: string) => new URL(`../../dist/${path}`, import.meta.url).href;
const load = async () => ({
  command: (await import(dist('commands/bench-veth.js'))) as typeof import('./bench-veth.js'),
  run: (await import(dist('bench/veth-run.js'))) as typeof import('../bench/veth-run.js'),
});

const TINY: VethConfig = {
  rounds: 2,
  calls: 2,
  repeat: 2_000,
  warmup: 500,
  batchSize: 64,
  ringSize: 2048,
  frameLength: 64,
  drainBursts: 2,
  drainFrames: 256,
  quietLimit: 300,
};

const drops = (s: VethSample) => s.drops.veth + s.drops.xsk_no_fill_frame + s.drops.xsk_rx_ring_full;

describe('bench-veth (tiny run on a veth pair)', () => {
  it('measures every case in every round and accounts for every frame; the JSON has its shape', async (ctx) => {
    const { command, run } = await load();
    const support = run.vethSupport();
    if (!support.ok) {
      console.warn(`bench-veth test skipped: ${support.reason}`);
      ctx.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'bench-veth-'));
    try {
      const json = join(dir, 'veth.json');
      const markdown = join(dir, 'veth.md');
      const printed: string[] = [];
      const outcome = await command.vethBench(TINY, { json, markdown }, (text) => printed.push(text));
      if ('skipped' in outcome) {
        console.warn(`bench-veth test skipped: ${outcome.skipped}`);
        ctx.skip();
      }
      const doc = JSON.parse(readFileSync(json, 'utf8')) as VethReport;
      expect(doc.benchmark).toBe('bench-veth');
      expect(Number.isNaN(Date.parse(doc.date))).toBe(false);
      expect(typeof doc.machine.cpu).toBe('string');
      expect(doc.config).toEqual(TINY);
      expect(doc.cases.map((c) => c.case)).toEqual([...run.VETH_CASES]);
      expect(doc.rounds.map((r) => r.round)).toEqual([0, 1]);

      const sent = TINY.calls * TINY.repeat;
      const byName = new Map<string, VethCaseResult>(doc.cases.map((c) => [c.case, c]));
      for (const c of doc.cases) {
        // every case, every round, once
        expect(c.runs, c.case).toBe(TINY.rounds);
        expect(c.samples.map((s) => s.round).sort(), c.case).toEqual([0, 1]);
        for (const s of c.samples) {
          const where = `${c.case}, round ${s.round}`;
          expect(s.sent, where).toBe(sent);
          expect(s.elapsed_ns, where).toBeGreaterThan(0);
          expect(Number.isFinite(s.mpps) && s.mpps >= 0, where).toBe(true);
          if (c.kind === 'ours') {
            // every frame was processed by our loop or reported dropped by the kernel
            expect(s.processed, where).toBe(s.sent - drops(s));
            expect(s.processed, where).toBe(s.arrived - s.drops.xsk_no_fill_frame - s.drops.xsk_rx_ring_full);
            expect(s.loop?.calls, where).toBeGreaterThan(0);
            expect(s.loop?.polls, where).toBeGreaterThanOrEqual(s.loop?.calls ?? 0);
            expect(s.drain?.ns_per_packet.length, where).toBe(TINY.drainBursts - (s.drain?.incomplete ?? 0));
          } else if (c.case === 'generator-only') {
            // the generator's own program dropped every frame on peer0: none reached xsk0
            expect([s.arrived, s.processed], where).toEqual([0, sent]);
          } else {
            // the kernel's program ran on every frame that arrived; veth dropped the rest, if any
            expect(s.processed, where).toBe(s.arrived);
            expect(s.arrived + s.drops.veth, where).toBe(sent);
            expect(s.processed, where).toBeGreaterThan(0);
          }
        }
      }
      for (const name of ['dispatcher-1', 'dispatcher-16', 'full', 'no-dispatcher']) {
        const c = byName.get(name);
        expect(c?.kind, name).toBe('ours');
        expect(c?.entries, name).toBe(name === 'no-dispatcher' ? null : name === 'dispatcher-1' ? 1 : 16);
        expect(c?.loop, name).not.toBeNull();
      }
      expect(byName.get('kernel-native')?.kind).toBe('kernel');
      expect(byName.get('veth-xdp-drop')?.kind).toBe('breakdown');
      expect(byName.get('generator-only')?.kind).toBe('breakdown');
      // the breakdown is made of measured numbers
      const b = doc.breakdown;
      for (const v of [b.generator_ns, b.floor_ns, b.kernel_native_ns]) expect(v).toBeGreaterThan(0);
      expect(b.ours.map((o) => o.case)).toEqual(['dispatcher-1', 'dispatcher-16', 'full', 'no-dispatcher']);
      for (const o of b.ours) expect(o.generator_ns).toBeGreaterThan(0);
      expect(['generator CPU (generator + kernel redirect)', 'our loop']).toContain(doc.bottleneck.stage);
      expect(readFileSync(markdown, 'utf8')).toContain('| dispatcher-16 |');
      expect(printed.join('\n')).toMatch(/bottleneck: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
