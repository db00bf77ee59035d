/**
 * THE differential test of the bundled C programs: the same `.bpf.o` is loaded into this
 * project's runtime (`BpfObject.load` on a native arena: our verifier, JIT, helpers and maps,
 * run through an xdp_call's dispatcher) and into the running kernel (`loadObjectIntoKernel`:
 * `BPF_MAP_CREATE` / `BPF_PROG_LOAD`), and every frame of the packet corpus runs through
 * both, in the same order — natively through `xdpCallRun`, in the kernel through
 * `BPF_PROG_TEST_RUN` with an `xdp_md` of the same ingress ifindex and rx queue (`lo`,
 * queue 0). Per frame the verdicts and the output bytes (data_meta..data_end) must be
 * equal; after the corpus, every map's contents (per-CPU values summed over CPUs, since
 * the kernel's test run uses whichever CPU it is on).
 *
 * Frames the kernel refuses to test-run (shorter than an Ethernet header) run natively
 * only, after the map comparison, and must give the verdict the C source says.
 *
 * Hash map elements a program replaces or deletes are reused by the map's own code as soon
 * as no reader thread can hold them (here none is registered: at once), as the kernel's
 * preallocated hash maps do; nothing between two frames helps it (xdp_helpers' 4-entry
 * `scratch` map churns on every frame).
 *
 * Nothing is normalised: the programs' C makes everything they leave behind deterministic
 * (xdp_helpers records only facts about ktime/prandom/smp id, never their values).
 * Skipped, with the reason printed, only where `bpf()` cannot be used.
 */
import { kernelBpfAvailable, kernelProgLoad, kernelTestRun, possibleCpuCount } from '@bpf-dispatcher/ebpf';
import { type BpfObject, type KernelObject, loadObjectIntoKernel } from '@bpf-dispatcher/bpf-object';
import { runtimeOf } from '@bpf-dispatcher/runtime';
import { NativeArena, nativeSupported } from '@bpf-dispatcher/text-poke';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XdpAction } from './actions.js';
import { xdpProgFromObject } from './object-prog.js';
import { type BundledObjectName, openBundledObject } from './programs/bundled.js';
import { RXQ_INFO_OPTIONS } from './programs/rxq-info.js';
import { type CorpusFrame, packetCorpus } from './test-support/packet-corpus.js';
import {
  type MapDump,
  TEST_RUN_DATA_OUT,
  TEST_RUN_IFINDEX,
  TEST_RUN_QUEUE,
  dumpKernelMap,
  dumpNativeMap,
  toHex,
  xdpMdContext,
} from './test-support/xdp-differential.js';
import { createXdpBuff } from './xdp-buff.js';
import { type XdpCall, defineXdpCall, xdpCallRun, xdpCallUpdate } from './xdp-call.js';

const kernel = kernelBpfAvailable();
const skipReason = !nativeSupported() ? 'the native arena needs x86-64 Linux' : !kernel.ok ? `bpf() is not usable here: ${kernel.reason}` : undefined;
if (skipReason !== undefined) console.warn(`kernel differential test skipped: ${skipReason}`);
const describeKernel = skipReason === undefined ? describe : describe.skip;

/** One configuration of one object: what to set before load, and map values to write after. */
interface Case {
  readonly name: string;
  readonly object: BundledObjectName;
  /** The program to compare (the object's other programs are not loaded). */
  readonly program: string;
  /** Changes before load (`setVariable`): the kernel loader takes the same adjusted object. */
  readonly before?: (object: BpfObject) => void;
  /** Map entries to write on both sides after load: `[map, key u32, value]`. */
  readonly entries?: readonly (readonly [string, number, Uint8Array])[];
  /** The verdict the C gives a frame shorter than 14 bytes (run natively only). */
  readonly runt: number;
}

const le32 = (...values: number[]): Uint8Array => {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setUint32(4 * i, v >>> 0, true);
  });
  return out;
};

const { READ_MEM, SWAP_MAC } = RXQ_INFO_OPTIONS;
const rxqInfo = (action: number, ifindex: number, options: number): Case => ({
  name: `xdp_rxq_info action ${action} ifindex ${ifindex} options ${options}`,
  object: 'xdp_rxq_info',
  program: 'xdp_rxq_info',
  entries: [['config_map', 0, le32(action, ifindex, options)]],
  // a foreign ifindex, or a header check on a runt: XDP_ABORTED; otherwise the action
  runt: ifindex !== TEST_RUN_IFINDEX || options & (READ_MEM | SWAP_MAC) ? XdpAction.ABORTED : action,
});

