/**
 * `bpf-dispatcher run --pcap` end to end: generated captures of known frames through
 * xdp_mixed (each frame picks its verdict), the output compared byte for byte with the
 * file the writers make of the frames a model of the program says come out — PASS and TX
 * merged in input order, each with its input frame's timestamp — in pcap and pcapng, and
 * across the two; frames too long for a chunk skipped and reported; non-Ethernet refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CaptureFrameInput, writePcap, writePcapng } from '@bpf-dispatcher/i40e';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { bundledObjectPath } from '@bpf-dispatcher/xdp-call';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../cli.js';
import { MIXED_OBJECT, mixedModel, randomFrames, scratchDirs } from '../test-support/run-fixtures.js';
import { runCapture } from './capture.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const dirs = scratchDirs('run-pcap-');
const scratch = () => dirs.make();
afterAll(() => dirs.removeAll());

/** The input frames: random ones up to 1,792 bytes, one of 2,000 (needs a 4096-byte chunk), one of 4,000 (skipped). */
function inputFrames(count: number, seed: number, step: bigint): CaptureFrameInput[] {
  const data = randomFrames(count, 1792, seed);
  data.splice(5, 0, new Uint8Array(2000).fill(0x11));
  data.splice(9, 0, new Uint8Array(4000).fill(0x11));
  return data.map((d, i) => ({ data: d, timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * step }));
}

/** What should come out: verdict counts, skipped indexes and the output frames (PASS and TX, in input order, input timestamps). */
function expected(frames: readonly CaptureFrameInput[]) {
  const verdicts = { ABORTED: 0, DROP: 0, PASS: 0, TX: 0, REDIRECT: 0 };
  const skipped: number[] = [];
  const out: CaptureFrameInput[] = [];
  frames.forEach((f, i) => {
    if (f.data.length > 3840) {
      skipped.push(i);
      return;
    }
    const m = mixedModel(f.data);
    verdicts[m.verdict]++;
    if (m.out !== undefined) out.push({ data: m.out, timestampNs: f.timestampNs as bigint });
  });
  return { verdicts, skipped, out };
}

interface Report {
  verdicts: Record<string, number>;
  processed: number;
  skipped: number[];
  written: number;
  out: { format: string };
  arena: string;
}

