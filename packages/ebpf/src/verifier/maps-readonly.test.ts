import { describe, expect, it } from 'vitest';
import { type Insn, insn } from '../insn.js';
import { accepts, memOpts, rejects, xdpOpts } from '../test-support/verifier.js';
import type { MapDescriptor, VerifyOptions } from './types.js';
import { verify } from './verify.js';

/** fd 5: a writable array (8-byte values); fd 6: the same, read-only for programs (`.rodata`); fd 7: a read-only hash map. */
const MAPS: ReadonlyMap<number, MapDescriptor> = new Map([
  [5, { keySize: 4, valueSize: 16, directValue: true }],
  [6, { keySize: 4, valueSize: 16, directValue: true, readonly: true }],
  [7, { keySize: 4, valueSize: 8, readonly: true }],
  [8, { keySize: 4, valueSize: 8 }],
]);
const opts = (extra: Partial<VerifyOptions> = {}) => memOpts(8, { maps: MAPS, ...extra });

/** `lddw %rD, map_value` of map `fd` at byte `off` (pseudo source 2). */
const mapValue = (dst: number, fd: number, off = 0): Insn[] => [insn(0x18, dst, 2, 0, fd), insn(0, 0, 0, 0, off)];
const EXIT0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
/** A lookup of key 0 in map `fd`, NULL-checked: r0 is the value after it (slot 7 on). */
const lookup = (fd: number) => `stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, ${fd}, map_fd\ncall 1\njne %r0, 0, found\nexit\nfound:\n`;

describe('verifier: read-only maps (BPF_F_RDONLY_PROG, frozen .rodata)', () => {
  it('reads are allowed through a direct value and through a lookup', () => {
    const r = accepts([...mapValue(1, 6, 8), insn(0x79, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)], opts());
    expect(r.maps.find((m) => m.fd === 6)).toMatchObject({ readonly: true, directValue: true });
    expect(r.maps.find((m) => m.fd === 5)).toMatchObject({ readonly: false });
    accepts(`${lookup(7)}ldxdw %r0, [%r0+0]\nexit`, opts());
    accepts(`${lookup(6)}ldxb %r0, [%r0+15]\nexit`, opts());
  });

  it('refuses every store into a read-only value: "write into map forbidden"', () => {
    const stores: [Insn, string][] = [
      [insn(0x7a, 1, 0, 0, 1), 'value_size=16 off=8 size=8'], // stdw [r1+0], 1
      [insn(0x62, 1, 0, 4, 1), 'value_size=16 off=12 size=4'], // stw [r1+4], 1
      [insn(0x73, 1, 2, -8, 0), 'value_size=16 off=0 size=1'], // stxb [r1-8], r2
      [insn(0xdb, 1, 2, 0, 0), 'value_size=16 off=8 size=8'], // lock add [r1+0], r2
      [insn(0xc3, 1, 2, 4, 0xe1), 'value_size=16 off=12 size=4'], // lock xchg [r1+4], r2
    ];
    for (const [store, where] of stores) {
      const prog = [...mapValue(1, 6, 8), insn(0xb7, 2, 0, 0, 7), store, ...EXIT0];
      rejects(prog, opts(), `write into map forbidden, ${where}`, 3);
      accepts([...mapValue(1, 5, 8), insn(0xb7, 2, 0, 0, 7), store, ...EXIT0], opts()); // the same into a writable map
    }
    rejects(`${lookup(7)}stdw [%r0+0], 1\nmov %r0, 0\nexit`, opts(), 'write into map forbidden, value_size=8 off=0 size=8', 8);
    rejects(`${lookup(7)}mov %r1, 1\nlock add [%r0+0], %r1\nmov %r0, 0\nexit`, opts(), /^write into map forbidden/, 9);
    accepts(`${lookup(8)}stdw [%r0+0], 1\nmov %r0, 0\nexit`, opts());
  });

  it('refuses map_update_elem and map_delete_elem on a read-only map (the kernel\'s record_func_map)', () => {
    const key = 'stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\n';
    const value = 'stdw [%r10-16], 0\nstdw [%r10-24], 0\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\n';
    for (const fd of [6, 7]) {
      rejects(`${key}${value}lddw %r1, ${fd}, map_fd\ncall 2\nexit`, opts(), 'write into map forbidden', 10);
      rejects(`${key}lddw %r1, ${fd}, map_fd\ncall 3\nexit`, opts(), 'write into map forbidden', 5);
    }
    accepts(`${key}${value}lddw %r1, 5, map_fd\ncall 2\nexit`, opts());
    accepts(`${key}lddw %r1, 8, map_fd\ncall 3\nexit`, opts());
    // a read-only value may be what gets written into another map
    accepts(
      [
        ...mapValue(3, 6, 0),
        insn(0x62, 10, 0, -4, 0), // stw [r10-4], 0
        insn(0xbf, 2, 10, 0, 0),
        insn(0x07, 2, 0, 0, -4),
        ...[insn(0x18, 1, 1, 0, 5), insn(0, 0, 0, 0, 0)], // lddw r1, map 5
        insn(0xb7, 4, 0, 0, 0),
        insn(0x85, 0, 0, 0, 2),
        insn(0x95, 0, 0, 0, 0),
      ],
      opts(),
    );
  });

  it('readonly must be a boolean', () => {
    for (const readonly of [1, 'yes', null]) {
      expect(() => verify(EXIT0, memOpts(8, { maps: new Map([[1, { keySize: 4, valueSize: 8, readonly } as unknown as MapDescriptor]]) }))).toThrow(
        expect.objectContaining({ code: 'EINVAL' }),
      );
    }
  });
});

