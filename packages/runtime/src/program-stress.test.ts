/**
 * The stress test, end to end: a verified, JIT'd eBPF program looks up a hash map
 * through the runtime's helpers in a native loop on another thread, while TypeScript
 * updates, deletes and re-inserts the same keys through the public `BpfMap` API. Every
 * value is a pattern (all words equal, and naming its key), so a torn value or a value of
 * another key — what reusing an element before its grace period would show — is counted
 * by the program itself.
 */
import { bpf, jit, verify } from '@bpf-dispatcher/ebpf';
import { NativeArena, emitQuiescentState, emitText, nativeSupported } from '@bpf-dispatcher/text-poke';
import { alu, call, dword, inc, jcc, mov, pop, push, qword, ret } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import { createRuntime } from './runtime.js';
import { callOnWorker } from './test-support/native-worker.js';

const KEYS = 32;
const WORDS = 8;
/** The reader stops at the churn's end, or after this many calls (a safety net). */
const MAX_ITERATIONS = 2_000_000_000;
/** Rounds of TypeScript churn over the keys. */
const ROUNDS = 3000;

/** Verdicts of the reader program. */
const OK = 0;
const TORN = 1;
const ABSENT = 2;
const WRONG_KEY = 3;

function pattern(generation: number, key: number): Uint8Array {
  const out = new Uint8Array(WORDS * 8);
  const view = new DataView(out.buffer);
  for (let w = 0; w < WORDS; w++) view.setBigUint64(w * 8, BigInt(generation * KEYS + key), true);
  return out;
}