const CASES: readonly Case[] = [
  { name: 'xdp_basic xdp_drop', object: 'xdp_basic', program: 'xdp_drop', runt: XdpAction.DROP },
  { name: 'xdp_basic xdp_pass', object: 'xdp_basic', program: 'xdp_pass', runt: XdpAction.PASS },
  { name: 'xdp_basic xdp_tx', object: 'xdp_basic', program: 'xdp_tx', runt: XdpAction.ABORTED },
  { name: 'xdp_basic xdp_aborted', object: 'xdp_basic', program: 'xdp_aborted', runt: XdpAction.ABORTED },
  { name: 'xdp_basic xdp_verdict (default XDP_PASS)', object: 'xdp_basic', program: 'xdp_verdict', runt: XdpAction.PASS },
  {
    name: 'xdp_basic xdp_verdict = XDP_TX',
    object: 'xdp_basic',
    program: 'xdp_verdict',
    before: (o) => o.map('.rodata').setVariable('verdict', XdpAction.TX),
    runt: XdpAction.TX,
  },
  {
    name: 'xdp_basic xdp_verdict = 0xdeadbeef (not an action)',
    object: 'xdp_basic',
    program: 'xdp_verdict',
    before: (o) => o.map('.rodata').setVariable('verdict', 0xdeadbeef),
    runt: 0xdeadbeef,
  },
  rxqInfo(XdpAction.DROP, TEST_RUN_IFINDEX, 0),
  rxqInfo(XdpAction.PASS, TEST_RUN_IFINDEX, READ_MEM),
  rxqInfo(XdpAction.PASS, TEST_RUN_IFINDEX, SWAP_MAC),
  rxqInfo(XdpAction.TX, TEST_RUN_IFINDEX, READ_MEM),
  rxqInfo(XdpAction.TX, TEST_RUN_IFINDEX, 0),
  rxqInfo(XdpAction.REDIRECT, TEST_RUN_IFINDEX, READ_MEM | SWAP_MAC),
  rxqInfo(XdpAction.DROP, TEST_RUN_IFINDEX + 6, SWAP_MAC), // an ifindex that does not match
  ...[9, 53, 2304, 0].map(
    (port): Case => ({
      name: `xdp_udp_filter filter_port ${port}`,
      object: 'xdp_udp_filter',
      program: 'xdp_udp_filter',
      before: (o) => o.map('.rodata').setVariable('filter_port', port),
      runt: XdpAction.PASS,
    }),
  ),
  { name: 'xdp_helpers (defaults: grow 8, shrink 4)', object: 'xdp_helpers', program: 'xdp_helpers', runt: XdpAction.ABORTED },
  {
    // 1514 + 2006 = 3520 bytes: the largest frame the page holds; larger IPv6 frames do not fit
    name: 'xdp_helpers grow 2006, shrink 40, other magic and TCI',
    object: 'xdp_helpers',
    program: 'xdp_helpers',
    before: (o) => {
      const rodata = o.map('.rodata');
      rodata.setVariable('tail_grow', 2006);
      rodata.setVariable('tail_shrink', 40);
      rodata.setVariable('meta_magic', 0x01020304);
      o.map('.data').setVariable('vlan_tci_base', 0x2fff);
    },
    runt: XdpAction.ABORTED,
  },
];

/**
 * Mismatches the kernel is known to be wrong about, by case and frame label, with the
 * reason (kernel-oracle.md's known bug is about 32-bit cmpxchg, which none of these
 * programs use). Empty: every mismatch found so far was this runtime's (its verifier refused
 * xdp_helpers, which the kernel loads: fixed in the verifier's joins; hash map elements
 * reused only after a grace period: see the file comment).
 */
const KERNEL_EXCEPTIONS: ReadonlyMap<string, string> = new Map();

/** What one side did with one frame. */
interface Outcome {
  readonly verdict: number;
  readonly bytes: Uint8Array;
}

/** At most this many bytes of a frame are printed, from the first that differs. */
const SHOWN_BYTES = 64;

