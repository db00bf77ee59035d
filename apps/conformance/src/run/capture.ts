/**
 * `bpf-dispatcher run --pcap`: an XDP program over the frames of a capture file, each once
 * and in order, through the same AF_XDP poll loop and dispatcher as `--dev` (the i40e
 * device in `capture` mode, whose rings are fed from memory). The frames the program
 * passed or transmitted, as it left them, can be written to a new capture file with their
 * input frames' timestamps — like replaying a capture through `xdp-bench` and capturing
 * what comes out, without an interface.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  type Capture,
  CaptureError,
  type CaptureFormat,
  type CaptureFrameInput,
  I40eDevice,
  i40eXdpSetup,
  LINKTYPE_ETHERNET,
  MAX_CAPTURE_LENGTH,
  type Netdev,
  readCapture,
  writePcap,
  writePcapng,
} from '@bpf-dispatcher/i40e';
import { NativeArena, nativeSupported, SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import { XDP_HEADROOM } from '@bpf-dispatcher/xdp-call';
import { CliError, writeOutput } from '../output.js';
import { firstLine, type LoadedProgram, loadProgram } from './program.js';
import { count, VERDICTS, type Verdict, type VerdictCounts } from './stats.js';

/** Descriptors of the capture ring (and UMEM chunks). */
const CAPTURE_RING_SIZE = 256;

/** Which arena runs the program: native where the platform has it, else the simulated CPU (slow, but anywhere). */
export type CaptureArenaKind = 'native' | 'simulated';

/** Options of {@link runCapture}. */
export interface CaptureOptions {
  /** The capture file to read (pcap or pcapng, Ethernet). */
  readonly pcap: string;
  /** Where to write the PASS and TX frames (format from the extension `.pcap`/`.pcapng`, else the input's). */
  readonly out?: string;
  /** The BPF object file, and which of its programs (see `selectProgram`). */
  readonly prog: string;
  readonly section?: string;
  /** Default: native where supported, else simulated. */
  readonly arena?: CaptureArenaKind;
  /** Where the human-readable text goes. */
  readonly log: (text: string) => void;
}

/** What {@link runCapture} reports (also the `--json` document). */
export interface CaptureReport {
  readonly mode: 'pcap';
  readonly date: string;
  readonly input: { readonly file: string; readonly format: CaptureFormat; readonly frames: number };
  readonly program: { readonly file: string; readonly name: string; readonly section: string };
  readonly arena: CaptureArenaKind;
  /** Frames the program ran on, and its verdicts on them. */
  readonly processed: number;
  readonly verdicts: VerdictCounts;
  readonly invalidVerdicts: number;
  /** Indexes (from 0) of input frames too long for a UMEM chunk: never run, never written. */
  readonly skipped: readonly number[];
  /** The UMEM chunk size (4096 when a frame needs more than 2048), and the longest frame a chunk holds behind the XDP headroom. */
  readonly chunkSize: 2048 | 4096;
  readonly maxFrame: number;
  /** Frames written to `out` (PASS and TX, in input order), or null without `--out`. */
  readonly written: number | null;
  readonly out: { readonly file: string; readonly format: CaptureFormat } | null;
  readonly seconds: number;
}

/** The capture in `file`, Ethernet only. @throws CliError INVALID_INPUT in one line. */
export function readEthernetCapture(file: string): Capture {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CliError('INVALID_INPUT', `--pcap ${file}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? firstLine(error)}`, {
      cause: error,
    });
  }
  try {
    return readCapture(bytes, { linktype: LINKTYPE_ETHERNET });
  } catch (error) {
    if (!CaptureError.isCaptureError(error)) throw error;
    throw new CliError('INVALID_INPUT', `--pcap ${file}: ${firstLine(error)}`, { cause: error });
  }
}

/** The format to write: `.pcap` or `.pcapng` by the output's extension, else the input's. */
export function outputFormat(out: string, input: CaptureFormat): CaptureFormat {
  const lower = out.toLowerCase();
  if (lower.endsWith('.pcapng')) return 'pcapng';
  if (lower.endsWith('.pcap')) return 'pcap';
  return input;
}

/**
 * The output file's bytes: `frames` in `format`, with the input's timestamp resolution
 * (pcap: the nanosecond magic when the input had finer than microseconds; pcapng: each
 * input interface again, same resolution and name) and its snapshot length (raised to
 * the longest frame when a program grew one).
 */
export function encodeCapture(capture: Capture, frames: readonly CaptureFrameInput[], format: CaptureFormat): Uint8Array {
  const longest = frames.reduce((n, f) => Math.max(n, f.data.length), 0);
  const snaplenOf = (snaplen: number) => Math.min(MAX_CAPTURE_LENGTH, Math.max(snaplen === 0 ? MAX_CAPTURE_LENGTH : snaplen, longest));
  const first = capture.interfaces[0];
  if (format === 'pcap') {
    return writePcap(frames, {
      snaplen: snaplenOf(first?.snaplen ?? 0),
      nanoseconds: capture.interfaces.some((i) => i.tsresol !== 6),
    });
  }
  const interfaces = capture.interfaces.map((i) => ({
    linktype: LINKTYPE_ETHERNET,
    snaplen: snaplenOf(i.snaplen),
    tsresol: i.tsresol,
    ...(i.name === undefined ? {} : { name: i.name }),
  }));
  return writePcapng(frames, interfaces.length === 0 ? {} : { interfaces });
}

function createArena(kind: CaptureArenaKind): TextArena {
  if (kind === 'native') return new NativeArena({ textSize: 4 << 20, dataSize: 32 << 20 });
  return new SimulatedArena({ dataSize: 32 << 20 });
}