describe.skipIf(!nativeSupported())('a JIT\'d program reads a hash map while TypeScript changes it (native, two threads)', () => {
  it('no torn value, no value of another key, every element accounted for', async () => {
    const arena = new NativeArena({ textSize: 1 << 20, dataSize: 8 << 20 });
    const runtime = createRuntime(arena, { cpus: 2 });
    const map = runtime.createMap({ type: 'hash', keySize: 8, valueSize: WORDS * 8, maxEntries: KEYS, name: 'stress' });
    for (let k = 0; k < KEYS; k++) map.update(BigInt(k), pattern(0, k), 'noexist');
    // the reader: key from the memory, lookup, every word equal and of that key
    const checks = Array.from({ length: WORDS - 1 }, (_, w) => `ldxdw %r2, [%r0+${8 * (w + 1)}]\n  jne %r1, %r2, torn`).join('\n  ');
    const insns = bpf`
      ldxdw %r6, [%r1+0]
      stxdw [%r10-8], %r6
      mov %r2, %r10
      add %r2, -8
      lddw %r1, ${map.fd}, map_fd
      call 1
      jeq %r0, 0, absent
      ldxdw %r1, [%r0+0]
      ${checks}
      mod %r1, ${KEYS}
      jne %r1, %r6, wrong
      mov %r0, ${OK}
      exit
    torn:
      mov %r0, ${TORN}
      exit
    wrong:
      mov %r0, ${WRONG_KEY}
      exit
    absent:
      mov %r0, ${ABSENT}
      exit`;
    const verified = verify(insns, { progType: { kind: 'memory', size: 8 }, ...runtime.verifyOptions([map]) });
    const prog = jit(arena, verified, runtime.jitOptions([map]));
    // the loop: key = i % KEYS, call the program, count its verdicts, a quiescent state every 64 calls
    const data = arena.allocData(8);
    const counts = arena.allocData(8 * 5); // four verdicts, then the stop flag
    const reader = arena.registerReader('program-loop');
    const loop = emitText(arena, (b) => {
      for (const r of ['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15'] as const) push(b, r);
      alu(b, 'sub', 'rsp', 8);
      mov(b, 'rbx', 'rdi'); // the most iterations
      mov(b, 'rbp', 'rsi'); // reader counter
      mov(b, 'r13', data.address);
      mov(b, 'r14', counts.address);
      alu(b, 'xor', 'r15d', 'r15d'); // i
      const top = b.newLabel();
      const noQs = b.newLabel();
      b.bind(top);
      mov(b, 'eax', 'r15d');
      alu(b, 'and', 'eax', KEYS - 1);
      mov(b, qword('r13', 0), 'rax');
      mov(b, 'rdi', 'r13');
      mov(b, 'esi', 8);
      call(b, prog.bpfFunc);
      alu(b, 'and', 'eax', 3);
      mov(b, 'rcx', 'rax');
      alu(b, 'add', 'rcx', 'rcx');
      alu(b, 'add', 'rcx', 'rcx');
      alu(b, 'add', 'rcx', 'rcx');
      alu(b, 'add', 'rcx', 'r14');
      inc(b, qword('rcx', 0));
      inc(b, 'r15d');
      mov(b, 'eax', 'r15d');
      alu(b, 'and', 'eax', 63);
      jcc(b, 'ne', noQs, 'short');
      emitQuiescentState(b, 'rbp');
      alu(b, 'cmp', qword('r14', 32), 0); // stopped?
      const stop = b.newLabel();
      jcc(b, 'ne', stop);
      b.bind(noQs);
      alu(b, 'cmp', 'r15', 'rbx');
      jcc(b, 'b', top);
      b.bind(stop);
      mov(b, 'eax', dword('r14', 0));
      alu(b, 'add', 'rsp', 8);
      for (const r of ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx'] as const) pop(b, r);
      ret(b);
    });
    const run = callOnWorker(loop.address, [BigInt(MAX_ITERATIONS), reader.counterAddress]);
    // the reader's thread starts asynchronously: churn once it is about to run (it runs until told to stop)
    await new Promise<void>((resolve) => run.worker.on('message', (m) => m === 'started' && resolve()));
    const memory = arena.memory(counts);
    const calls = () => [0, 1, 2, 3].reduce((n, v) => n + memory.getU64(8 * v), 0n);
    // TypeScript churns the same keys meanwhile: replace, delete and re-insert, bounded by count
    let updates = 0;
    let deletes = 0;
    let busy = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (let k = 0; k < KEYS; k += 1 + (round % 3)) {
        try {
          if ((round + k) % 5 === 0) {
            if (map.delete(BigInt(k))) deletes++;
          } else {
            map.update(BigInt(k), pattern(round, k));
            updates++;
          }
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOMEM') throw error;
          busy++; // every spare waits for the reader's next quiescent state
        }
      }
      if (round % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    memory.setU64(32, 1n); // stop the reader
    await run.done;
    await run.worker.terminate();
    reader.offline();
    const [ok, torn, absent, wrong] = [0, 1, 2, 3].map((v) => memory.getU64(8 * v)) as [bigint, bigint, bigint, bigint];
    const total = calls();
    console.info(
      `program stress: ${total.toLocaleString('en-US')} lookups by a JIT'd program (${ok} found intact, ${absent} absent, ${torn} torn, ${wrong} of another key) while TypeScript made ${updates} updates and ${deletes} deletes (${busy} ENOMEM retries)`,
    );
    expect(total).toBeLessThan(BigInt(MAX_ITERATIONS)); // it ran until told to stop, during the churn
    expect(torn).toBe(0n);
    expect(wrong).toBe(0n);
    expect(ok).toBeGreaterThan(0n);
    expect(updates).toBeGreaterThan(1000);
    // every element is back where it belongs once the reader is gone: keys present are intact
    await map.synchronize();
    for (const key of map.keys()) {
      const value = map.lookup(key) as Uint8Array;
      const word = new DataView(value.buffer, value.byteOffset).getBigUint64(0, true);
      expect(word % BigInt(KEYS)).toBe(new DataView(key.buffer, key.byteOffset).getBigUint64(0, true));
    }
    prog.free();
    runtime.dispose();
    arena.dispose();
  }, 300_000);
});