const describeOutcome = (o: Outcome | Error, from = 0): string =>
  o instanceof Error
    ? `threw ${o.message.split('\n')[0]}`
    : `verdict ${o.verdict}, ${o.bytes.length} bytes, from byte ${from}: ${toHex(o.bytes.subarray(from, from + SHOWN_BYTES))}${o.bytes.length > from + SHOWN_BYTES ? '…' : ''}`;

/** Index of the first byte where `a` and `b` differ (the shorter length if one is a prefix of the other; 0 if equal). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? 0 : n;
}

/** The figures of one case, printed and summed. */
interface Figures {
  compared: number;
  nativeOnly: number;
  maps: number;
  mismatches: string[];
  exceptions: string[];
}

const corpus = packetCorpus();
const kernelFrames = corpus.filter((f) => f.kernelTestRun);
const runts = corpus.filter((f) => !f.kernelTestRun);

describeKernel('the bundled objects in the kernel and in this runtime: same verdicts, bytes and maps', () => {
  let arena: NativeArena;
  let call: XdpCall;
  const totals = { cases: 0, compared: 0, nativeOnly: 0, maps: 0, mismatches: 0, exceptions: 0 };

  beforeAll(() => {
    arena = new NativeArena({ textSize: 4 << 20, dataSize: 16 << 20 });
    call = defineXdpCall(arena, 'differential');
  });
  afterAll(async () => {
    await call?.dispose();
    arena?.dispose();
    console.log(
      `kernel differential: ${totals.cases} program configurations × the corpus, ${totals.compared} frames compared (verdict + bytes), ` +
        `${totals.nativeOnly} runt frames run natively only, ${totals.maps} map dumps compared, ${totals.mismatches} mismatches, ${totals.exceptions} documented kernel exceptions`,
    );
  });

  it("the kernel's test run takes lo (ifindex 1) and its queue 0, as both sides use", () => {
    // r0 = ingress_ifindex << 8 | rx_queue_index
    using prog = kernelProgLoad(
      [
        { code: 0x61, dst: 0, src: 1, off: 12, imm: 0 },
        { code: 0x61, dst: 2, src: 1, off: 16, imm: 0 },
        { code: 0x67, dst: 0, src: 0, off: 0, imm: 8 },
        { code: 0x0f, dst: 0, src: 2, off: 0, imm: 0 },
        { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
      ],
      { progType: 'xdp' },
    );
    const data = new Uint8Array(64);
    const run = (ifindex: number, queue: number) => kernelTestRun(prog, { data, ctx: xdpMdContext(data.length, ifindex, queue) }).retval;
    expect(run(TEST_RUN_IFINDEX, TEST_RUN_QUEUE)).toBe((TEST_RUN_IFINDEX << 8) | TEST_RUN_QUEUE);
    expect(run(0, 0)).toBe(1 << 8); // no ifindex: lo's queue 0 all the same
    expect(() => run(TEST_RUN_IFINDEX, 1)).toThrow(expect.objectContaining({ errnoName: 'EINVAL' })); // lo has one rx queue
    expect(() => run(0x7fff_fff0, 0)).toThrow(expect.objectContaining({ errnoName: 'ENODEV' }));
  });

  it('the corpus has a few hundred frames the kernel test-runs and runts it refuses', () => {
    expect(kernelFrames.length).toBeGreaterThanOrEqual(300);
    expect(runts.length).toBeGreaterThan(0);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const figures = await compare(c, arena, call);
      totals.cases += 1;
      totals.compared += figures.compared;
      totals.nativeOnly += figures.nativeOnly;
      totals.maps += figures.maps;
      totals.mismatches += figures.mismatches.length;
      totals.exceptions += figures.exceptions.length;
      for (const line of figures.exceptions) console.log(`documented kernel exception: ${line}`);
      if (figures.mismatches.length > 0) {
        console.error(`${c.name}: ${figures.mismatches.length} mismatches\n${figures.mismatches.slice(0, 20).join('\n')}`);
      }
      expect(figures.mismatches).toEqual([]);
      expect(figures.compared).toBe(kernelFrames.length);
    });
  }
});

