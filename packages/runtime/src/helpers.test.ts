import { emitText, type SimulatedArena, type TextArena } from '@bpf-dispatcher/text-poke';
import { alu, call, mov, pop, push, qword, ret } from '@bpf-dispatcher/x86';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClockStruct, clockCalibration, emitReadTsc } from './clock.js';
import { BPF_FUNC, PRANDOM_STRIDE } from './helpers.js';
import { type BpfRuntime, createRuntime } from './runtime.js';
import { ARENAS } from './test-support/arenas.js';
import { callStubs } from './test-support/map-context.js';
import { createFrame, type TestFrame } from './test-support/xdp-frame.js';
import { XDP_FRAME_SIZE, XDP_METADATA_MAX, XDP_PACKET_HEADROOM, XDP_TAILROOM } from './xdp-context.js';

const CPUS = 3;
const EINVAL = -22n;
const EACCES = -13n;
const ENOTSUPP = -524n;
const M64 = (1n << 64n) - 1n;

/** xorshift64* as the kernel-style `bpf_get_prandom_u32` here computes it: the next state and the output. */
function xorshift(state: bigint): { state: bigint; out: bigint } {
  let s = state;
  s ^= s >> 12n;
  s = (s ^ (s << 25n)) & M64;
  s ^= s >> 27n;
  return { state: s, out: ((s * 0x2545f4914f6cdd1dn) & M64) >> 32n };
}