describe('verifier: callSiteMaps', () => {
  const KEY = 'stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\n';

  it('records the map every path passes to each map helper call, in instruction order', () => {
    const r = accepts(`${KEY}lddw %r1, 5, map_fd\ncall 1\nmov %r6, %r0\n${KEY}lddw %r1, 8, map_fd\ncall 3\ncall 5\nmov %r0, 0\nexit`, opts());
    expect(r.callSiteMaps).toEqual([
      { insnIndex: 5, fd: 5 },
      { insnIndex: 12, fd: 8 },
    ]);
    expect(r.helperIds).toEqual([1, 3, 5]);
    expect(r.mapFds).toEqual([5, 8]);
  });

  it('-1 when two paths pass different maps; the fd when they pass the same map from different instructions', () => {
    const choose = (a: number, b: number) =>
      `ldxb %r3, [%r1+0]\n${KEY}jeq %r3, 0, other\nlddw %r1, ${a}, map_fd\nja call\nother:\nlddw %r1, ${b}, map_fd\ncall:\ncall 1\nmov %r0, 0\nexit`;
    expect(accepts(choose(5, 8), opts()).callSiteMaps).toEqual([{ insnIndex: 10, fd: -1 }]);
    expect(accepts(choose(8, 8), opts()).callSiteMaps).toEqual([{ insnIndex: 10, fd: 8 }]);
    // a branch the verifier proves one-sided does not mix the maps
    const decided = `mov %r3, 1\n${KEY}jeq %r3, 0, other\nlddw %r1, 5, map_fd\nja call\nother:\nlddw %r1, 8, map_fd\ncall:\ncall 1\nmov %r0, 0\nexit`;
    expect(accepts(decided, opts()).callSiteMaps).toEqual([{ insnIndex: 10, fd: 5 }]);
  });

  it('one call site in a subprogram called with different maps is -1; calls on dead paths are not listed', () => {
    const sub = `lddw %r1, 5, map_fd\ncall local f\nlddw %r1, 8, map_fd\ncall local f\nmov %r0, 0\nexit\nf:\n${KEY}call 1\nmov %r0, 0\nexit`;
    const r = accepts(sub, opts());
    expect(r.callSiteMaps).toEqual([{ insnIndex: 11, fd: -1 }]);
    const once = `lddw %r1, 8, map_fd\ncall local f\nmov %r0, 0\nexit\nf:\n${KEY}call 1\nmov %r0, 0\nexit`;
    expect(accepts(once, opts()).callSiteMaps).toEqual([{ insnIndex: 8, fd: 8 }]);
    const dead = `mov %r3, 0\n${KEY}jeq %r3, 0, out\nlddw %r1, 5, map_fd\ncall 1\nout:\nmov %r0, 0\nexit`;
    expect(accepts(dead, opts()).callSiteMaps).toEqual([]);
  });

  it('XDP programs too, and the list is frozen', () => {
    const r = accepts(`${KEY}lddw %r1, 7, map_fd\ncall 1\nmov %r0, 2\nexit`, xdpOpts({ maps: MAPS }));
    expect(r.callSiteMaps).toEqual([{ insnIndex: 5, fd: 7 }]);
    expect(Object.isFrozen(r.callSiteMaps)).toBe(true);
    expect(Object.isFrozen(r.callSiteMaps[0])).toBe(true);
  });
});