/** Run the corpus through one program on both sides and compare; returns the figures. */
async function compare(c: Case, arena: NativeArena, call: XdpCall): Promise<Figures> {
  const programName = c.program;
  const figures: Figures = { compared: 0, nativeOnly: 0, maps: 0, mismatches: [], exceptions: [] };
  const mismatch = (frame: string, what: string, native: Outcome | Error | string, inKernel: Outcome | Error | string) => {
    const from = typeof native === 'object' && !(native instanceof Error) && typeof inKernel === 'object' && !(inKernel instanceof Error) ? firstDifference(native.bytes, inKernel.bytes) : 0;
    const text = (o: Outcome | Error | string) => (typeof o === 'string' ? o : describeOutcome(o, from));
    const line = `${c.name} (program ${programName}) / ${frame}: ${what}\n  native: ${text(native)}\n  kernel: ${text(inKernel)}`;
    const reason = KERNEL_EXCEPTIONS.get(`${c.name}/${frame}`);
    if (reason !== undefined) figures.exceptions.push(`${line}\n  reason: ${reason}`);
    else figures.mismatches.push(line);
  };

  const object = openBundledObject(c.object);
  c.before?.(object);
  for (const p of object.programs) p.setAutoload(p.name === programName);
  // the same adjusted object, both ways
  let inKernel: KernelObject | undefined;
  try {
    inKernel = loadObjectIntoKernel(object);
    object.load(arena);
    for (const [map, key, value] of c.entries ?? []) {
      object.map(map).map.update(key, value);
      inKernel.map(map).update(le32(key), value);
    }
    const kprog = inKernel.program(programName);
    const prog = xdpProgFromObject(object.program(programName));
    try {
      await xdpCallUpdate(call, null, prog);
      const runtime = runtimeOf(arena);
      let runs = 0;
      const runNative = (frame: CorpusFrame): Outcome => {
        // the kernel runs each test on whichever CPU the syscall is on: here the CPUs take turns
        const cpu = runs++ % runtime.cpus;
        const buff = createXdpBuff(arena, frame.bytes, { ifindex: TEST_RUN_IFINDEX, queueIndex: TEST_RUN_QUEUE, cpu });
        try {
          const verdict = xdpCallRun(call, prog, buff.ctx);
          return { verdict, bytes: buff.frame() };
        } finally {
          buff.free();
        }
      };
      const runKernel = (frame: CorpusFrame): Outcome => {
        const result = kernelTestRun(kprog, { data: frame.bytes, ctx: xdpMdContext(frame.bytes.length), dataOutSize: TEST_RUN_DATA_OUT });
        return { verdict: result.retval, bytes: result.dataOut };
      };
      const attempt = (f: () => Outcome): Outcome | Error => {
        try {
          return f();
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      };

      for (const frame of kernelFrames) {
        const native = attempt(() => runNative(frame));
        const kernelOut = attempt(() => runKernel(frame));
        figures.compared += 1;
        if (native instanceof Error || kernelOut instanceof Error) {
          mismatch(frame.label, 'a side failed', native, kernelOut);
        } else if (native.verdict !== kernelOut.verdict) {
          mismatch(frame.label, 'verdicts differ', native, kernelOut);
        } else if (toHex(native.bytes) !== toHex(kernelOut.bytes)) {
          mismatch(frame.label, 'output bytes differ', native, kernelOut);
        }
      }

      // every map, after the whole corpus
      const cpus = possibleCpuCount();
      for (const m of object.maps) {
        const native: MapDump = dumpNativeMap(m.map);
        const theirs: MapDump = dumpKernelMap(inKernel.map(m.name), cpus);
        figures.maps += 1;
        if (JSON.stringify(native) !== JSON.stringify(theirs)) {
          const show = (dump: MapDump) => dump.map(([k, v]) => `${k}=${v}`).join(' ');
          const diff = (a: MapDump, b: MapDump) => a.filter(([k, v]) => !b.some(([k2, v2]) => k === k2 && v === v2));
          mismatch(`map ${m.name}`, 'map contents differ (entries only on that side)', show(diff(native, theirs)), show(diff(theirs, native)));
        }
      }

      // frames the kernel refuses: natively only, after the comparison; the C's verdict
      for (const frame of runts) {
        const native = attempt(() => runNative(frame));
        figures.nativeOnly += 1;
        if (native instanceof Error || native.verdict !== c.runt || toHex(native.bytes) !== toHex(frame.bytes)) {
          figures.mismatches.push(`${c.name} (program ${programName}) / ${frame.label} (native only): expected verdict ${c.runt} and the frame unchanged, got ${describeOutcome(native)}`);
        }
      }
      await xdpCallUpdate(call, prog, null);
    } finally {
      await prog.dispose();
    }
  } finally {
    inKernel?.close();
    await object.close();
  }
  return figures;
}