describe.each(ARENAS)('runtime helpers on the $name arena', ({ name, create }) => {
  let arena: TextArena;
  let runtime: BpfRuntime;
  /** The runtime's clock and random state (found in the ktime helper's code, checked against the calibration). */
  let state: bigint;
  const helper = (id: number) => runtime.helpers.get(id) as bigint;
  const signed = (v: bigint) => BigInt.asIntN(64, v);
  const frames: TestFrame[] = [];
  const frame = (...args: Parameters<typeof createFrame> extends [unknown, ...infer R] ? R : never) => {
    const f = createFrame(arena, ...args);
    frames.push(f);
    return f;
  };
  const head = (f: TestFrame, delta: number | bigint) => signed(runtime.cpuCall(0, helper(BPF_FUNC.xdp_adjust_head), f.ctx, delta));
  const meta = (f: TestFrame, delta: number | bigint) => signed(runtime.cpuCall(1, helper(BPF_FUNC.xdp_adjust_meta), f.ctx, delta));
  const tail = (f: TestFrame, delta: number | bigint) => signed(runtime.cpuCall(2, helper(BPF_FUNC.xdp_adjust_tail), f.ctx, delta));

  beforeAll(() => {
    arena = create();
    runtime = createRuntime(arena, { cpus: CPUS });
    state = clockAddress(arena, helper(BPF_FUNC.ktime_get_ns));
  });
  afterAll(() => {
    for (const f of frames.splice(0)) f.free();
    runtime.dispose();
    arena.dispose();
  });

  it('provides every helper id of BPF_FUNC, each at its own 16-byte aligned entry', () => {
    expect([...runtime.helpers.keys()].sort((a, b) => a - b)).toEqual(Object.values(BPF_FUNC).sort((a, b) => a - b));
    const addresses = [...runtime.helpers.values()];
    expect(new Set(addresses).size).toBe(addresses.length);
    for (const a of addresses) expect(a % 16n).toBe(0n);
  });

  describe('bpf_ktime_get_ns', () => {
    it('is ns0 + (tsc - tsc0) * mult >> 32 for a counter reading taken during the call', () => {
      const cal = clockCalibration(arena);
      // the helpers read the calibration the runtime stored: the same values
      const u64 = (offset: number) => readU64(arena, state + BigInt(offset));
      const o = ClockStruct.offsets;
      expect([u64(o.tsc0), u64(o.ns0), u64(o.mult)]).toEqual([cal.tsc0, cal.ns0, cal.mult]);
      const out = arena.allocData(24, 64);
      const routine = emitText(arena, (b) => {
        push(b, 'rbx');
        push(b, 'rbp');
        push(b, 'r13');
        emitReadTsc(b);
        mov(b, 'rbx', 'rax');
        mov(b, 'rax', helper(BPF_FUNC.ktime_get_ns));
        call(b, 'rax');
        mov(b, 'rbp', 'rax');
        emitReadTsc(b);
        mov(b, 'rcx', out.address);
        mov(b, qword('rcx', 0), 'rbx');
        mov(b, qword('rcx', 8), 'rbp');
        mov(b, qword('rcx', 16), 'rax');
        pop(b, 'r13');
        pop(b, 'rbp');
        pop(b, 'rbx');
        ret(b);
      });
      try {
        const ns = (tsc: bigint) => cal.ns0 + (tsc < cal.tsc0 ? 0n : ((tsc - cal.tsc0) * cal.mult) >> 32n);
        for (let i = 0; i < 20; i++) {
          arena.call(routine.address);
          const m = arena.memory(out);
          const [before, k, after] = [m.getU64(0), m.getU64(8), m.getU64(16)];
          expect(k).toBeGreaterThanOrEqual(ns(before));
          expect(k).toBeLessThanOrEqual(ns(after));
        }
      } finally {
        arena.free(routine);
        arena.free(out);
      }
    });

    it('never goes back: within one run it advances, across calls it does not decrease', () => {
      const routine = emitText(arena, (b) => {
        push(b, 'rbx');
        mov(b, 'rax', helper(BPF_FUNC.ktime_get_ns));
        call(b, 'rax');
        mov(b, 'rbx', 'rax');
        mov(b, 'rax', helper(BPF_FUNC.ktime_get_ns));
        call(b, 'rax');
        alu(b, 'sub', 'rax', 'rbx');
        pop(b, 'rbx');
        ret(b);
      });
      try {
        for (let i = 0; i < 20; i++) {
          const d = signed(arena.call(routine.address));
          expect(d).toBeGreaterThan(0n);
        }
        let last = 0n;
        for (let i = 0; i < 200; i++) {
          const k = runtime.cpuCall(i % CPUS, helper(BPF_FUNC.ktime_get_ns));
          expect(k).toBeGreaterThanOrEqual(last);
          last = k;
        }
      } finally {
        arena.free(routine);
      }
    });

    it.runIf(name === 'native')('follows process.hrtime on the native arena (right after calibration, and its rate)', async () => {
      const fresh = create();
      try {
        const rt = createRuntime(fresh, { cpus: 1 });
        const ktime = rt.helpers.get(BPF_FUNC.ktime_get_ns) as bigint;
        const cal = clockCalibration(fresh);
        expect(cal.nsPerTick).toBeGreaterThan(0.05); // a counter below 20 GHz
        expect(cal.nsPerTick).toBeLessThan(5); // and above 200 MHz
        const h0 = process.hrtime.bigint();
        const k0 = rt.userCall(ktime);
        const h1 = process.hrtime.bigint();
        // the calibration's rate error (however large the machine's load made it) applies to the time since ns0 only
        const slack = 10_000_000n + (h1 - cal.ns0) / 2n;
        expect(k0).toBeGreaterThanOrEqual(h0 - slack);
        expect(k0).toBeLessThanOrEqual(h1 + slack);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const h2 = process.hrtime.bigint();
        const k2 = rt.userCall(ktime);
        const ratio = Number(k2 - k0) / Number(h2 - h0);
        expect(ratio).toBeGreaterThan(0.25);
        expect(ratio).toBeLessThan(4);
        rt.dispose();
      } finally {
        fresh.dispose();
      }
    });
  });

  describe('bpf_get_prandom_u32', () => {
    it('is xorshift64* on the state of CPU r12, one cache line per CPU; out-of-range CPUs use CPU 0', () => {
      const prandom = state + BigInt(ClockStruct.size);
      const read = (cpu: number) => readU64(arena, prandom + BigInt(cpu * PRANDOM_STRIDE));
      const seen = new Set<bigint>();
      for (let round = 0; round < 8; round++) {
        for (let cpu = 0; cpu < CPUS; cpu++) {
          const before = Array.from({ length: CPUS }, (_, c) => read(c));
          expect(before[cpu]).not.toBe(0n);
          const want = xorshift(before[cpu] as bigint);
          const got = runtime.cpuCall(cpu, helper(BPF_FUNC.get_prandom_u32));
          expect(got).toBe(want.out);
          expect(got >> 32n).toBe(0n);
          seen.add(got);
          // only this CPU's state moved
          expect(Array.from({ length: CPUS }, (_, c) => read(c))).toEqual(before.map((s, c) => (c === cpu ? want.state : s)));
        }
      }
      expect(seen.size).toBe(8 * CPUS); // it varies, and differs between CPUs
      // r12 beyond the CPU count (possible only from hand-written callers) reads CPU 0's state, nothing past the array
      const { asCpu } = callStubs(arena);
      for (const r12 of [CPUS, 255, 0xffff_ffff]) {
        const s0 = read(0);
        expect(arena.call(asCpu, helper(BPF_FUNC.get_prandom_u32), r12)).toBe(xorshift(s0).out);
        expect(read(0)).toBe(xorshift(s0).state);
      }
    });
  });

  describe('bpf_get_smp_processor_id', () => {
    it('returns r12, or 0 when r12 is not below the CPU count', () => {
      for (let cpu = 0; cpu < CPUS; cpu++) expect(runtime.cpuCall(cpu, helper(BPF_FUNC.get_smp_processor_id))).toBe(BigInt(cpu));
      const { asCpu } = callStubs(arena);
      for (const r12 of [CPUS, CPUS + 1, 0x7fff_ffff, 0xffff_ffff]) expect(arena.call(asCpu, helper(BPF_FUNC.get_smp_processor_id), r12)).toBe(0n);
    });
  });

  describe('bpf_xdp_adjust_head', () => {
    it('grows into the headroom down to the 40 bytes kept for xdp_frame, and no further (EINVAL)', () => {
      const f = frame();
      const room = XDP_PACKET_HEADROOM - XDP_FRAME_SIZE;
      expect(head(f, -(room + 1))).toBe(EINVAL);
      expect(f.state()).toEqual({ data: 256, dataEnd: 320, dataMeta: 256 });
      expect(head(f, -room)).toBe(0n);
      expect(f.state()).toEqual({ data: XDP_FRAME_SIZE, dataEnd: 320, dataMeta: XDP_FRAME_SIZE });
      expect(head(f, -1)).toBe(EINVAL);
      // only the pointers move: the frame's bytes are untouched
      expect(f.bytes(0, 256)).toEqual(new Uint8Array(256).fill(0xa5));
      expect(head(f, room)).toBe(0n);
      expect(f.state()).toEqual({ data: 256, dataEnd: 320, dataMeta: 256 });
    });

    it('shrinks the packet down to 14 bytes (an Ethernet header), no further (EINVAL)', () => {
      const f = frame();
      expect(head(f, 51)).toBe(EINVAL);
      expect(head(f, 50)).toBe(0n);
      expect(f.state()).toEqual({ data: 306, dataEnd: 320, dataMeta: 306 });
      expect(head(f, 1)).toBe(EINVAL);
      expect(head(f, 0)).toBe(0n);
      expect(f.state()).toEqual({ data: 306, dataEnd: 320, dataMeta: 306 });
      const g = frame({ length: 14 });
      expect(head(g, 1)).toBe(EINVAL);
      expect(head(g, 0)).toBe(0n);
      const short = frame({ length: 10 });
      expect(head(short, 0)).toBe(EINVAL); // already below 14 bytes: any move is refused
    });

    it('moves the metadata along with data, both ways (overlapping moves included); the metadata counts against the headroom', () => {
      for (const metaLen of [4, 8, 12, 32]) {
        for (const delta of [-180, -36, -8, -4, 4, 8, 12, 40]) {
          const f = frame({ meta: metaLen });
          const pattern = Uint8Array.from({ length: metaLen }, (_, i) => 0xc0 + i);
          arena.write(f.start + BigInt(256 - metaLen), pattern);
          expect(head(f, delta), `meta ${metaLen} delta ${delta}`).toBe(0n);
          const s = f.state();
          expect(s).toEqual({ data: 256 + delta, dataEnd: 320, dataMeta: 256 + delta - metaLen });
          expect(f.bytes(s.dataMeta, metaLen)).toEqual(pattern);
        }
        const f = frame({ meta: metaLen });
        const lowest = XDP_FRAME_SIZE + metaLen;
        expect(head(f, lowest - 256 - 1)).toBe(EINVAL);
        expect(f.state()).toEqual({ data: 256, dataEnd: 320, dataMeta: 256 - metaLen });
        expect(head(f, lowest - 256)).toBe(0n);
        expect(f.state()).toEqual({ data: lowest, dataEnd: 320, dataMeta: XDP_FRAME_SIZE });
      }
    });

    it('without metadata support (data_meta = data + 1) moves nothing but the pointers, with the full headroom', () => {
      const f = frame({ meta: 'unsupported' });
      expect(head(f, -16)).toBe(0n);
      expect(f.state()).toEqual({ data: 240, dataEnd: 320, dataMeta: 241 });
      expect(f.bytes(0, 256)).toEqual(new Uint8Array(256).fill(0xa5));
      expect(head(f, XDP_FRAME_SIZE - 240 - 1)).toBe(EINVAL);
      expect(head(f, XDP_FRAME_SIZE - 240)).toBe(0n);
      expect(f.state()).toEqual({ data: XDP_FRAME_SIZE, dataEnd: 320, dataMeta: XDP_FRAME_SIZE + 1 });
      expect(head(f, 320 - 14 - XDP_FRAME_SIZE)).toBe(0n);
      expect(f.state()).toEqual({ data: 306, dataEnd: 320, dataMeta: 307 });
      expect(f.bytes(0, 256)).toEqual(new Uint8Array(256).fill(0xa5));
    });

    it('moves metadata of any length exactly (a hand-made buffer with 3 or 6 bytes), both ways', () => {
      for (const metaLen of [3, 6]) {
        for (const delta of [-9, -1, 1, 7]) {
          const f = frame({ meta: metaLen, fill: 0x11 });
          const pattern = Uint8Array.from({ length: metaLen }, (_, i) => 0xd0 + i);
          arena.write(f.start + BigInt(256 - metaLen), pattern);
          expect(head(f, delta)).toBe(0n);
          const s = f.state();
          expect(s.dataMeta).toBe(256 + delta - metaLen);
          expect(f.bytes(s.dataMeta, metaLen)).toEqual(pattern);
          // nothing in front of the lower of the two metadata positions was written
          expect(f.bytes(Math.min(s.dataMeta, 256 - metaLen) - 8, 8)).toEqual(new Uint8Array(8).fill(0x11));
        }
      }
    });

    it('takes delta as a 32-bit int: the upper half of the register is ignored; extreme values are refused', () => {
      const f = frame();
      expect(head(f, (1n << 32n) | 8n)).toBe(0n);
      expect(f.state().data).toBe(264);
      expect(head(f, 0xffff_fff8n)).toBe(0n); // -8 as a u32
      expect(f.state().data).toBe(256);
      expect(head(f, 0x7fff_ffff)).toBe(EINVAL);
      expect(head(f, -0x8000_0000)).toBe(EINVAL);
      expect(f.state()).toEqual({ data: 256, dataEnd: 320, dataMeta: 256 });
    });
  });

  describe('bpf_xdp_adjust_meta', () => {
    it('accepts metadata of a multiple of 4 bytes up to 32; other lengths are EACCES', () => {
      const f = frame();
      for (const len of [4, 8, 12, 16, 20, 24, 28, 32, 0]) {
        expect(meta(f, 256 - len - f.state().dataMeta)).toBe(0n);
        expect(f.state()).toEqual({ data: 256, dataEnd: 320, dataMeta: 256 - len });
      }
      for (const len of [1, 2, 3, 5, 31, 33, 36, 40, 64, 200]) {
        expect(meta(f, -len), `metalen ${len}`).toBe(EACCES);
        expect(f.state().dataMeta).toBe(256);
      }
      expect(XDP_METADATA_MAX).toBe(32);
    });

    it('refuses data_meta beyond data, or into the 40 bytes kept for xdp_frame (EINVAL, checked before the length)', () => {
      const f = frame({ meta: 8 });
      expect(meta(f, 9)).toBe(EINVAL);
      expect(meta(f, 12)).toBe(EINVAL);
      expect(meta(f, 8)).toBe(0n);
      expect(meta(f, 1)).toBe(EINVAL);
      const low = frame({ headroom: XDP_FRAME_SIZE + 8 });
      expect(meta(low, -8)).toBe(0n);
      expect(low.state().dataMeta).toBe(XDP_FRAME_SIZE);
      expect(meta(low, -4)).toBe(EINVAL); // 12 bytes would do, but they cross into xdp_frame
      expect(meta(low, -1)).toBe(EINVAL); // EINVAL wins over EACCES
      expect(low.state()).toEqual({ data: XDP_FRAME_SIZE + 8, dataEnd: XDP_FRAME_SIZE + 72, dataMeta: XDP_FRAME_SIZE });
    });

    it('returns -ENOTSUPP (524) when the buffer has no metadata support (data_meta > data), whatever the delta', () => {
      const f = frame({ meta: 'unsupported' });
      for (const delta of [0, -1, -4, -5, 4]) expect(meta(f, delta)).toBe(ENOTSUPP);
      expect(f.state()).toEqual({ data: 256, dataEnd: 320, dataMeta: 257 });
    });

    it('leaves the packet and metadata bytes alone', () => {
      const f = frame();
      const before = f.bytes(0, 2048);
      expect(meta(f, -32)).toBe(0n);
      expect(meta(f, 16)).toBe(0n);
      expect(f.bytes(0, 2048)).toEqual(before);
    });
  });

  describe('bpf_xdp_adjust_tail', () => {
    it('grows up to frame_sz - 320 (the tailroom kept for skb_shared_info), zeroing exactly the new bytes', () => {
      const frameSize = 2048;
      const hardEnd = frameSize - XDP_TAILROOM;
      for (const grow of [1, 3, 7, 8, 9, 15, 16, 17, 63, 200]) {
        const f = frame({ fill: 0xee });
        expect(tail(f, grow), `grow ${grow}`).toBe(0n);
        expect(f.state()).toEqual({ data: 256, dataEnd: 320 + grow, dataMeta: 256 });
        expect(f.bytes(320, grow)).toEqual(new Uint8Array(grow));
        expect(f.bytes(320 + grow, 8)).toEqual(new Uint8Array(8).fill(0xee));
        expect(f.bytes(256, 64)).toEqual(Uint8Array.from({ length: 64 }, (_, i) => i));
      }
      const f = frame();
      expect(tail(f, hardEnd - 320 + 1)).toBe(EINVAL);
      expect(f.state().dataEnd).toBe(320);
      expect(f.bytes(320, 16)).toEqual(new Uint8Array(16).fill(0xa5)); // nothing zeroed on failure
      expect(tail(f, hardEnd - 320)).toBe(0n);
      expect(f.state().dataEnd).toBe(hardEnd);
      expect(f.bytes(320, hardEnd - 320)).toEqual(new Uint8Array(hardEnd - 320));
      expect(f.bytes(hardEnd, 8)).toEqual(new Uint8Array(8).fill(0xa5));
      expect(tail(f, 1)).toBe(EINVAL);
    });

    it('uses frame_sz from the buffer, not the memory around it', () => {
      const f = frame({ frameSz: 1024 });
      expect(tail(f, 1024 - XDP_TAILROOM - 320 + 1)).toBe(EINVAL);
      expect(tail(f, 1024 - XDP_TAILROOM - 320)).toBe(0n);
      expect(f.state().dataEnd).toBe(1024 - XDP_TAILROOM);
      const tiny = frame({ frameSz: XDP_TAILROOM });
      expect(tail(tiny, 1)).toBe(EINVAL);
      expect(tail(tiny, -1)).toBe(EINVAL); // data_end is already beyond the (empty) usable buffer
    });

    it('shrinks down to 14 bytes of packet without touching any byte', () => {
      const f = frame();
      const before = f.bytes(0, 2048);
      expect(tail(f, -51)).toBe(EINVAL);
      expect(tail(f, -50)).toBe(0n);
      expect(f.state()).toEqual({ data: 256, dataEnd: 270, dataMeta: 256 });
      expect(tail(f, -1)).toBe(EINVAL);
      expect(tail(f, 0)).toBe(0n);
      expect(f.bytes(0, 2048)).toEqual(before);
      expect(tail(f, (1n << 32n) | 2n)).toBe(0n); // a 32-bit int: +2
      expect(f.state().dataEnd).toBe(272);
      expect(tail(f, -0x8000_0000)).toBe(EINVAL);
      expect(tail(f, 0x7fff_ffff)).toBe(EINVAL);
    });
  });

  describe('map helpers', () => {
    it('go on to the map\'s own functions with the CPU in r12 (per-CPU array: that CPU\'s copy)', () => {
      const map = runtime.createMap({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 4 });
      const scratch = arena.allocData(64, 64);
      try {
        const key = scratch.address;
        const value = scratch.address + 8n;
        arena.memory(scratch).setU32(0, 2);
        for (let cpu = 0; cpu < CPUS; cpu++) {
          arena.memory(scratch).setU64(8, BigInt(100 + cpu));
          expect(runtime.cpuCall(cpu, helper(BPF_FUNC.map_update_elem), map.address, key, value, 0)).toBe(0n);
        }
        expect(map.lookupPerCpu(2)?.map((v) => new DataView(v.buffer, v.byteOffset).getBigUint64(0, true))).toEqual([100n, 101n, 102n]);
        for (let cpu = 0; cpu < CPUS; cpu++) {
          const at = runtime.cpuCall(cpu, helper(BPF_FUNC.map_lookup_elem), map.address, key);
          expect(arena.read(at, 8)).toEqual(new Uint8Array(new BigUint64Array([BigInt(100 + cpu)]).buffer));
        }
        expect(signed(runtime.cpuCall(0, helper(BPF_FUNC.map_delete_elem), map.address, key))).toBe(EINVAL);
        arena.memory(scratch).setU32(0, 4);
        expect(runtime.cpuCall(1, helper(BPF_FUNC.map_lookup_elem), map.address, key)).toBe(0n);
        const hash = runtime.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
        hash.update(4, new Uint8Array(8).fill(9));
        const at = runtime.cpuCall(1, helper(BPF_FUNC.map_lookup_elem), hash.address, key);
        expect(arena.read(at, 8)).toEqual(new Uint8Array(8).fill(9));
        expect(runtime.cpuCall(1, helper(BPF_FUNC.map_delete_elem), hash.address, key)).toBe(0n);
        expect(hash.lookup(4)).toBeUndefined();
        void hash.dispose();
      } finally {
        arena.free(scratch);
        void map.dispose();
      }
    });
  });

  it.runIf(name === 'simulated')('every helper preserves rbx, rbp and r12-r15', () => {
    const sim = arena as SimulatedArena;
    const f = frame({ meta: 8 });
    const saved = { rbx: 0x1111n, rbp: 0x2222n, r12: 1n, r13: 0x3333n, r14: 0x4444n, r15: 0x5555n };
    const calls: [number, Record<string, bigint>][] = [
      [BPF_FUNC.ktime_get_ns, {}],
      [BPF_FUNC.get_prandom_u32, {}],
      [BPF_FUNC.get_smp_processor_id, {}],
      [BPF_FUNC.xdp_adjust_head, { rdi: f.ctx, rsi: -8n }],
      [BPF_FUNC.xdp_adjust_head, { rdi: f.ctx, rsi: 8n }],
      [BPF_FUNC.xdp_adjust_meta, { rdi: f.ctx, rsi: -4n }],
      [BPF_FUNC.xdp_adjust_tail, { rdi: f.ctx, rsi: 100n }],
      [BPF_FUNC.xdp_adjust_tail, { rdi: f.ctx, rsi: -100n }],
    ];
    for (const [id, args] of calls) {
      const { regs, rax } = sim.run(helper(id), { ...args, ...saved });
      if (id >= BPF_FUNC.xdp_adjust_head) expect(rax, `helper ${id}`).toBe(0n);
      expect({ rbx: regs.rbx, rbp: regs.rbp, r12: regs.r12, r13: regs.r13, r14: regs.r14, r15: regs.r15 }).toEqual(saved);
    }
  });
});

