import { readFileSync } from 'node:fs';
import { nativeSupported } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { type Insn, encodeProgram } from '../insn.js';
import { type PluginBackend, parseHexBytes, parsePluginArgs, runPlugin } from './protocol.js';

const programHex = (text: string) => `${Array.from(encodeProgram(assemble(text)), (b) => b.toString(16).padStart(2, '0')).join('  ')}  \n`;

describe('conformance plugin protocol', () => {
  it('runs a program in interpreter mode and prints r0 in hex', async () => {
    const out = await runPlugin(['', '--mode interpreter'], programHex('mov %r0, 42\nexit'));
    expect(out).toEqual({ stdout: '0x2a\n', stderr: '', exitCode: 0 });
  });

  it('passes the memory argument as r1/r2 (the runner double-spaces its bytes)', async () => {
    const out = await runPlugin(['00  00  00  01  00  02  ', '--mode', 'interpreter'], programHex('ldxw %r0, [%r1+2]\nadd %r0, %r2\nexit'));
    expect(out.stdout).toBe(`0x${(0x0200_0100 + 6).toString(16)}\n`);
  });

  it('prints r0 as unsigned 64-bit', async () => {
    const out = await runPlugin(['--mode=interpreter'], programHex('mov %r0, -1\nexit'));
    expect(out.stdout).toBe('0xffffffffffffffff\n');
  });

  it('provides helper 5 (ktime_get_ns) as the suite expects', async () => {
    const out = await runPlugin(['', '--mode interpreter'], programHex('mov %r1, -1\ncall 5\nmov %r0, 2\nexit'));
    expect(out.stdout).toBe('0x2\n');
  });

  it('refuses with a message on stderr and exit 1', async () => {
    const callx = '8d 02 00 00 00 00 00 00 b7 00 00 00 02 00 00 00 95 00 00 00 00 00 00 00';
    const out = await runPlugin(['', '--mode interpreter'], callx);
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^VERIFY: verifier: insn 0: callx/);
    expect((await runPlugin(['', '--mode interpreter'], programHex('ldxb %r0, [%r1]\nexit'))).stderr).toMatch(/^VERIFY: /);
    expect((await runPlugin(['', '--mode interpreter'], 'zz')).stderr).toMatch(/not a hex byte/);
    expect((await runPlugin(['', '--mode interpreter'], '')).stderr).toMatch(/no program/);
    expect((await runPlugin(['', '--mode interpreter'], 'b7 00 00')).stderr).toMatch(/^DECODE/);
    expect((await runPlugin(['', '--frob'], programHex('exit'))).stderr).toMatch(/unknown option/);
    expect((await runPlugin(['', '--mode', 'fast'], programHex('exit'))).stderr).toMatch(/--mode must be one of/);
  });

  it('verifies in interpreter mode too: refusals are VERIFY, the ISA-defined shifts and loops pass', async () => {
    const run = (mem: string, text: string) => runPlugin([mem, '--mode interpreter'], programHex(text));
    // reads 4 bytes at offset 2 of a 4-byte buffer: the interpreter alone would fault at run time
    const outOfBounds = await run('01 02 03 04', 'ldxw %r0, [%r1+2]\nexit');
    expect(outOfBounds.exitCode).toBe(1);
    expect(outOfBounds.stderr).toMatch(/^VERIFY: verifier: insn 0: invalid access to memory/);
    expect((await run('', 'mov %r0, 1\nl:\nja l')).stderr).toMatch(/^VERIFY: .*infinite loop detected at insn 1/);
    expect((await run('', 'mov %r0, %r3\nexit')).stderr).toMatch(/^VERIFY: .*R3 !read_ok/);
    // the kernel refuses shifts by an immediate >= the width; RFC 9669 masks the count
    expect((await run('', 'mov %r0, 1\nlsh %r0, 65\nexit')).stdout).toBe('0x2\n');
    expect((await run('', 'mov %r0, 0\nmov %r1, 0\nl:\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 5, l\nexit')).stdout).toBe('0xa\n');
  });

  it('the executable starts with a shebang (the suite runs the plugin directly)', () => {
    const source = readFileSync(new URL('../plugin.ts', import.meta.url), 'utf8');
    expect(source.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('parses arguments: memory first, options anywhere, jit by default', () => {
    expect(parsePluginArgs([])).toEqual({ memory: undefined, mode: 'jit' });
    expect(parsePluginArgs(['', '--mode simulated'])).toEqual({ memory: undefined, mode: 'simulated' });
    expect(parsePluginArgs(['--mode', 'interpreter', 'ff 01'])).toEqual({ memory: Uint8Array.from([0xff, 1]), mode: 'interpreter' });
    expect(() => parsePluginArgs(['00', '01'])).toThrow(/unexpected argument/);
    expect(parseHexBytes(' 0x0a  ff\n1 ')).toEqual(Uint8Array.from([10, 255, 1]));
  });

  it.each(['simulated', ...(nativeSupported() ? ['jit'] : [])])('runs a verified program through the JIT in %s mode', async (mode) => {
    const text = 'ldxh %r0, [%r1+2]\nadd %r0, %r2\nexit';
    const out = await runPlugin(['01 02 03 04', `--mode ${mode}`], programHex(text));
    expect(out).toEqual({ stdout: '0x407\n', stderr: '', exitCode: 0 });
    const refused = await runPlugin(['01 02 03 04', `--mode ${mode}`], programHex('ldxw %r0, [%r1+2]\nexit'));
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^VERIFY: /);
    const ktime = await runPlugin(['', `--mode ${mode}`], programHex('call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit'));
    expect(ktime.stderr).toBe('');
    expect(BigInt(ktime.stdout.trim())).toBeLessThan(60_000_000_000n); // monotonic: a small non-negative difference
    const now = await runPlugin(['', `--mode ${mode}`], programHex('call 5\nexit'));
    expect(BigInt(now.stdout.trim())).toBeGreaterThan(0n);
  });

  it('hands the decoded program and memory to the backend of the mode', async () => {
    const seen: { program: readonly Insn[]; memory: Uint8Array | undefined; mode: string }[] = [];
    const backends =
      async (mode: string): Promise<PluginBackend> =>
      (program, memory) => {
        seen.push({ program, memory, mode });
        return -2n;
      };
    const out = await runPlugin(['01 02'], programHex('mov %r0, 1\nexit'), backends);
    expect(out.stdout).toBe('0xfffffffffffffffe\n');
    expect(seen).toEqual([{ program: assemble('mov %r0, 1\nexit'), memory: Uint8Array.from([1, 2]), mode: 'jit' }]);
  });
});