describe.skipIf(!nativeSupported())('bpf-dispatcher run --pcap', () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  const capture = () => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      out.push(`${args.join(' ')}\n`);
    });
  };

  /** Run the CLI on `input` (bytes) and return the report, the output file's bytes and the text printed. */
  async function runPcap(input: Uint8Array, inName: string, outName: string, program: string[] = ['--prog', MIXED_OBJECT]) {
    const dir = scratch();
    const inFile = join(dir, inName);
    const outFile = join(dir, outName);
    const jsonFile = join(dir, 'report.json');
    writeFileSync(inFile, input);
    capture();
    const code = await main(['run', '--pcap', inFile, ...program, '--out', outFile, '--json', jsonFile]);
    vi.restoreAllMocks();
    expect(code).toBe(0);
    return {
      report: JSON.parse(readFileSync(jsonFile, 'utf8')) as Report,
      bytes: new Uint8Array(readFileSync(outFile)),
      text: out.join(''),
    };
  }

  it.each([
    ['pcap', 'in.pcap', 'out.pcap'],
    ['pcapng', 'in.pcapng', 'out.pcapng'],
  ] as const)(
    '%s: writes exactly the PASS and TX frames as the program left them, in input order, with their timestamps',
    async (format, inName, outName) => {
      // microsecond timestamps for pcap, nanosecond ones for pcapng (what each holds exactly)
      const frames = inputFrames(3000, 11, format === 'pcap' ? 7_000n : 123n);
      const want = expected(frames);
      const encode = format === 'pcap' ? writePcap : writePcapng;
      const { report, bytes, text } = await runPcap(encode(frames), inName, outName);
      expect(report).toMatchObject({
        processed: frames.length - 1,
        skipped: [9],
        written: want.out.length,
        out: { format },
        arena: 'native',
      });
      expect(report.verdicts).toEqual(want.verdicts);
      expect([want.verdicts.DROP, want.verdicts.PASS, want.verdicts.TX].every((n) => n > 500)).toBe(true);
      expect(hex(bytes)).toBe(hex(encode(want.out)));
      expect(text).toContain(
        `written                 ${want.out.length.toLocaleString('en-US').padStart(13)}  PASS and TX frames, in input order`,
      );
      expect(text).toContain(
        'skipped                             1  longer than a 4,096-byte UMEM chunk holds (3,840 bytes): frame 9 (from 0)',
      );
    },
  );

  it('writes the format the --out extension names: pcap in, pcapng out (microsecond resolution kept) and back (nanosecond magic)', async () => {
    const micro = inputFrames(200, 3, 1_000n);
    const toNg = await runPcap(writePcap(micro), 'in.pcap', 'out.pcapng');
    expect(toNg.report.out.format).toBe('pcapng');
    expect(hex(toNg.bytes)).toBe(hex(writePcapng(expected(micro).out, { interfaces: [{ tsresol: 6 }] })));
    const nano = inputFrames(200, 4, 1n);
    const toPcap = await runPcap(writePcapng(nano), 'in.pcapng', 'out.pcap');
    expect(toPcap.report.out.format).toBe('pcap');
    expect(hex(toPcap.bytes)).toBe(hex(writePcap(expected(nano).out, { nanoseconds: true })));
    // another extension: the input's format
    const same = await runPcap(writePcapng(nano), 'in.pcapng', 'out.cap');
    expect(same.report.out.format).toBe('pcapng');
    expect(hex(same.bytes)).toBe(hex(writePcapng(expected(nano).out)));
  });

  it('--section picks a program of an object with several (xdp_basic: xdp_tx swaps every frame back)', async () => {
    const frames = inputFrames(100, 5, 1_000n).filter((f) => f.data.length <= 1792);
    const { report, bytes } = await runPcap(writePcap(frames), 'in.pcap', 'out.pcap', [
      '--prog',
      bundledObjectPath('xdp_basic'),
      '--section',
      'xdp_tx',
    ]);
    const tx = frames.filter((f) => f.data.length >= 14);
    expect(report.verdicts).toEqual({ ABORTED: frames.length - tx.length, DROP: 0, PASS: 0, TX: tx.length, REDIRECT: 0 });
    const swapped = tx.map((f) => {
      const d = f.data.slice();
      d.set(f.data.subarray(6, 12), 0);
      d.set(f.data.subarray(0, 6), 6);
      return { data: d, timestampNs: f.timestampNs as bigint };
    });
    expect(hex(bytes)).toBe(hex(writePcap(swapped)));
  });

  it('refuses a capture that is not Ethernet, or not a capture, in one line with exit code 2', async () => {
    const dir = scratch();
    const sll = join(dir, 'sll.pcap');
    writeFileSync(sll, writePcap([{ data: new Uint8Array(40) }], { linktype: 113 }));
    const junk = join(dir, 'junk.pcap');
    writeFileSync(junk, 'not a capture file at all');
    const err: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      err.push(`${args.join(' ')}\n`);
    });
    capture();
    expect(await main(['run', '--pcap', sll, '--prog', MIXED_OBJECT])).toBe(2);
    expect(await main(['run', '--pcap', junk, '--prog', MIXED_OBJECT])).toBe(2);
    expect(err).toHaveLength(2);
    expect(err[0]).toBe(
      `bpf-dispatcher: --pcap ${sll}: pcap link type LINKTYPE_LINUX_SLL (113): only LINKTYPE_ETHERNET (1) is accepted (at byte offset 20)\n`,
    );
    expect(err[1]).toMatch(new RegExp(`^bpf-dispatcher: --pcap ${junk}: not a pcap or pcapng file: .*\\n$`));
    expect(out.join('')).toBe('');
  });
});

describe('bpf-dispatcher run --pcap on the simulated arena (what runs off x86-64)', () => {
  it('gives the same output as the native arena, slowly', async () => {
    const dir = scratch();
    const frames = inputFrames(40, 9, 123n);
    writeFileSync(join(dir, 'in.pcapng'), writePcapng(frames));
    const lines: string[] = [];
    const report = await runCapture({
      pcap: join(dir, 'in.pcapng'),
      out: join(dir, 'out.pcapng'),
      prog: MIXED_OBJECT,
      arena: 'simulated',
      log: (text) => lines.push(text),
    });
    const want = expected(frames);
    expect(report).toMatchObject({ arena: 'simulated', verdicts: want.verdicts, skipped: want.skipped, written: want.out.length });
    expect(hex(new Uint8Array(readFileSync(join(dir, 'out.pcapng'))))).toBe(hex(writePcapng(want.out)));
  });
});
