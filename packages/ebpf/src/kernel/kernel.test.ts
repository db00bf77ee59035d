import { describe, expect, it } from 'vitest';
import { EbpfError } from '../errors.js';
import type { Insn } from '../insn.js';
import {
  KernelError,
  KernelRunner,
  kernelBpfAvailable,
  kernelJitSize,
  kernelMapCreate,
  kernelProgInfo,
  kernelProgLoad,
  kernelRun64,
  kernelTestRun,
  possibleCpuCount,
} from './index.js';

// Raw instructions (the assembler is another engineer's; these tests only need a few forms).
const mov = (dst: number, imm: number): Insn => ({ code: 0xb7, dst, src: 0, off: 0, imm });
const exit: Insn = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
const lddw = (dst: number, value: bigint): Insn[] => [
  { code: 0x18, dst, src: 0, off: 0, imm: Number(BigInt.asIntN(32, value)) },
  { code: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, value >> 32n)) },
];
const ldxdw = (dst: number, src: number, off: number): Insn => ({ code: 0x79, dst, src, off, imm: 0 });
const stxdw = (dst: number, src: number, off: number): Insn => ({ code: 0x7b, dst, src, off, imm: 0 });
const movReg = (dst: number, src: number): Insn => ({ code: 0xbf, dst, src, off: 0, imm: 0 });

const available = kernelBpfAvailable();
if (!available.ok) console.warn(`kernel oracle tests skipped: ${available.reason}`);
const describeKernel = available.ok ? describe : describe.skip;
const key0 = new Uint8Array(4);

function u64(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, true);
  return b;
}

describe('kernelBpfAvailable', () => {
  it('answers ok or a reason, and caches it', () => {
    const a = kernelBpfAvailable();
    expect(a).toBe(kernelBpfAvailable());
    if (!a.ok) expect(a.reason.length).toBeGreaterThan(0);
  });
});

