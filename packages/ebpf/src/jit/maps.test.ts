/**
 * The JIT against a runtime's maps, helpers and context, with plain fake native functions
 * (emitted here) standing in for the runtime: `lddw` of maps and map values, direct calls
 * of a map's own functions, inlined array lookups, `xdp_md` loads rewritten onto a
 * context layout, the r12 CPU register, and the checks of the options.
 */
import { NativeArena, nativeSupported, type Region, SimulatedArena, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, alu, call, mov, pop, push, qword, ret } from '@bpf-dispatcher/x86';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { EbpfError } from '../errors.js';
import { type Insn, insn } from '../insn.js';
import { testRun } from '../test-run.js';
import { DEFAULT_HELPERS, type HelperSpec } from '../verifier/helpers.js';
import type { MapDescriptor, VerifiedProgram, VerifyOptions } from '../verifier/types.js';
import { verify } from '../verifier/verify.js';
import type { JitMapInfo } from './context.js';
import { type JitContextLayout, type JitOptions, type JitProgram, jit } from './jit.js';

const ARENAS: readonly { name: string; create: () => TextArena }[] = [
  { name: 'simulated', create: () => new SimulatedArena({ textSize: 2 << 20, dataSize: 2 << 20 }) },
  ...(nativeSupported() ? [{ name: 'native', create: () => new NativeArena({ textSize: 2 << 20, dataSize: 2 << 20 }) }] : []),
];

/** fds: A and B are arrays (16-byte values, direct value access), H a hash-like map, P a per-CPU array. */
const A = 5;
const B = 6;
const H = 7;
const P = 8;
const DESCRIPTORS: ReadonlyMap<number, MapDescriptor> = new Map([
  [A, { keySize: 4, valueSize: 16, directValue: true }],
  [B, { keySize: 4, valueSize: 16, directValue: true }],
  [H, { keySize: 8, valueSize: 8 }],
  [P, { keySize: 4, valueSize: 8, directValue: true }],
]);
/** Test helpers besides the defaults: 100 takes a map and returns its argument (what `lddw map_fd` loaded). */
const HELPERS: HelperSpec[] = [
  ...DEFAULT_HELPERS,
  { id: 100, name: 'test_map_arg', args: ['map_ptr'], ret: 'integer' },
  { id: 101, name: 'test_align', args: [], ret: 'integer' },
];
const CPUS = 4;
const DEAD = 0xdead;
/** Per-CPU array P: 4 entries of 8 bytes (elemSize 8), each CPU's copy 64 bytes apart. */
const P_STRIDE = 64;

/** A fake native function's log: its arguments and r12 at its last call, and how often it ran. */
interface Call {
  readonly count: bigint;
  readonly rdi: bigint;
  readonly rsi: bigint;
  readonly rdx: bigint;
  readonly rcx: bigint;
  readonly r12: bigint;
}

const FAKES = ['lookupA', 'updateA', 'deleteA', 'lookupB', 'lookupH', 'updateH', 'deleteH', 'g1', 'g2', 'g3', 'g5', 'g7', 'g8', 'g100', 'g101'] as const;
type FakeName = (typeof FAKES)[number];