/** A little-endian u64 at an address of the arena (the runtime keeps its clock and random state private). */
function readU64(arena: TextArena, address: bigint): bigint {
  const b = arena.read(address, 8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/**
 * The address of the runtime's clock data: the `mov rcx, imm` that follows the counter read
 * (`rdtsc; shl rdx, 32; or rax, rdx`) at the start of `bpf_ktime_get_ns`.
 */
function clockAddress(arena: TextArena, ktime: bigint): bigint {
  const code = arena.read(ktime, 24);
  const hex = Buffer.from(code).toString('hex');
  expect(hex.startsWith('0f3148c1e2204809d0'), hex).toBe(true);
  const at = 9;
  const view = new DataView(code.buffer, code.byteOffset);
  if (code[at] === 0xb9) return BigInt(view.getUint32(at + 1, true)); // mov ecx, imm32
  if (code[at] === 0x48 && code[at + 1] === 0xc7 && code[at + 2] === 0xc1) return BigInt.asUintN(64, BigInt(view.getInt32(at + 3, true))); // mov rcx, simm32
  if (code[at] === 0x48 && code[at + 1] === 0xb9) return view.getBigUint64(at + 2, true); // movabs rcx, imm64
  throw new Error(`unexpected encoding after the counter read: ${hex}`);
}
