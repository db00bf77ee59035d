import { type CodeBuffer, NOP5, alu, call, inc, jcc, jmp, mov, pause, pop, push, qword, ret, test } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { emitQuiescentState } from '../quiescent-emitter.js';
import { emitText as assemble } from '../emit-text.js';
import { callOnWorker } from '../test-support/worker.js';
import { nativeSupported } from './libc.js';
import { NativeArena } from './native-arena.js';
import { callNative } from './native-call.js';

const constantFn = (value: number) => (b: CodeBuffer) => {
  mov(b, 'eax', value);
  ret(b);
};

describe.skipIf(!nativeSupported())('NativeArena (x86-64 Linux)', () => {
  let arena: NativeArena;
  afterEach(() => arena?.dispose());

  it('maps text twice (W^X) below 2 GiB and runs what the writable view wrote', () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    expect(arena.mapping).toBe('dual-map');
    expect(['sync-core', 'expedited']).toContain(arena.serialization);
    const [start, end] = arena.textRange;
    expect(end <= 1n << 31n && start > 0n).toBe(true);
    const fn = arena.alloc(16);
    arena.write(fn.address, Uint8Array.of(0xb8, 42, 0, 0, 0, 0xc3));
    arena.write(fn.address, Uint8Array.of(0xb8, 43, 0, 0, 0)); // not live yet: may change
    expect(arena.call(fn.address)).toBe(43n);
    // live now: only pokes may change it (issue 10: this used to end in SIGILL mid-rewrite)
    expect(() => arena.write(fn.address, Uint8Array.of(0xb8, 44, 0, 0, 0))).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(arena.call(fn.address)).toBe(43n);
  });

  it('issue 10.1: calling allocated but unwritten text is a typed EFAULT, not SIGTRAP', () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    const blank = arena.alloc(64);
    expect(() => arena.call(blank.address)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(() => callNative(blank.address, 1.5)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('issue 10.5: malformed constructor options are EINVAL and map nothing', () => {
    for (const textSize of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12, 0, '4096']) {
      expect(() => new NativeArena({ textSize: textSize as number })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => new NativeArena({ dataSize: textSize as number })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => new NativeArena(null as never)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('issue 10.3: after dispose, raw views read an inert zero page (no SIGSEGV) until collected; unviewed data is unmapped', () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    const counters = arena.allocData(64);
    arena.allocData(8192);
    const view = arena.dataBytes(counters);
    expect(view.buffer.byteLength).toBe(64); // the buffer spans only the region
    const words = new BigUint64Array(view.buffer);
    const dv = new DataView(arena.dataView(counters).buffer);
    view[0] = 5;
    const m = arena.memory(counters);
    expect(m.getU8(0)).toBe(5);
    arena.dispose();
    expect(arena.pinnedDataPages).toBe(1);
    expect(view[0]).toBe(0);
    expect(words[1]).toBe(0n);
    view[2] = 9;
    words[3] = 1n;
    dv.setUint32(16, 7, true);
    expect(view[2]).toBe(9);
    expect(() => m.getU8(0)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));

    const quiet = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    quiet.memory(quiet.allocData(64)).setU64(0, 1n); // the checked accessor pins nothing
    quiet.dispose();
    expect(quiet.pinnedDataPages).toBe(0);
  });

  it('issue 10.4: dispose() while a worker runs a loop with an online reader is EBUSY; the loop keeps running; afterwards dispose works', async () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    const reader = arena.registerReader('driver-loop');
    const flags = arena.allocData(64); // [0] stop, [8] iterations
    // loop(): until *stop: bump iterations, report a quiescent state (through the counter in r11)
    const loop = assemble(arena, 128, (buf) => {
      const top = buf.newLabel();
      mov(buf, 'r11', reader.counterAddress);
      mov(buf, 'rax', flags.address);
      buf.bind(top);
      pause(buf);
      inc(buf, qword('rax', 8));
      emitQuiescentState(buf, 'r11');
      test(buf, qword('rax'), -1);
      jcc(buf, 'e', top);
      ret(buf);
    });
    const m = arena.memory(flags);
    const { done } = callOnWorker(loop.address, []);
    while (m.getU64(8) === 0n) await new Promise((r) => setTimeout(r, 1));
    expect(() => arena.dispose()).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(arena.disposed).toBe(false);
    const seen = m.getU64(8);
    await arena.synchronize({ timeoutMs: 10_000 }); // the arena is fully usable
    while (m.getU64(8) === seen) await new Promise((r) => setTimeout(r, 1));
    m.setU64(0, 1n);
    await done;
    reader.offline();
    arena.dispose();
    expect(reader.disposed).toBe(true);
  }, 60_000);

  it('offers an explicit RWX mapping', () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16, mapping: 'rwx' });
    const fn = assemble(arena, 16, constantFn(7));
    expect(arena.call(fn.address)).toBe(7n);
    expect(() => new NativeArena({ mapping: 'bogus' as 'rwx' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('returns the right value after each of many pokes', () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    const targets = [1, 2, 3, 4].map((v) => assemble(arena, 16, constantFn(v)).address);
    let site = 0n;
    const fn = assemble(arena, 32, (b) => {
      b.align(8);
      site = b.address();
      b.raw(NOP5);
      mov(b, 'eax', 99);
      ret(b);
    });
    let current: bigint | null = null;
    for (let i = 0; i < 1000; i++) {
      const next = i % 5 === 4 ? null : (targets[i % 4] as bigint);
      arena.textPoke(site, 'jump', current, next);
      current = next;
      expect(arena.call(fn.address)).toBe(next === null ? 99n : BigInt((i % 4) + 1));
    }
  });

  it('a worker executes a poked site 10^8 times while this thread re-pokes it 10^5 times: no wrong result', async () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    const a = assemble(arena, 16, constantFn(1)).address;
    const b = assemble(arena, 16, constantFn(2)).address;
    let siteAddress = 0n;
    const site = assemble(arena, 16, (buf) => {
      siteAddress = buf.address();
      jmp(buf, a);
    }, { align: 8 });
    expect(site.address).toBe(siteAddress);
    // counts: [0] ones, [8] twos, [16] wrong results, [24] calls made, [32] stop flag
    const counts = arena.allocData(64);
    // loop(minCalls, counts): call the site; tally its result; repeat until at least
    // minCalls calls were made and the stop flag is set.
    const loop = assemble(arena, 128, (buf) => {
      const top = buf.newLabel();
      const one = buf.newLabel();
      const two = buf.newLabel();
      const next = buf.newLabel();
      push(buf, 'r12');
      push(buf, 'r13');
      mov(buf, 'r12', 'rdi');
      mov(buf, 'r13', 'rsi');
      buf.bind(top);
      call(buf, site.address);
      alu(buf, 'cmp', 'eax', 1);
      jcc(buf, 'e', one);
      alu(buf, 'cmp', 'eax', 2);
      jcc(buf, 'e', two);
      inc(buf, qword('r13', 16));
      jmp(buf, next);
      buf.bind(one);
      inc(buf, qword('r13', 0));
      jmp(buf, next);
      buf.bind(two);
      inc(buf, qword('r13', 8));
      buf.bind(next);
      inc(buf, qword('r13', 24));
      alu(buf, 'cmp', qword('r13', 24), 'r12');
      jcc(buf, 'b', top);
      alu(buf, 'cmp', qword('r13', 32), 0);
      jcc(buf, 'e', top);
      pop(buf, 'r13');
      pop(buf, 'r12');
      ret(buf);
    });
    const bytes = arena.dataView(counts);
    const view = new BigUint64Array(bytes.buffer, bytes.byteOffset, 8);
    const N = 100_000_000n;
    const { done } = callOnWorker(loop.address, [N, counts.address]);
    while (Atomics.load(view, 3) === 0n) await new Promise((r) => setTimeout(r, 1));
    let current = a;
    let pokes = 0;
    const started = Atomics.load(view, 3);
    for (let i = 0; i < 100_000; i++) {
      const next = current === a ? b : a;
      if (arena.textPoke(siteAddress, 'jump', current, next) === 'poked') pokes++;
      current = next;
    }
    const callsDuringPokes = Atomics.load(view, 3) - started;
    Atomics.store(view, 4, 1n);
    await done;
    const calls = view[3] as bigint;
    expect({ wrong: view[2], tallied: (view[0] as bigint) + (view[1] as bigint) }).toEqual({ wrong: 0n, tallied: calls });
    expect(pokes).toBe(100_000);
    expect(calls).toBeGreaterThanOrEqual(N);
    expect(view[0]).toBeGreaterThan(0n);
    expect(view[1]).toBeGreaterThan(0n);
    // the worker was executing the site throughout the pokes
    expect(callsDuringPokes).toBeGreaterThan(1_000_000n);
  }, 120_000);

  it('synchronize() waits for a native reader that has not passed a quiescent state, and returns once it has', async () => {
    arena = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
    const reader = arena.registerReader('native-spinner');
    const flag = arena.allocData(64);
    // spin until *flag != 0, then report a quiescent state and return
    const spinner = assemble(arena, 64, (buf) => {
      const spin = buf.newLabel();
      mov(buf, 'rax', flag.address);
      buf.bind(spin);
      pause(buf);
      test(buf, qword('rax'), -1);
      jcc(buf, 'e', spin);
      emitQuiescentState(buf, reader, 'r11');
      ret(buf);
    });
    const { done } = callOnWorker(spinner.address, []);
    let settled = false;
    const sync = arena.synchronize({ timeoutMs: 10_000 }).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    arena.dataView(flag)[0] = 1;
    await expect(sync).resolves.toMatchObject({ waitedFor: 1 });
    await done;
    reader.unregister();
  });

  it('1,000 create/dispose cycles leave RSS within 10 MB', () => {
    const cycle = () => {
      const a = new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 });
      const fn = assemble(a, 16, constantFn(1));
      a.call(fn.address);
      a.dispose();
    };
    for (let i = 0; i < 100; i++) cycle();
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) cycle();
    (globalThis as { gc?: () => void }).gc?.();
    const growth = process.memoryUsage().rss - before;
    expect(growth).toBeLessThan(10 * 1024 * 1024);
  });
});