describe.each(ARENAS)('the JIT with maps, helpers and a context on the $name arena', ({ create }) => {
  let arena: TextArena;
  /** Logs of the fakes (64 bytes each), the maps' structures and values, a context and a packet. */
  let data: Region;
  let code: Region;
  const fn = {} as Record<FakeName, bigint>;
  const at = (offset: number) => data.address + BigInt(offset);
  const LOG = 0;
  const STRUCT = { [A]: 0x1000, [B]: 0x1080, [H]: 0x1100, [P]: 0x1180 } as Record<number, number>;
  const VALUES = { [A]: 0x2000, [B]: 0x2100, [H]: 0x2200, [P]: 0x2400, G: 0x2800 } as Record<number | 'G', number>;
  const CTX = 0x3000;
  const PACKET = 0x3100;
  const OUT = 0x3800;
  const programs: JitProgram[] = [];

  const u64 = (offset: number) => {
    const b = arena.read(at(offset), 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  };
  const setU64 = (offset: number, v: bigint) => arena.write(at(offset), new Uint8Array(new BigUint64Array([BigInt.asUintN(64, v)]).buffer));
  const setU32 = (offset: number, v: number) => arena.write(at(offset), new Uint8Array(new Uint32Array([v >>> 0]).buffer));
  const log = (name: FakeName): Call => {
    const base = LOG + FAKES.indexOf(name) * 64;
    return { rdi: u64(base), rsi: u64(base + 8), rdx: u64(base + 16), rcx: u64(base + 24), r12: u64(base + 32), count: u64(base + 40) };
  };
  const counts = () => Object.fromEntries(FAKES.map((n) => [n, Number(log(n).count)]).filter(([, c]) => c !== 0));
  const resetLogs = () => arena.write(at(LOG), new Uint8Array(FAKES.length * 64));
  const mapAddress = (fd: number) => at(STRUCT[fd] as number);
  const info = (fd: number, parts: Partial<Record<'ops' | 'inline' | 'direct', boolean>> = { ops: true, inline: true, direct: true }): JitMapInfo => {
    const ops =
      fd === A ? { lookup: fn.lookupA, update: fn.updateA, delete: fn.deleteA } : fd === B ? { lookup: fn.lookupB } : fd === H ? { lookup: fn.lookupH, update: fn.updateH, delete: fn.deleteH } : undefined;
    const values = at(VALUES[fd] as number);
    const inline =
      fd === A || fd === B
        ? { kind: 'array' as const, values, elemSize: 16, maxEntries: 4, cpuStride: 0 }
        : fd === P
          ? { kind: 'array' as const, values, elemSize: 8, maxEntries: 4, cpuStride: P_STRIDE }
          : undefined;
    return {
      address: mapAddress(fd),
      ...(parts.ops === true && ops !== undefined ? { ops } : {}),
      ...(parts.inline === true && inline !== undefined ? { inlineLookup: inline } : {}),
      ...(parts.direct === true && fd !== H ? { directValue: values } : {}),
    };
  };
  const allMaps = (parts?: Parameters<typeof info>[1]) => new Map([A, B, H, P].map((fd) => [fd, info(fd, parts)]));
  const helpers = () => new Map([1, 2, 3, 5, 7, 8, 100, 101].map((id) => [id, fn[`g${id}` as FakeName]]));
  const memOptions = (size: number, extra: Partial<VerifyOptions> = {}): VerifyOptions => ({ progType: { kind: 'memory', size }, maps: DESCRIPTORS, helpers: HELPERS, ...extra });
  const compile = (insns: readonly Insn[] | VerifiedProgram, options: JitOptions): JitProgram => {
    const prog = jit(arena, insns as VerifiedProgram, options);
    programs.push(prog);
    return prog;
  };
  const verifyMem = (src: string | readonly Insn[], size = 8, extra: Partial<VerifyOptions> = {}) => verify(typeof src === 'string' ? assemble(src) : src, memOptions(size, extra));
  /** Run a memory program once (or `repeat` times) on `bytes`; r0 and the data after. */
  const run = (prog: JitProgram, bytes: Uint8Array, repeat = 1) => {
    const r = testRun(prog, { data: bytes, repeat });
    return { r0: r.retval, out: r.dataOut };
  };
  const key = (k: number, extra = 4) => {
    const b = new Uint8Array(4 + extra);
    new DataView(b.buffer).setUint32(0, k >>> 0, true);
    return b;
  };

  beforeAll(() => {
    arena = create();
    data = arena.allocData(0x4000, 64);
    const logAt = (name: FakeName) => data.address + BigInt(LOG + FAKES.indexOf(name) * 64);
    /** A System V function that logs rdi, rsi, rdx, rcx, r12 and returns `result(b)`'s rax. */
    const fake = (b: CodeBuffer, name: FakeName, result: (b: CodeBuffer) => void) => {
      b.align(16);
      const entry = b.length;
      mov(b, 'r11', logAt(name));
      mov(b, qword('r11', 0), 'rdi');
      mov(b, qword('r11', 8), 'rsi');
      mov(b, qword('r11', 16), 'rdx');
      mov(b, qword('r11', 24), 'rcx');
      mov(b, qword('r11', 32), 'r12');
      alu(b, 'add', qword('r11', 40), 1);
      result(b);
      // clobber what a System V function may clobber
      for (const r of ['rcx', 'rdx', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11'] as const) mov(b, r, 0x5bad);
      ret(b);
      return entry;
    };
    const constant = (v: bigint | number) => (b: CodeBuffer) => mov(b, 'rax', v);
    const entries = {} as Record<FakeName, number>;
    code = emitText(arena, (b) => {
      const results: Record<FakeName, (b: CodeBuffer) => void> = {
        lookupA: constant(data.address + BigInt(VALUES[A] as number)),
        updateA: constant(0xa2),
        deleteA: constant(0xa3),
        lookupB: constant(data.address + BigInt(VALUES[B] as number)),
        lookupH: constant(data.address + BigInt(VALUES[H] as number)),
        updateH: constant(0x72),
        deleteH: constant(0x73),
        g1: constant(data.address + BigInt(VALUES.G)),
        g2: constant(0x12),
        g3: constant(0x13),
        g5: (b) => mov(b, 'rax', 'r12'), // "ktime": reports r12
        g7: constant(0x17),
        g8: (b) => mov(b, 'rax', 'r12'),
        g100: (b) => mov(b, 'rax', 'rdi'),
        g101: (b) => {
          // reports rsp % 16 at its entry (the call pushed 8 bytes: 8 when the caller was aligned)
          mov(b, 'rax', 'rsp');
          alu(b, 'and', 'eax', 15);
        },
      };
      for (const name of FAKES) entries[name] = fake(b, name, results[name]);
    });
    for (const name of FAKES) fn[name] = code.address + BigInt(entries[name]);
    // values: A[i] = 0xa000 + i, B[i] = 0xb000 + i (first u64 of each 16-byte value), H = 0x7777, G = 0x6666, P[cpu][i] = cpu * 0x100 + i
    for (let i = 0; i < 4; i++) {
      setU64((VALUES[A] as number) + i * 16, BigInt(0xa000 + i));
      setU64((VALUES[B] as number) + i * 16, BigInt(0xb000 + i));
      for (let cpu = 0; cpu < CPUS; cpu++) setU64((VALUES[P] as number) + cpu * P_STRIDE + i * 8, BigInt(cpu * 0x100 + i));
    }
    setU64(VALUES[H] as number, 0x7777n);
    setU64(VALUES.G, 0x6666n);
  });
  afterAll(() => {
    for (const p of programs) p.free();
    arena.free(code);
    arena.free(data);
    arena.dispose();
  });

  /** Look up the key at data[0] (u32; H: u64) in map `fd`; r0 = the value's first u64, or 0xdead for NULL. */
  const LOOKUP = (fd: number) => `
    ${fd === H ? 'ldxdw' : 'ldxw'} %r2, [%r1+0]
    ${fd === H ? 'stxdw [%r10-8]' : 'stxw [%r10-4]'}, %r2
    mov %r2, %r10
    add %r2, ${fd === H ? -8 : -4}
    lddw %r1, ${fd}, map_fd
    call 1
    jeq %r0, 0, null
    ldxdw %r0, [%r0+0]
    exit
  null:
    mov %r0, ${DEAD}
    exit`;

  describe('lddw of maps', () => {
    it('pseudo source 1 loads the map\'s address (seen by a helper taking the map)', () => {
      for (const fd of [A, H, P]) {
        const v = verifyMem(`lddw %r1, ${fd}, map_fd\ncall 100\nexit`);
        const prog = compile(v, { maps: allMaps(), helpers: helpers() });
        expect(run(prog, new Uint8Array(8)).r0).toBe(mapAddress(fd));
      }
    });

    it('pseudo source 2 loads the address of the map\'s value plus the offset: loads and stores reach it', () => {
      setU64((VALUES[A] as number) + 8, 0x1122_3344_5566_7788n);
      // lddw r1, map_value A + 8; r0 = *(u64 *)r1; *(u32 *)(r1 - 4) = 0x0badf00d
      const prog = compile(
        verifyMem([insn(0x18, 1, 2, 0, A), insn(0, 0, 0, 0, 8), insn(0x79, 0, 1, 0, 0), insn(0x62, 1, 0, -4, 0x0badf00d), insn(0x95, 0, 0, 0, 0)]),
        { maps: allMaps() },
      );
      expect(run(prog, new Uint8Array(8)).r0).toBe(0x1122_3344_5566_7788n);
      expect(u64(VALUES[A] as number) >> 32n).toBe(0x0badf00dn);
      setU32((VALUES[A] as number) + 4, 0);
      // the offset is unsigned 32-bit: the largest the verifier allows for 16-byte values is 15
      const last = compile(verifyMem([insn(0x18, 1, 2, 0, A), insn(0, 0, 0, 0, 15), insn(0x71, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]), { maps: allMaps() });
      arena.write(at((VALUES[A] as number) + 15), Uint8Array.of(0x9c));
      expect(run(last, new Uint8Array(8)).r0).toBe(0x9cn);
    });

    it('a map without a direct value address cannot be loaded by value (JitError), a map the JIT was not given is EINVAL', () => {
      const v = verifyMem([insn(0x18, 1, 2, 0, A), insn(0, 0, 0, 0, 0), insn(0x79, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]);
      expect(() => compile(v, { maps: allMaps({ ops: true, inline: true }) })).toThrow(expect.objectContaining({ code: 'JIT' }));
      expect(() => compile(v, { maps: new Map([[B, info(B)]]) })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => compile(v, {})).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    });
  });

  describe('calls of a map\'s own functions', () => {
    it('a lookup on a map the verifier knows calls the map\'s lookup directly, with the map and the key pointer', () => {
      resetLogs();
      const prog = compile(verifyMem(LOOKUP(H)), { maps: allMaps(), helpers: helpers() });
      expect(run(prog, key(3)).r0).toBe(0x7777n);
      expect(counts()).toEqual({ lookupH: 1 });
      expect(log('lookupH').rdi).toBe(mapAddress(H));
      // without the map's functions: the generic helper, with the map
      resetLogs();
      const generic = compile(verifyMem(LOOKUP(H)), { maps: allMaps({ direct: true }), helpers: helpers() });
      expect(run(generic, key(3)).r0).toBe(0x6666n);
      expect(counts()).toEqual({ g1: 1 });
      expect(log('g1').rdi).toBe(mapAddress(H));
      expect(log('g1').rsi).toBe(log('g1').rsi); // the key pointer: on the program's stack
    });

    it('update and delete go to the map\'s own functions with every argument; missing ones to the generic helpers', () => {
      const prog = `
        stdw [%r10-8], 42
        stdw [%r10-16], 7
        mov %r2, %r10
        add %r2, -8
        mov %r3, %r10
        add %r3, -16
        mov %r4, 2
        lddw %r1, ${H}, map_fd
        call 2
        mov %r6, %r0
        mov %r2, %r10
        add %r2, -8
        lddw %r1, ${H}, map_fd
        call 3
        lsh %r6, 8
        or %r0, %r6
        exit`;
      resetLogs();
      const direct = compile(verifyMem(prog), { maps: allMaps(), helpers: helpers() });
      expect(run(direct, new Uint8Array(8)).r0).toBe(0x7273n);
      expect(counts()).toEqual({ updateH: 1, deleteH: 1 });
      expect(log('updateH')).toMatchObject({ rdi: mapAddress(H), rcx: 2n });
      expect(log('updateH').rdx - log('updateH').rsi).toBe(-8n); // value 8 bytes below the key
      expect(log('deleteH').rsi).toBe(log('updateH').rsi);
      resetLogs();
      const viaHelpers = compile(verifyMem(prog), { maps: new Map([[H, { address: mapAddress(H), ops: { lookup: fn.lookupH } }]]), helpers: helpers() });
      expect(run(viaHelpers, new Uint8Array(8)).r0).toBe(0x1213n);
      expect(counts()).toEqual({ g2: 1, g3: 1 });
      expect(log('g2')).toMatchObject({ rdi: mapAddress(H), rcx: 2n });
    });

    it('a call site where paths pass different maps (callSiteMaps -1) calls the generic helper with whichever map', () => {
      const prog = `
        ldxw %r3, [%r1+4]
        stw [%r10-4], 1
        mov %r2, %r10
        add %r2, -4
        jeq %r3, 0, other
        lddw %r1, ${A}, map_fd
        ja call
      other:
        lddw %r1, ${B}, map_fd
      call:
        call 1
        jeq %r0, 0, null
        ldxdw %r0, [%r0+0]
        exit
      null:
        mov %r0, ${DEAD}
        exit`;
      const v = verifyMem(prog);
      expect(v.callSiteMaps).toEqual([{ insnIndex: 10, fd: -1 }]);
      const p = compile(v, { maps: allMaps(), helpers: helpers(), cpus: CPUS });
      for (const [which, fd] of [
        [1, A],
        [0, B],
      ] as const) {
        resetLogs();
        expect(run(p, Uint8Array.of(0, 0, 0, 0, which, 0, 0, 0)).r0).toBe(0x6666n);
        expect(counts()).toEqual({ g1: 1 });
        expect(log('g1').rdi).toBe(mapAddress(fd));
      }
      // the generic helper is required then
      expect(() => compile(v, { maps: allMaps(), helpers: new Map(), cpus: CPUS })).toThrow(expect.objectContaining({ code: 'JIT' }));
    });
  });

  describe('inlined array lookups', () => {
    it('need the runtime ABI (options.cpus): then no function runs, the index is checked against maxEntries', () => {
      const v = verifyMem(LOOKUP(A));
      const inlined = compile(v, { maps: allMaps(), helpers: new Map(), cpus: CPUS });
      const called = compile(v, { maps: allMaps(), helpers: helpers() });
      resetLogs();
      for (const [k, want] of [
        [0, 0xa000n],
        [3, 0xa003n],
        [4, BigInt(DEAD)],
        [0x8000_0000, BigInt(DEAD)],
        [0xffff_ffff, BigInt(DEAD)],
      ] as const) {
        expect(run(inlined, key(k)).r0, `key ${k}`).toBe(want);
      }
      expect(counts()).toEqual({});
      expect(run(called, key(2)).r0).toBe(0xa000n); // the fake lookup returns value 0
      expect(counts()).toEqual({ lookupA: 1 });
    });

    it('constant keys: the address or NULL without a load (stored on the stack by the program)', () => {
      resetLogs();
      for (const [k, want] of [
        [1, 0xb001n],
        [4, BigInt(DEAD)],
        [-1, BigInt(DEAD)],
      ] as const) {
        const src = `stw [%r10-4], ${k}\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, ${B}, map_fd\ncall 1\njeq %r0, 0, null\nldxdw %r0, [%r0+0]\nexit\nnull:\nmov %r0, ${DEAD}\nexit`;
        const p = compile(verifyMem(src), { maps: allMaps(), helpers: new Map(), cpus: CPUS });
        expect(run(p, new Uint8Array(8)).r0, `key ${k}`).toBe(want);
      }
      expect(counts()).toEqual({});
    });

    it('per-CPU arrays: CPU 0\'s copy for memory programs, the context\'s CPU for XDP programs', () => {
      const mem = compile(verifyMem(LOOKUP(P)), { maps: allMaps(), helpers: new Map(), cpus: CPUS });
      expect(run(mem, key(3)).r0).toBe(3n);
      expect(run(mem, key(4)).r0).toBe(BigInt(DEAD));
      const xdp = `
        stw [%r10-4], 2
        mov %r2, %r10
        add %r2, -4
        lddw %r1, ${P}, map_fd
        call 1
        jeq %r0, 0, null
        ldxdw %r0, [%r0+0]
        exit
      null:
        mov %r0, ${DEAD}
        exit`;
      const v = verify(assemble(xdp), { progType: 'xdp', maps: DESCRIPTORS, helpers: HELPERS });
      const p = compile(v, { maps: allMaps(), helpers: new Map(), cpus: CPUS, context: { fields: {}, cpuOffset: 12 } });
      for (const [cpu, want] of [
        [0, 2n],
        [1, 0x102n],
        [3, 0x302n],
        [4, 2n], // not below the CPU count: CPU 0
        [0xffff_ffff, 2n],
      ] as const) {
        setU32(CTX + 12, cpu);
        expect(arena.call(p.bpfFunc, at(CTX)), `cpu ${cpu}`).toBe(want);
      }
    });
  });

  describe('the CPU register r12', () => {
    /** An XDP program calling helper `id` and returning its result. */
    const XDP_CALL = (id: number) => verify(assemble(`call ${id}\nexit`), { progType: 'xdp', helpers: HELPERS });
    /** Calls `prog` with r12 = 0x5a5a1234 and the context; stores r12 after the call at OUT. Returns rax. */
    const withR12 = (prog: JitProgram): bigint => {
      const stub = emitText(arena, (b) => {
        push(b, 'r12');
        mov(b, 'r12', 0x5a5a_1234);
        mov(b, 'rax', prog.bpfFunc);
        call(b, 'rax');
        mov(b, 'rcx', at(OUT));
        mov(b, qword('rcx', 0), 'r12');
        pop(b, 'r12');
        ret(b);
      });
      try {
        return arena.call(stub.address, at(CTX));
      } finally {
        arena.free(stub);
      }
    };

    it('is loaded from context.cpuOffset and replaced by 0 when not below cpus; the caller\'s r12 survives', () => {
      resetLogs();
      const p = compile(XDP_CALL(5), { helpers: helpers(), cpus: 3, context: { fields: {}, cpuOffset: 20 } });
      for (const [cpu, want] of [
        [0, 0n],
        [2, 2n],
        [3, 0n],
        [0x8000_0000, 0n],
      ] as const) {
        setU32(CTX + 20, cpu);
        expect(withR12(p), `cpu ${cpu}`).toBe(want);
        expect(u64(OUT)).toBe(0x5a5a_1234n);
      }
      expect(counts()).toEqual({ g5: 4 });
    });

    it('is zeroed without a context layout (and in memory programs), untouched without options.cpus', () => {
      const zero = compile(XDP_CALL(5), { helpers: helpers(), cpus: 3 });
      setU32(CTX + 20, 2);
      expect(withR12(zero)).toBe(0n);
      expect(u64(OUT)).toBe(0x5a5a_1234n);
      const untouched = compile(XDP_CALL(5), { helpers: helpers(), context: { fields: {}, cpuOffset: 20 } });
      expect(withR12(untouched)).toBe(0x5a5a_1234n);
      // memory programs: r12 = 0 with cpus; without, whatever the caller had (testRun's loop counter)
      const v = verifyMem('call 5\nexit');
      expect(run(compile(v, { helpers: helpers(), cpus: 2 }), new Uint8Array(8)).r0).toBe(0n);
      expect(run(compile(v, { helpers: helpers() }), new Uint8Array(8), 1).r0).toBe(1n);
      expect(run(compile(v, { helpers: helpers() }), new Uint8Array(8), 3).r0).toBe(1n); // the last of 3 runs
    });

    it('get_smp_processor_id becomes mov eax, r12d: no helper address needed, none called', () => {
      resetLogs();
      const p = compile(XDP_CALL(8), { cpus: 4, context: { fields: {}, cpuOffset: 20 } });
      for (const cpu of [0, 1, 3, 4, 7]) {
        setU32(CTX + 20, cpu);
        expect(arena.call(p.bpfFunc, at(CTX))).toBe(BigInt(cpu < 4 ? cpu : 0));
      }
      expect(counts()).toEqual({});
      expect(() => compile(XDP_CALL(8), {})).toThrow(expect.objectContaining({ code: 'JIT' }));
      const viaHelper = compile(XDP_CALL(8), { helpers: helpers() });
      expect(withR12(viaHelper)).toBe(0x5a5a_1234n);
      expect(counts()).toEqual({ g8: 1 });
      // in a subprogram too: r12 comes from the main program's prologue
      const sub = verify(assemble('call local f\nexit\nf:\ncall 8\nexit'), { progType: 'xdp', helpers: HELPERS });
      const ps = compile(sub, { cpus: 4, context: { fields: {}, cpuOffset: 20 } });
      setU32(CTX + 20, 3);
      expect(withR12(ps)).toBe(3n);
      expect(u64(OUT)).toBe(0x5a5a_1234n);
    });

    it('a program without helper calls gets no r12 prologue; r12 is preserved across repeated runs', () => {
      const v = verifyMem('ldxdw %r0, [%r1+0]\nadd %r0, 1\nstxdw [%r1+0], %r0\nexit');
      expect(compile(v, { cpus: 4 }).bytes).toEqual(compile(v, {}).bytes);
      const counting = verifyMem('ldxdw %r0, [%r1+0]\nadd %r0, 1\nstxdw [%r1+0], %r0\ncall 8\nexit');
      // testRun's loop counts its runs in r12: the program restores it
      expect(run(compile(counting, { cpus: 4 }), new Uint8Array(8), 5).out).toEqual(Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0));
    });

    it('keeps rsp 16-byte aligned at helper calls with r12 pushed (any stack depth and callee-saved registers)', () => {
      for (const depth of [0, 8, 16, 24]) {
        for (const saved of [0, 1, 2, 3]) {
          const setup = [
            ...(depth > 0 ? [`stdw [%r10-${depth}], 0`] : []),
            ...Array.from({ length: saved }, (_, k) => `mov %r${6 + k}, ${k}`),
          ].join('\n');
          const uses = Array.from({ length: saved }, (_, k) => `add %r0, %r${6 + k}`).join('\n');
          const v = verify(assemble(`${setup}\ncall 101\n${uses}\nexit`.replace(/^\n/, '')), { progType: 'xdp', helpers: HELPERS });
          for (const cpus of [undefined, 2]) {
            const p = compile(v, { helpers: helpers(), ...(cpus === undefined ? {} : { cpus }), context: { fields: {}, cpuOffset: 20 } });
            // the fake reports rsp % 16 at its entry: 8 when the call was made with rsp aligned
            const sum = BigInt((saved * (saved - 1)) / 2);
            expect(arena.call(p.bpfFunc, at(CTX)) - sum, `depth ${depth} saved ${saved} cpus ${cpus}`).toBe(8n);
          }
        }
      }
      // a program that may read stack it never wrote gets its frame zeroed before r12 is pushed
      const uninit = verify(assemble('ldxdw %r6, [%r10-24]\ncall 101\nadd %r0, %r6\nexit'), { progType: 'xdp', helpers: HELPERS });
      expect(uninit.readsUninitStack).toBe(true);
      const p = compile(uninit, { helpers: helpers(), cpus: 2, context: { fields: {}, cpuOffset: 20 } });
      expect(arena.call(p.bpfFunc, at(CTX))).toBe(8n);
    });
  });

  describe('xdp_md loads rewritten onto the context layout', () => {
    const LAYOUT: JitContextLayout = {
      fields: {
        rx_queue_index: { offset: 0, size: 4 },
        ingress_ifindex: { offset: 4, size: 4 },
        egress_ifindex: { offset: 8, size: 4 },
        data: { offset: 16, size: 8 },
        data_meta: { offset: 24, size: 8 },
        data_end: { offset: 32, size: 8 },
      },
      cpuOffset: 12,
    };
    /** r0 = len + ingress << 16 + rxq << 32 + first byte << 48, or 1 when the packet is empty. */
    const PARSER = `
      ldxw %r2, [%r1+0]
      ldxw %r3, [%r1+4]
      ldxw %r4, [%r1+12]
      ldxw %r5, [%r1+16]
      mov %r0, %r3
      sub %r0, %r2
      mov %r6, %r2
      add %r6, 1
      jgt %r6, %r3, empty
      ldxb %r7, [%r2+0]
      lsh %r7, 48
      add %r0, %r7
      lsh %r4, 16
      add %r0, %r4
      lsh %r5, 32
      add %r0, %r5
      exit
    empty:
      mov %r0, 1
      exit`;
    const layOut = (len: number) => {
      arena.write(at(CTX), new Uint8Array(64));
      setU32(CTX + 0, 0x33); // rx_queue_index
      setU32(CTX + 4, 0x44); // ingress_ifindex
      setU32(CTX + 8, 0x55); // egress_ifindex
      setU64(CTX + 16, at(PACKET));
      setU64(CTX + 24, at(PACKET));
      setU64(CTX + 32, at(PACKET + len));
      arena.write(at(PACKET), Uint8Array.of(0xe7, 1, 2, 3));
    };

    it('each field is one load from where the layout says (pointers 8 bytes, scalars 4)', () => {
      const v = verify(assemble(PARSER), { progType: 'xdp' });
      expect(v.ctxLoads.map((l) => l.field)).toEqual(['data', 'data_end', 'ingress_ifindex', 'rx_queue_index']);
      const p = compile(v, { context: LAYOUT });
      layOut(60);
      expect(arena.call(p.bpfFunc, at(CTX))).toBe(60n + (0x44n << 16n) + (0x33n << 32n) + (0xe7n << 48n));
      layOut(0);
      expect(arena.call(p.bpfFunc, at(CTX))).toBe(1n);
      // data_meta and egress_ifindex (devmap programs)
      const meta = verify(assemble('ldxw %r2, [%r1+8]\nldxw %r3, [%r1+0]\nldxw %r0, [%r1+20]\njgt %r2, %r3, out\nadd %r0, 1\nout:\nexit'), { progType: { kind: 'xdp', devmap: true } });
      layOut(4);
      expect(arena.call(compile(meta, { context: LAYOUT }).bpfFunc, at(CTX))).toBe(0x56n);
    });

    it('without a layout, loads read struct xdp_md as it is', () => {
      const v = verify(assemble('ldxw %r0, [%r1+12]\nldxw %r2, [%r1+16]\nlsh %r2, 32\nor %r0, %r2\nexit'), { progType: 'xdp' });
      arena.write(at(CTX), new Uint8Array(24));
      setU32(CTX + 12, 0x1111);
      setU32(CTX + 16, 0x2222);
      expect(arena.call(compile(v, {}).bpfFunc, at(CTX))).toBe(0x2222_0000_1111n);
      // a layout for memory programs is ignored (no context loads to rewrite)
      const m = verifyMem('ldxw %r0, [%r1+4]\nexit');
      expect(run(compile(m, { context: LAYOUT, cpus: 2 }), Uint8Array.of(0, 0, 0, 0, 9, 0, 0, 0)).r0).toBe(9n);
    });

    it('refuses layouts without a loaded field, with bad offsets, or with a width that does not fit the field (EINVAL)', () => {
      const v = verify(assemble(PARSER), { progType: 'xdp' });
      const { ingress_ifindex: _, ...noIngress } = LAYOUT.fields;
      const bad: unknown[] = [
        null,
        42,
        { fields: null },
        { fields: noIngress },
        { fields: LAYOUT.fields, cpuOffset: -1 },
        { fields: LAYOUT.fields, cpuOffset: 0x10000 },
        { fields: LAYOUT.fields, cpuOffset: 1.5 },
        { fields: { ...LAYOUT.fields, data: { offset: -8, size: 8 } } },
        { fields: { ...LAYOUT.fields, data: { offset: 16, size: 2 } } },
        { fields: { ...LAYOUT.fields, data: { offset: 16, size: 4 } } }, // a 32-bit pointer
        { fields: { ...LAYOUT.fields, ingress_ifindex: { offset: 4, size: 8 } } }, // 64 bits where the verifier proved 32
      ];
      for (const context of bad) {
        expect(() => compile(v, { context: context as JitContextLayout }), JSON.stringify(context)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      }
    });
  });

  describe('options.maps against the maps the program was verified with', () => {
    const v = () => verifyMem(LOOKUP(A));

    it('refuses malformed entries for used maps (EINVAL) and ignores entries of maps the program was not verified with', () => {
      const good = info(A);
      const inline = good.inlineLookup as NonNullable<JitMapInfo['inlineLookup']>;
      const bad: unknown[] = [
        null,
        42,
        {},
        { ...good, address: 5 },
        { ...good, address: -1n },
        { ...good, address: 1n << 64n },
        { ...good, directValue: 'x' },
        { ...good, ops: null },
        { ...good, ops: { lookup: 1 } },
        { ...good, ops: { update: -5n } },
        { ...good, inlineLookup: { ...inline, kind: 'hash' } },
        { ...good, inlineLookup: { ...inline, values: 3 } },
        { ...good, inlineLookup: { ...inline, elemSize: 8 } }, // smaller than the 16-byte values
        { ...good, inlineLookup: { ...inline, elemSize: 16.5 } },
        { ...good, inlineLookup: { ...inline, maxEntries: -1 } },
        { ...good, inlineLookup: { ...inline, maxEntries: 2 ** 32 } },
        { ...good, inlineLookup: { ...inline, cpuStride: -64 } },
        { ...good, inlineLookup: null },
      ];
      for (const entry of bad) {
        expect(() => compile(v(), { maps: new Map([[A, entry as JitMapInfo]]), cpus: 1 }), JSON.stringify(entry, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))).toThrow(
          expect.objectContaining({ code: 'EINVAL' }),
        );
      }
      // an inlinable lookup for a map whose keys are not 4 bytes
      expect(() => compile(verifyMem(`stdw [%r10-8], 0\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, ${H}, map_fd\ncall 1\nmov %r0, 0\nexit`), { maps: new Map([[H, { ...info(H), inlineLookup: inline }]]), helpers: helpers() })).toThrow(
        expect.objectContaining({ code: 'EINVAL' }),
      );
      // entries for other fds are not looked at
      const p = compile(v(), { maps: new Map<number, JitMapInfo>([[A, good], [99, null as unknown as JitMapInfo], [98, 'x' as unknown as JitMapInfo]]), cpus: 1 });
      expect(run(p, key(1)).r0).toBe(0xa001n);
      expect(() => compile(v(), { maps: { [A]: good } as unknown as Map<number, JitMapInfo> })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => compile(v(), { maps: allMaps(), helpers: helpers(), cpus: 0 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => compile(v(), { maps: allMaps(), helpers: helpers(), cpus: 1.5 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    });

    it('a map the program uses must be given (EINVAL), with or without options.maps', () => {
      for (const maps of [new Map(), new Map([[B, info(B)]]), undefined]) {
        let error: unknown;
        try {
          compile(v(), { ...(maps === undefined ? {} : { maps }), helpers: helpers() });
        } catch (e) {
          error = e;
        }
        expect(EbpfError.hasCode(error, 'EINVAL'), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/map fd 5/);
      }
    });

    it('an inlined lookup must cover the entries the verifier counted on (arrayMaxEntries)', () => {
      const descriptors = new Map(DESCRIPTORS);
      descriptors.set(A, { ...(DESCRIPTORS.get(A) as MapDescriptor), arrayMaxEntries: 8 });
      // key 6 is below 8: the verifier lets the program use the value without a NULL check
      const src = `stw [%r10-4], 6\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, ${A}, map_fd\ncall 1\nldxdw %r0, [%r0+0]\nexit`;
      const checked = verify(assemble(src), memOptions(8, { maps: descriptors }));
      expect(() => compile(checked, { maps: allMaps(), helpers: helpers(), cpus: CPUS })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      const matching = new Map(allMaps());
      matching.set(A, { ...info(A), inlineLookup: { ...(info(A).inlineLookup as NonNullable<JitMapInfo['inlineLookup']>), maxEntries: 8 } });
      setU64((VALUES[A] as number) + 6 * 16, 0xa006n);
      expect(run(compile(checked, { maps: matching, helpers: helpers(), cpus: CPUS }), new Uint8Array(8)).r0).toBe(0xa006n);
    });
  });
});