describeKernel('bpf(2) through koffi', () => {
  it('loads an XDP program and test-runs it: retval, packet out, duration', () => {
    using prog = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp', name: 'oracle_pass' });
    const data = new Uint8Array(64).map((_, i) => i);
    const run = kernelTestRun(prog, { data, repeat: 100 });
    expect(run.retval).toBe(2);
    expect(run.dataOut).toEqual(data);
    expect(run.durationNs).toBeGreaterThanOrEqual(0);
    expect(prog.insnCount).toBe(2);
  });

  it('reports only 32 bits of r0 through XDP retval', () => {
    using prog = kernelProgLoad([...lddw(0, 0x1234_5678_9abc_def0n), exit], { progType: 'xdp' });
    expect(kernelTestRun(prog, { data: new Uint8Array(64) }).retval).toBe(0x9abc_def0);
  });

  it('refuses an invalid program with a KernelError carrying errno and the verifier log', () => {
    let error: unknown;
    try {
      kernelProgLoad([exit], { progType: 'xdp' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelError);
    const k = error as KernelError;
    expect(k.code).toBe('KERNEL');
    expect(k.errnoName).toBe('EACCES');
    expect(k.errno).toBe(13);
    expect(k.log).toMatch(/R0 !read_ok/);
    expect(EbpfError.hasCode(k, 'KERNEL')).toBe(true);
  });

  it('keeps the log of an accepted program at logLevel 2', () => {
    using prog = kernelProgLoad([mov(0, 1), exit], { progType: 'socket_filter', logLevel: 2 });
    expect(prog.log).toMatch(/processed 2 insns/);
  });

  it('validates its inputs with typed errors', () => {
    const bad: [() => unknown, string][] = [
      [() => kernelProgLoad([exit], { progType: 'nope' as 'xdp' }), 'EINVAL'],
      [() => kernelProgLoad([], { progType: 'xdp' }), 'EINVAL'],
      [() => kernelProgLoad([{ code: 0x100, dst: 0, src: 0, off: 0, imm: 0 }], { progType: 'xdp' }), 'EINVAL'],
      [() => kernelProgLoad([exit], { progType: 'xdp', name: 'bad name!' }), 'EINVAL'],
      [() => kernelProgLoad([exit], { progType: 'xdp', logLevel: 3 as 1 }), 'EINVAL'],
      [() => kernelMapCreate({ type: 'tree' as 'array', keySize: 4, valueSize: 8, maxEntries: 1 }), 'EINVAL'],
      [() => kernelMapCreate({ type: 'array', keySize: -1, valueSize: 8, maxEntries: 1 }), 'EINVAL'],
      [() => kernelMapCreate({ type: 'array', keySize: 4, valueSize: 1.5, maxEntries: 1 }), 'EINVAL'],
      [() => kernelMapCreate({ type: 'array', keySize: 8, valueSize: 8, maxEntries: 1 }), 'KERNEL'], // arrays need 4-byte keys
      [() => kernelTestRun({} as never, { data: new Uint8Array(64) }), 'EINVAL'],
    ];
    for (const [f, code] of bad) expect(f).toThrow(expect.objectContaining({ code }));
  });

  it('passes an xdp_md context in and reads it back', () => {
    // r0 = ctx->data_end - ctx->data (the packet length), read through the context
    const prog = [
      { code: 0x61, dst: 2, src: 1, off: 4, imm: 0 },
      { code: 0x61, dst: 3, src: 1, off: 0, imm: 0 },
      { code: 0x1f, dst: 2, src: 3, off: 0, imm: 0 },
      movReg(0, 2),
      { code: 0x54, dst: 0, src: 0, off: 0, imm: 0xff },
      exit,
    ];
    using loaded = kernelProgLoad(prog, { progType: 'xdp' });
    const ctx = new Uint8Array(24);
    new DataView(ctx.buffer).setUint32(4, 60, true); // data = 0, data_end = 60: the whole packet
    const run = kernelTestRun(loaded, { data: new Uint8Array(60), ctx });
    expect(run.retval).toBe(60);
    expect(run.ctxOut?.length).toBe(24);
    expect(new DataView((run.ctxOut as Uint8Array).buffer).getUint32(4, true)).toBe(60);
  });

  it('refuses a test-run with a packet shorter than an Ethernet header (EINVAL from the kernel)', () => {
    using prog = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp' });
    expect(() => kernelTestRun(prog, { data: new Uint8Array(4) })).toThrow(
      expect.objectContaining({ code: 'KERNEL', errnoName: 'EINVAL' }),
    );
  });

  it('closes fds once; a closed object refuses use', () => {
    const prog = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp' });
    prog.close();
    prog.close();
    expect(prog.closed).toBe(true);
    expect(() => kernelTestRun(prog, { data: new Uint8Array(64) })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const map = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    map.close();
    expect(() => map.lookup(key0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('array maps: update, lookup, out-of-range keys, no delete', () => {
    using map = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'oracle_arr' });
    expect(map.lookup(key0)).toEqual(new Uint8Array(8));
    map.update(key0, u64(0xdead_beef_0123n));
    expect(map.lookup(key0)).toEqual(u64(0xdead_beef_0123n));
    expect(map.lookup(new Uint8Array([9, 0, 0, 0]))).toBeUndefined();
    expect(() => map.delete(key0)).toThrow(expect.objectContaining({ code: 'KERNEL', errnoName: 'EINVAL' }));
    expect(() => map.update(key0, new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => map.lookup(new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('hash maps: noexist/exist modes and delete', () => {
    using map = kernelMapCreate({ type: 'hash', keySize: 8, valueSize: 4, maxEntries: 8 });
    const k = u64(42n);
    expect(map.lookup(k)).toBeUndefined();
    expect(() => map.update(k, new Uint8Array(4), 'exist')).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
    map.update(k, new Uint8Array([1, 2, 3, 4]), 'noexist');
    expect(() => map.update(k, new Uint8Array(4), 'noexist')).toThrow(expect.objectContaining({ errnoName: 'EEXIST' }));
    expect(map.lookup(k)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(map.delete(k)).toBe(true);
    expect(map.delete(k)).toBe(false);
  });

  it('per-CPU arrays exchange one 8-byte-aligned slot per possible CPU', () => {
    using map = kernelMapCreate({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(map.userValueSize).toBe(8 * possibleCpuCount());
    const value = new Uint8Array(map.userValueSize).map((_, i) => i + 1);
    map.update(key0, value);
    const back = map.lookup(key0);
    // the kernel copies value_size bytes of each slot
    for (let cpu = 0; cpu < possibleCpuCount(); cpu++)
      expect(back?.subarray(cpu * 8, cpu * 8 + 4)).toEqual(value.subarray(cpu * 8, cpu * 8 + 4));
  });

  it('walks the keys of an array with nextKey/keys: index order, undefined after the last', () => {
    using map = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 3 });
    const k = (i: number) => new Uint8Array([i, 0, 0, 0]);
    expect(map.nextKey()).toEqual(k(0));
    expect(map.nextKey(k(0))).toEqual(k(1));
    expect(map.nextKey(k(2))).toBeUndefined();
    expect(map.nextKey(k(7))).toEqual(k(0)); // an index past the end restarts, as the kernel does
    expect(map.keys()).toEqual([k(0), k(1), k(2)]);
    expect(() => map.nextKey(new Uint8Array(2))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('walks the keys of a hash map: none when empty, each key once, the first for an absent key', () => {
    using map = kernelMapCreate({ type: 'hash', keySize: 8, valueSize: 4, maxEntries: 16 });
    expect(map.nextKey()).toBeUndefined();
    expect(map.keys()).toEqual([]);
    const wanted = [3n, 17n, 0xffff_ffff_0000n, 42n, 9n];
    for (const [i, v] of wanted.entries()) map.update(u64(v), new Uint8Array([i, 0, 0, 0]));
    const keys = map.keys();
    const asBig = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
    expect(keys.map(asBig).sort((a, b) => (a < b ? -1 : 1))).toEqual([...wanted].sort((a, b) => (a < b ? -1 : 1)));
    expect(map.nextKey(u64(1234n))).toEqual(keys[0]);
    expect(map.nextKey(keys[keys.length - 1])).toBeUndefined();
    map.delete(u64(17n));
    expect(map.keys()).toHaveLength(4);
  });

  it('per-CPU hash maps iterate like hashes', () => {
    using map = kernelMapCreate({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 4 });
    map.update(key0, new Uint8Array(map.userValueSize));
    expect(map.keys()).toEqual([key0]);
  });

  it('freeze(): user space can no longer write, reads still work; a second freeze is refused', () => {
    using map = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, flags: 0x80, name: 'oracle_ro' });
    map.update(key0, u64(77n));
    expect(map.frozen).toBe(false);
    map.freeze();
    expect(map.frozen).toBe(true);
    expect(map.lookup(key0)).toEqual(u64(77n));
    expect(() => map.update(key0, u64(1n))).toThrow(expect.objectContaining({ code: 'KERNEL', errnoName: 'EPERM' }));
    expect(() => map.freeze()).toThrow(expect.objectContaining({ code: 'KERNEL', errnoName: 'EPERM' })); // frozen: no longer writable from user space
    map.close();
    expect(() => map.freeze()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => map.nextKey()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('a program cannot write a BPF_F_RDONLY_PROG map (the verifier refuses the store)', () => {
    using map = kernelMapCreate({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, flags: 0x80 });
    // r0 = map value address (BPF_PSEUDO_MAP_VALUE), *(u64 *)(r0 + 0) = 1
    const prog: Insn[] = [
      { code: 0x18, dst: 1, src: 2, off: 0, imm: map.fd },
      { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
      { code: 0x7a, dst: 1, src: 0, off: 0, imm: 1 },
      mov(0, 2),
      exit,
    ];
    expect(() => kernelProgLoad(prog, { progType: 'xdp' })).toThrow(expect.objectContaining({ code: 'KERNEL', errnoName: 'EACCES' }));
  });

  it('reads the JIT image and the translated instructions', async () => {
    using prog = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp' });
    const info = kernelProgInfo(prog);
    expect(info.xlatedInsns).toEqual([mov(0, 2), exit]);
    expect(info.jitedBytes.length).toBeGreaterThan(0);
    expect(info.jitedFuncLens).toEqual([info.jitedBytes.length]);
    expect(info.jitedAddresses.length).toBe(1);
    expect(info.jitedAddresses[0]).toBeGreaterThanOrEqual(0xffff_8000_0000_0000n); // a kernel text address
    expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
    const { disassemble } = await import('@bpf-dispatcher/x86/disasm');
    const decoded = disassemble(info.jitedBytes);
    expect(decoded.every((d) => d.valid)).toBe(true);
    expect(decoded.some((d) => d.mnemonic === 'ret' || d.mnemonic === 'jmp')).toBe(true);
    expect(decoded.some((d) => d.text.includes('eax,0x2'))).toBe(true);
  });
});

describeKernel('64-bit r0 wrapper', () => {
  it('returns the full 64-bit r0 of a subprogram', () => {
    expect(kernelRun64([...lddw(0, 0x8123_4567_89ab_cdefn), exit]).r0).toBe(0x8123_4567_89ab_cdefn);
    expect(kernelRun64([mov(0, -1), exit]).r0).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('gives r1 = memory, r2 = its length in map mode, and reads the memory back', () => {
    using runner = new KernelRunner();
    const memory = new Uint8Array(16);
    memory.set(u64(0x1122_3344_5566_7788n), 0);
    const prog = [ldxdw(0, 1, 0), stxdw(1, 2, 8), exit];
    const result = runner.run(prog, { memory });
    expect(result.r0).toBe(0x1122_3344_5566_7788n);
    expect(result.memory?.subarray(8)).toEqual(u64(16n));
    // the runner is reusable
    expect(runner.run([movReg(0, 2), exit], { memory: new Uint8Array(40) }).r0).toBe(40n);
  });

  it('refuses in map mode an access past the memory (the verifier checks map-value bounds)', () => {
    expect(() => kernelRun64([ldxdw(0, 1, 8), exit], { memory: new Uint8Array(8) })).toThrow(
      expect.objectContaining({ code: 'KERNEL', errnoName: 'EACCES' }),
    );
  });

  it('packet mode: r2 = data_end - data; a direct access through r1 without a data_end check is refused', () => {
    const memory = new Uint8Array(20).fill(7);
    const result = kernelRun64([movReg(0, 2), exit], { memory, memoryMode: 'packet' });
    expect(result.r0).toBe(20n);
    expect(result.memory).toEqual(memory);
    let error: unknown;
    try {
      kernelRun64([ldxdw(0, 1, 0), exit], { memory, memoryMode: 'packet' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelError);
    expect((error as KernelError).log).toMatch(/invalid access to packet/);
  });

  it('measures the kernel JIT of a program and of a subprogram', async () => {
    const direct = await kernelJitSize([mov(0, 2), exit]);
    expect(direct.invalid).toBe(0);
    expect(direct.instructions).toBeGreaterThan(2);
    const sub = await kernelJitSize([...lddw(0, 0x1234_5678_9abc_def0n), exit], { as: 'subprogram' });
    expect(sub.invalid).toBe(0);
    expect(sub.listing).toMatch(/mov rax,0x123456789abcdef0/);
    expect(sub.address).toBeGreaterThanOrEqual(0xffff_8000_0000_0000n);
  });
});
