import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from './asm/assemble.js';
import { EbpfError } from './errors.js';
import { GuardedMemory, guardedMemorySupported } from './guarded-memory.js';
import { jit } from './jit/jit.js';
import { testRun } from './test-run.js';
import { nativeArena } from './test-support/jit-native.js';
import { VerifierError } from './verifier/types.js';
import { verify } from './verifier/verify.js';

const NATIVE = guardedMemorySupported();
const HERE = dirname(fileURLToPath(import.meta.url));

describe.skipIf(!NATIVE)('GuardedMemory', () => {
  it('places the buffer flush against the upper guard page (end) or the lower one (start)', () => {
    for (const size of [0, 1, 13, 4095, 4096, 4097, 10_000]) {
      const end = GuardedMemory.create(size);
      const start = GuardedMemory.create(size, { placement: 'start' });
      try {
        const page = BigInt(end.pageSize);
        expect(end.address + BigInt(size)).toBe(end.mappingStart + BigInt(end.mappingLength) - page);
        expect(start.address).toBe(start.mappingStart + page);
        expect(end.mappingStart % page).toBe(0n);
        expect(end.read()).toEqual(new Uint8Array(size)); // zeroed
      } finally {
        end.free();
        start.free();
      }
    }
  });

  it('maps below 2 GiB (MAP_32BIT) when it can, so 32-bit context fields can hold its addresses', () => {
    const g = GuardedMemory.create(64);
    try {
      expect(g.address + 64n).toBeLessThanOrEqual(1n << 32n);
    } finally {
      g.free();
    }
  });

  it('copies in and out with bounds checks, and refuses everything after free (typed errors)', () => {
    const g = GuardedMemory.create(8);
    g.write(Uint8Array.of(1, 2, 3), 5);
    expect(g.read(5, 3)).toEqual(Uint8Array.of(1, 2, 3));
    g.fill(0xaa);
    expect(g.read()).toEqual(new Uint8Array(8).fill(0xaa));
    for (const bad of [() => g.write(Uint8Array.of(1), 8), () => g.read(4, 5), () => g.read(-1, 1), () => g.fill(256)]) {
      expect(bad).toThrow(EbpfError);
    }
    g.free();
    g.free(); // idempotent
    expect(g.freed).toBe(true);
    expect(() => g.read()).toThrow(/after free/);
    expect(() => g.write(Uint8Array.of(1))).toThrow(EbpfError);
    for (const size of [-1, 1.5, 2 ** 31, Number.NaN]) expect(() => GuardedMemory.create(size)).toThrow(EbpfError);
    expect(() => GuardedMemory.create(8, { placement: 'middle' as 'end' })).toThrow(EbpfError);
  });
});

describe.skipIf(!NATIVE)('testRun with guarded data', () => {
  it('runs verified programs that touch the very first and last byte of the data', () => {
    for (const size of [1, 13, 64, 4096]) {
      // r0 = data[size-1] + data[0]; data[size-1] = 0x5a; data[0] += 1.
      const src = `ldxb %r0, [%r1+${size - 1}]\nldxb %r3, [%r1]\nadd %r0, %r3\nstb [%r1+${size - 1}], 0x5a\nadd %r3, 1\nstxb [%r1], %r3\nexit`;
      const verified = verify(assemble(src), { progType: { kind: 'memory', size } });
      const prog = jit(nativeArena(), verified);
      try {
        for (const guarded of [true, 'end', 'start'] as const) {
          const data = new Uint8Array(size).fill(7);
          data[size - 1] = 9;
          const result = testRun(prog, { data, guarded });
          expect(result.retval).toBe(size === 1 ? 18n : 16n);
          expect(result.dataOut[size - 1]).toBe(size === 1 ? 10 : 0x5a); // size 1: the second store wins
          if (size > 1) expect(result.dataOut[0]).toBe(8);
        }
      } finally {
        prog.free();
      }
    }
  });

  it('reuses a caller GuardedMemory (r2 = its size) and checks the data length against it', () => {
    const verified = verify(assemble('ldxdw %r0, [%r1+8]\nadd %r0, %r2\nexit'), { progType: { kind: 'memory', size: 16 } });
    const prog = jit(nativeArena(), verified);
    const g = GuardedMemory.create(16);
    try {
      g.write(Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0), 8);
      expect(testRun(prog, { guarded: g }).retval).toBe(21n);
      expect(testRun(prog, { guarded: g, repeat: 1000 }).retval).toBe(21n);
      expect(() => testRun(prog, { guarded: g, data: new Uint8Array(15) })).toThrow(EbpfError);
      expect(() => testRun(prog, { guarded: 'middle' as 'end' })).toThrow(EbpfError);
      g.free();
      expect(() => testRun(prog, { guarded: g })).toThrow(/freed/);
    } finally {
      prog.free();
      g.free();
    }
  });

  it('refuses guarded data on a simulated arena', () => {
    const arena = new SimulatedArena({ textSize: 1 << 20, dataSize: 1 << 20 });
    const prog = jit(arena, verify(assemble('mov %r0, 0\nexit'), { progType: { kind: 'memory', size: 0 } }));
    expect(() => testRun(prog, { guarded: true })).toThrow(/native arena/);
    prog.free();
  });

  it('the verifier refuses the access one byte past the end that the guard page would catch', () => {
    expect(() => verify(assemble('ldxb %r0, [%r1+13]\nexit'), { progType: { kind: 'memory', size: 13 } })).toThrow(VerifierError);
    expect(() => verify(assemble('ldxb %r0, [%r1-1]\nexit'), { progType: { kind: 'memory', size: 13 } })).toThrow(VerifierError);
  });
});