/**
 * Run the program over every frame of `options.pcap` and (with `out`) write what it
 * passed and transmitted. Everything is freed on every path.
 * @throws CliError INVALID_INPUT in one line: a capture that cannot be read or is not
 *   Ethernet, a program that does not load, an output the writer refuses (a timestamp
 *   before 1970); UNSUPPORTED for `arena: 'native'` off x86-64 Linux.
 */
export async function runCapture(options: CaptureOptions): Promise<CaptureReport> {
  const kind = options.arena ?? (nativeSupported() ? 'native' : 'simulated');
  if (kind === 'native' && !nativeSupported())
    throw new CliError('UNSUPPORTED', `the native arena needs x86-64 Linux; this is ${process.platform}/${process.arch}`);
  const capture = readEthernetCapture(options.pcap);
  const frames = capture.frames.map((f) => f.data);
  const chunkSize = frames.some((f) => f.length > 2048 - XDP_HEADROOM) ? 4096 : 2048;
  const maxFrame = chunkSize - XDP_HEADROOM;
  const started = performance.now();
  const errors: unknown[] = [];
  const arena = createArena(kind);
  let loaded: LoadedProgram | undefined;
  let device: I40eDevice | undefined;
  let netdev: Netdev | undefined;
  let report: CaptureReport | undefined;
  try {
    loaded = loadProgram(arena, options.prog, options.section);
    if (kind === 'simulated' && frames.length > 1000)
      options.log(
        `(the simulated arena runs ${count(frames.length)} frames slowly: no native arena on ${process.platform}/${process.arch})`,
      );
    device = new I40eDevice(arena, { mode: 'capture', ringSize: CAPTURE_RING_SIZE, captureFrameSize: chunkSize });
    netdev = device.netdevs[0] as Netdev;
    await i40eXdpSetup(netdev, loaded.prog);
    const output = device.replay(frames);
    const totals = device.totals();
    let written: number | null = null;
    let out: CaptureReport['out'] = null;
    if (options.out !== undefined) {
      const outFrames: CaptureFrameInput[] = [...output.pass, ...output.tx]
        .sort((a, b) => a.index - b.index)
        .map(({ index, frame }) => {
          const input = capture.frames[index] as Capture['frames'][number];
          return { data: frame, timestampNs: input.timestampNs, ...(input.interface === undefined ? {} : { interface: input.interface }) };
        });
      const format = outputFormat(options.out, capture.format);
      let bytes: Uint8Array;
      try {
        bytes = encodeCapture(capture, outFrames, format);
      } catch (error) {
        if (!BpfDispatcherError.isInstance(error)) throw error;
        throw new CliError('INVALID_INPUT', `--out ${options.out}: cannot write the frames as ${format}: ${firstLine(error)}`, {
          cause: error,
        });
      }
      writeOutput(options.out, bytes);
      written = outFrames.length;
      out = { file: options.out, format };
    }
    report = {
      mode: 'pcap',
      date: new Date().toISOString(),
      input: { file: options.pcap, format: capture.format, frames: frames.length },
      program: { file: options.prog, name: loaded.name, section: loaded.section },
      arena: kind,
      processed: output.processed,
      verdicts: Object.fromEntries(VERDICTS.map((v) => [v, Number(totals.actions[v])])) as Record<Verdict, number>,
      invalidVerdicts: Number(totals.errors),
      skipped: output.skipped,
      chunkSize,
      maxFrame,
      written,
      out,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    errors.push(error);
  } finally {
    const attachedTo = netdev;
    const steps: (() => unknown)[] = [];
    if (attachedTo !== undefined && attachedTo.xdpProg !== null) steps.push(() => i40eXdpSetup(attachedTo, null));
    if (device !== undefined) steps.push(device.dispose.bind(device));
    if (loaded !== undefined) steps.push(loaded.dispose);
    steps.push(() => arena.dispose());
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
  }
  if (errors.length > 0) throw errors[0];
  return report as CaptureReport;
}

/** The summary of a capture run: what ran, each verdict, what was processed, skipped and written. */
export function formatCapture(r: CaptureReport): string {
  const row = (label: string, n: number, note = '') => `  ${label.padEnd(24)}${count(n).padStart(13)}${note === '' ? '' : `  ${note}`}`;
  const lines = [
    `${count(r.input.frames)} frames of ${basename(r.input.file)} (${r.input.format}) through ${r.program.name} (section ${r.program.section}) of ${basename(
      r.program.file,
    )} on the ${r.arena} arena, in ${r.seconds.toFixed(2)} s`,
  ];
  for (const v of VERDICTS) lines.push(row(`XDP_${v}`, r.verdicts[v]));
  if (r.invalidVerdicts > 0) lines.push(row('invalid verdict', r.invalidVerdicts));
  lines.push(row('processed', r.processed, `of ${count(r.input.frames)} frames`));
  const first = r.skipped.slice(0, 5).join(', ');
  lines.push(
    row(
      'skipped',
      r.skipped.length,
      r.skipped.length === 0
        ? `(every frame fits a ${count(r.chunkSize)}-byte UMEM chunk)`
        : `longer than a ${count(r.chunkSize)}-byte UMEM chunk holds (${count(r.maxFrame)} bytes): frame${r.skipped.length > 1 ? 's' : ''} ${first}${r.skipped.length > 5 ? ', ...' : ''} (from 0)`,
    ),
  );
  if (r.out !== null && r.written !== null)
    lines.push(row('written', r.written, `PASS and TX frames, in input order, to ${r.out.file} (${r.out.format})`));
  return lines.join('\n');
}
