import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../asm/assemble.js';
import { type Insn, insn } from '../insn.js';
import { kernelBpfAvailable, kernelMapCreate, kernelProgLoad } from '../kernel/index.js';
import type { KernelMap } from '../kernel/kernel-map.js';
import { VerifierError } from './types.js';
import { verify } from './verify.js';

const available = kernelBpfAvailable().ok;

/** Data (r2) and data_end (r3) from the xdp_md in r1. */
const PKT = 'ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\n';
const CHECK14 = `${PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, out\n`;
const OUT = 'out:\nmov %r0, 1\nexit';

/** Programs on which our verifier and Linux agree; `ok` = accepted by both. */
const AGREE: [string, boolean, string | readonly Insn[] | ((fd: number) => readonly Insn[])][] = [
  ['a parser with a data_end check', true, `${CHECK14}ldxh %r0, [%r2+12]\nexit\n${OUT}`],
  ['packet read without a check', false, `${PKT}ldxb %r0, [%r2]\nexit`],
  ['packet read past the checked range', false, `${CHECK14}ldxw %r0, [%r2+12]\nexit\n${OUT}`],
  [
    'the failed way of the check',
    false,
    `${PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, bad\nmov %r0, 1\nexit\nbad:\nldxb %r0, [%r2]\nexit`,
  ],
  [
    'pkt_meta checked against data',
    true,
    'ldxw %r2, [%r1+8]\nldxw %r3, [%r1+0]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxw %r0, [%r2]\nexit\nout:\nmov %r0, 2\nexit',
  ],
  ['data_end - data', true, `${PKT}mov %r0, %r3\nsub %r0, %r2\nexit`],
  ['arithmetic on pkt_end', false, `${PKT}add %r3, 8\nmov %r0, 0\nexit`],
  [
    'a variable offset re-checked',
    true,
    `${CHECK14}ldxb %r5, [%r2]\nand %r5, 15\nadd %r2, %r5\nmov %r6, %r2\nadd %r6, 4\njgt %r6, %r3, out\nldxw %r0, [%r2]\nexit\n${OUT}`,
  ],
  ['a variable offset not re-checked', false, `${CHECK14}ldxb %r5, [%r2]\nand %r5, 15\nadd %r2, %r5\nldxw %r0, [%r2]\nexit\n${OUT}`],
  ['a context write', false, 'stw [%r1], 0\nmov %r0, 0\nexit'],
  ['a narrow context read', false, 'ldxb %r0, [%r1]\nexit'],
  ['egress_ifindex outside devmap', false, 'ldxw %r0, [%r1+20]\nexit'],
  ['a modified ctx pointer', false, 'add %r1, 4\nldxw %r0, [%r1]\nexit'],
  ['an uninitialised register', false, 'mov %r0, %r3\nexit'],
  ['no r0 at exit', false, 'exit'],
  ['a write to r10', false, 'mov %r10, 0\nmov %r0, 0\nexit'],
  ['a stack access below the frame', false, 'stdw [%r10-520], 0\nmov %r0, 0\nexit'],
  ['a misaligned stack access', false, 'stdw [%r10-12], 0\nmov %r0, 0\nexit'],
  ['an uninitialised stack read (root)', true, 'ldxdw %r0, [%r10-8]\nexit'],
  ['spill and fill of a packet pointer', true, `${CHECK14}stxdw [%r10-8], %r2\nldxdw %r5, [%r10-8]\nldxb %r0, [%r5+13]\nexit\n${OUT}`],
  ['a narrow spill of a pointer', false, 'stxw [%r10-8], %r1\nmov %r0, 0\nexit'],
  ['a narrow fill of a spilled pointer', false, 'stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit'],
  ['division by an immediate zero', false, 'mov %r0, 1\ndiv %r0, 0\nexit'],
  ['pointer times two', false, 'mul %r1, 2\nmov %r0, 0\nexit'],
  ['an unknown helper', false, 'call 0x7fff0000\nexit'],
  ['xdp_adjust_head then an old packet pointer', false, `${CHECK14}mov %r6, %r2\nmov %r2, -4\ncall 44\nldxb %r0, [%r6]\nexit\n${OUT}`],
  ['a BPF-to-BPF call', true, 'mov %r6, 1\ncall local f\nadd %r0, %r6\nexit\nf:\nmov %r0, 2\nexit'],
  ['488 + 8 bytes of stack over two frames', true, 'stdw [%r10-488], 0\ncall local f\nexit\nf:\nstdw [%r10-8], 0\nmov %r0, 0\nexit'],
  ['504 + 8 bytes of stack over two frames', false, 'stdw [%r10-504], 0\ncall local f\nexit\nf:\nstdw [%r10-8], 0\nmov %r0, 0\nexit'],
  ['unreachable code', false, 'mov %r0, 0\nexit\nmov %r0, 1\nexit'],
  ['a bounded loop', true, 'mov %r0, 0\nl:\nadd %r0, 1\njlt %r0, 10, l\nexit'],
  ['an infinite loop', false, 'mov %r0, 0\nl:\nja l'],
  ['a loop bounded by a packet byte', true, `${CHECK14}ldxb %r1, [%r2]\nmov %r0, 0\nl:\nadd %r0, 1\njlt %r0, %r1, l\nexit\n${OUT}`],
  ['a loop on a packet byte it never changes', false, `${CHECK14}ldxb %r1, [%r2]\nmov %r0, 0\nl:\njne %r1, 0, l\nexit\n${OUT}`],
  ['callx', false, [insn(0xb7, 0, 0, 0, 0), insn(0x8d, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]],
  ['a map value after a NULL check', true, (fd) => mapProgram(fd, 'jeq %r0, 0, out\nldxdw %r0, [%r0]\nexit\nout:\nmov %r0, 1\nexit')],
  ['a map value without a NULL check', false, (fd) => mapProgram(fd, 'ldxdw %r0, [%r0]\nexit')],
  ['a map value read past its size', false, (fd) => mapProgram(fd, 'jeq %r0, 0, out\nldxb %r0, [%r0+8]\nexit\nout:\nmov %r0, 1\nexit')],
];

/** Documented differences: [name, ours, kernel's, program]. */
const DIFFER: [string, boolean, boolean, string][] = [
  // RFC 9669 masks the count; Linux refuses shifts by an immediate >= the width.
  ['a shift by 65', true, false, 'mov %r0, 1\nlsh %r0, 65\nexit'],
  // Linux lets root return a pointer from XDP; here r0 must be a number (an action).
  ['a pointer as the XDP action', false, true, 'mov %r0, %r1\nexit'],
];

function mapProgram(fd: number, tail: string): readonly Insn[] {
  return assemble(`stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, ${fd}, map_fd\ncall 1\n${tail}`);
}

function oursAccepts(insns: readonly Insn[], fd: number): boolean {
  try {
    verify(insns, { progType: 'xdp', maps: new Map([[fd, { keySize: 4, valueSize: 8 }]]) });
    return true;
  } catch (e) {
    if (e instanceof VerifierError) return false;
    throw e;
  }
}

function kernelAccepts(insns: readonly Insn[]): boolean {
  try {
    kernelProgLoad(insns, { progType: 'xdp' }).close();
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!available)('verifier: agreement with the running kernel (XDP, as root)', () => {
  let map: KernelMap | undefined;
  const fd = (): number => {
    map ??= kernelMapCreate({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
    return map.fd;
  };
  afterAll(() => map?.close());

  it.each(AGREE)('%s: both %s', (_name, ok, src) => {
    const insns = typeof src === 'function' ? src(fd()) : typeof src === 'string' ? assemble(src) : src;
    expect(oursAccepts(insns, fd())).toBe(ok);
    expect(kernelAccepts(insns)).toBe(ok);
  });

  it.each(DIFFER)('%s: ours %s, the kernel %s (documented)', (_name, ours, kernel, src) => {
    const insns = assemble(src);
    expect(oursAccepts(insns, fd())).toBe(ours);
    expect(kernelAccepts(insns)).toBe(kernel);
  });
});