/**
 * The guard itself, proven in a child process (a fault kills the process): the module is
 * transpiled from its TypeScript source into a scratch directory under this package's
 * node_modules (so `koffi` and the workspace packages resolve), and a hand-written x86
 * `movzx eax, byte [rdi]; ret` reads through it.
 */
describe.skipIf(!NATIVE)('guard pages fault (child process)', () => {
  const dir = join(HERE, '..', 'node_modules', '.cache', `guarded-memory-test-${process.pid}`);

  beforeAll(() => {
    const require = createRequire(import.meta.url);
    const ts = require('typescript') as typeof import('typescript');
    mkdirSync(dir, { recursive: true });
    for (const name of ['guarded-memory', 'errors']) {
      const source = readFileSync(join(HERE, `${name}.ts`), 'utf8');
      const out = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(join(dir, `${name}.js`), out.outputText);
    }
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    writeFileSync(
      join(dir, 'probe.js'),
      `import { NativeArena, emitText } from '@bpf-dispatcher/text-poke';
import { byte, movzx, ret } from '@bpf-dispatcher/x86';
import { GuardedMemory } from './guarded-memory.js';
const [size, placement, delta] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const arena = new NativeArena();
const load = emitText(arena, 16, (b) => { movzx(b, 'eax', byte('rdi')); ret(b); });
const g = GuardedMemory.create(size, { placement });
g.fill(0x2a);
const edge = placement === 'end' ? g.address + BigInt(size - 1) : g.address;
process.stdout.write('edge ' + arena.call(load.address, edge) + '\\n');
const stray = placement === 'end' ? g.address + BigInt(size - 1 + delta) : g.address + BigInt(-delta);
process.stdout.write('stray ' + arena.call(load.address, stray) + '\\n');
`,
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function probe(size: number, placement: 'end' | 'start', delta: number) {
    return spawnSync(process.execPath, [join(dir, 'probe.js'), String(size), placement, String(delta)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it('reading the byte after the end (placement end) dies by SIGSEGV; the last byte reads fine', () => {
    for (const size of [1, 100, 4096]) {
      const r = probe(size, 'end', 1);
      expect(r.stdout, r.stderr).toContain('edge 42');
      expect(r.stdout).not.toContain('stray');
      expect(r.signal).toBe('SIGSEGV');
    }
  });

  it('reading the byte before the start (placement start) dies by SIGSEGV', () => {
    const r = probe(100, 'start', 1);
    expect(r.stdout, r.stderr).toContain('edge 42');
    expect(r.signal).toBe('SIGSEGV');
  });

  it('the probe itself survives when it stays inside (so the SIGSEGV above is the guard)', () => {
    const r = probe(100, 'end', 0);
    expect(r.stdout, r.stderr).toContain('stray 42');
    expect(r.status).toBe(0);
    expect(r.signal).toBeNull();
  });
});
