import { describe, expect, it } from 'vitest';
import { insn } from '../insn.js';
import { MAPS, accepts, memOpts, rejects, xdpOpts } from '../test-support/verifier.js';
import type { VerifyOptions } from './types.js';
import { verify } from './verify.js';

/** Load data (r2) and data_end (r3) from the xdp_md in r1. */
const PKT = 'ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\n';

describe('verifier: XDP context and packet', () => {
  it('accepts a parser that checks data_end before reading, and records the context loads', () => {
    const r = accepts(
      `${PKT}
      mov %r4, %r2
      add %r4, 14
      jgt %r4, %r3, drop
      ldxh %r5, [%r2+12]
      stb [%r2], 0
      ldxw %r6, [%r1+12]
      ldxw %r7, [%r1+16]
      mov %r0, 2
      exit
    drop:
      mov %r0, 1
      exit`,
      xdpOpts(),
    );
    expect(r.ctxLoads).toEqual([
      { insnIndex: 0, field: 'data', offset: 0, size: 4, result: 'pkt' },
      { insnIndex: 1, field: 'data_end', offset: 4, size: 4, result: 'pkt_end' },
      { insnIndex: 7, field: 'ingress_ifindex', offset: 12, size: 4, result: 'scalar' },
      { insnIndex: 8, field: 'rx_queue_index', offset: 16, size: 4, result: 'scalar' },
    ]);
  });

  it('accepts every form of the data_end comparison (both operand orders, strict or not)', () => {
    for (const [cmp, okWhenTaken] of [
      ['jgt %r4, %r3', false],
      ['jge %r4, %r3', false],
      ['jlt %r4, %r3', true],
      ['jle %r4, %r3', true],
      ['jlt %r3, %r4', false],
      ['jle %r3, %r4', false],
      ['jgt %r3, %r4', true],
      ['jge %r3, %r4', true],
    ] as const) {
      const body = okWhenTaken
        ? 'ja out\nok:\nldxw %r0, [%r2+4]\nexit\nout:\nmov %r0, 1\nexit'
        : 'ldxw %r0, [%r2+4]\nexit\nok:\nmov %r0, 1\nexit';
      accepts(`${PKT}mov %r4, %r2\nadd %r4, 8\n${cmp}, ok\n${body}`, xdpOpts());
    }
  });

  it('refuses packet access before a data_end check, or beyond the proven range', () => {
    rejects(`${PKT}ldxb %r0, [%r2]\nexit`, xdpOpts(), 'invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)', 2);
    rejects(
      `${PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, drop\nldxw %r0, [%r2+12]\nexit\ndrop:\nmov %r0, 1\nexit`,
      xdpOpts(),
      'invalid access to packet, off=12 size=4, R2(id=0,off=0,r=14)',
      5,
    );
    // the way where the check failed proves nothing
    rejects(
      `${PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, bad\nmov %r0, 1\nexit\nbad:\nldxb %r0, [%r2]\nexit`,
      xdpOpts(),
      /^invalid access to packet/,
      7,
    );
  });

  it('a variable offset needs a new check; the range applies to every copy with the same id', () => {
    const prog = `${PKT}
      ldxb %r5, [%r2]
      and %r5, 0x0f
      mov %r4, %r2
      add %r4, %r5
      mov %r6, %r4
      add %r6, 4
      jgt %r6, %r3, drop
      ldxw %r0, [%r4]
      exit
    drop:
      mov %r0, 1
      exit`;
    rejects(prog, xdpOpts(), 'invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)', 2);
    const checked = prog.replace(`${PKT}`, `${PKT}mov %r7, %r2\nadd %r7, 1\njgt %r7, %r3, drop\n`);
    accepts(checked, xdpOpts());
    rejects(
      checked.replace('ldxw %r0, [%r4]', 'ldxw %r0, [%r4+1]'),
      xdpOpts(),
      /^invalid access to packet, off=1 size=4, R4\(id=\d+,off=0,r=4\)$/,
    );
  });

  it('pkt_meta is checked against data', () => {
    accepts(
      'ldxw %r2, [%r1+8]\nldxw %r3, [%r1+0]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxw %r0, [%r2]\nexit\nout:\nmov %r0, 2\nexit',
      xdpOpts(),
    );
  });

  it('data_end - data is a number; pkt_end allows no arithmetic', () => {
    accepts(`${PKT}mov %r0, %r3\nsub %r0, %r2\nexit`, xdpOpts());
    rejects(`${PKT}add %r3, 8\nmov %r0, 0\nexit`, xdpOpts(), 'R3 pointer arithmetic on pkt_end prohibited', 2);
  });

  it('context access: aligned 4-byte reads of xdp_md fields, no writes, no modified ctx pointer', () => {
    rejects('stw [%r1], 0\nmov %r0, 0\nexit', xdpOpts(), 'invalid bpf_context access off=0 size=4', 0);
    rejects('ldxb %r0, [%r1]\nexit', xdpOpts(), 'invalid bpf_context access off=0 size=1', 0);
    rejects('ldxw %r0, [%r1+24]\nexit', xdpOpts(), 'invalid bpf_context access off=24 size=4', 0);
    rejects('ldxdw %r0, [%r1]\nexit', xdpOpts(), 'invalid bpf_context access off=0 size=8', 0);
    rejects('ldxw %r0, [%r1+20]\nexit', xdpOpts(), 'invalid bpf_context access off=20 size=4', 0);
    expect(accepts('ldxw %r0, [%r1+20]\nexit', { progType: { kind: 'xdp', devmap: true } }).ctxLoads[0]?.field).toBe('egress_ifindex');
    rejects('add %r1, 4\nldxw %r0, [%r1]\nexit', xdpOpts(), 'dereference of modified ctx ptr R1 off=4 disallowed', 1);
  });

  it('refuses one load instruction used with the context and with another pointer', () => {
    rejects(
      'mov %r6, %r1\nldxw %r0, [%r1+12]\njeq %r0, 0, skip\nmov %r6, %r10\nadd %r6, -16\nskip:\nldxw %r0, [%r6+12]\nexit',
      xdpOpts(),
      'same insn cannot be used with different pointers',
      5,
    );
  });

  it('returns: XDP r0 must be a number', () => {
    rejects('mov %r0, %r1\nexit', xdpOpts(), 'At program exit the register R0 is not a known value (ctx)', 1);
  });

  it('packet-moving helpers invalidate packet pointers', () => {
    const prog = `${PKT}mov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nmov %r6, %r2\nmov %r2, -4\ncall 44\nldxw %r0, [%r6]\nexit\nout:\nmov %r0, 1\nexit`;
    rejects(prog, xdpOpts(), "R6 invalid mem access 'scalar'", 8);
    rejects(prog, memOpts(), 'unknown func bpf_xdp_adjust_head#44');
  });

  it('refuses atomics on the packet and the context', () => {
    rejects(
      `${PKT}mov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, out\nmov %r5, 1\nlock add [%r2], %r5\nout:\nmov %r0, 1\nexit`,
      xdpOpts(),
      'BPF_ATOMIC stores into R2 pkt is not allowed',
      6,
    );
  });
});

describe('verifier: helpers and maps', () => {
  const LOOKUP = 'stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, 3, map_fd\ncall 1\n';

  it('map_value_or_null becomes map_value after a NULL check, on every copy', () => {
    const r = accepts(
      `${LOOKUP}mov %r6, %r0\njeq %r0, 0, out\nldxdw %r7, [%r6]\nstdw [%r0], 1\nmov %r0, 0\nexit\nout:\nmov %r0, 1\nexit`,
      memOpts(8, { maps: MAPS }),
    );
    expect(r.helperIds).toEqual([1]);
    expect(r.mapFds).toEqual([3]);
    expect(r.subprograms[0]?.stackDepth).toBe(8);
    accepts(`${LOOKUP}jne %r0, 0, ok\nmov %r0, 1\nexit\nok:\nldxdw %r0, [%r0]\nexit`, memOpts(8, { maps: MAPS }));
  });

  it('refuses a map value access without a NULL check: "invalid mem access \'map_value_or_null\'"', () => {
    rejects(`${LOOKUP}mov %r1, %r0\nldxdw %r0, [%r1]\nexit`, memOpts(8, { maps: MAPS }), "R1 invalid mem access 'map_value_or_null'", 7);
    rejects(
      `${LOOKUP}add %r0, 8\nmov %r0, 0\nexit`,
      memOpts(8, { maps: MAPS }),
      'R0 pointer arithmetic on map_value_or_null prohibited',
      6,
    );
  });

  it('refuses a map value access out of the value', () => {
    rejects(
      `${LOOKUP}jeq %r0, 0, out\nldxb %r0, [%r0+8]\nexit\nout:\nmov %r0, 1\nexit`,
      memOpts(8, { maps: MAPS }),
      'invalid access to map value, value_size=8 off=8 size=1',
      7,
    );
  });

  it("checks helper arguments: a map, a key of the map's key size", () => {
    rejects(
      'mov %r1, 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r0, 0\nexit',
      memOpts(8, { maps: MAPS }),
      'R1 type=scalar expected=map_ptr',
      3,
    );
    rejects(
      'lddw %r1, 3, map_fd\nmov %r2, %r10\nadd %r2, -2\ncall 1\nmov %r0, 0\nexit',
      memOpts(8, { maps: MAPS }),
      'invalid indirect access to stack R2 off=-2 size=4',
      4,
    );
    rejects(
      'lddw %r1, 3, map_fd\nmov %r2, 0\ncall 3\nmov %r0, 0\nexit',
      memOpts(8, { maps: MAPS }),
      'R2 type=scalar expected=fp, pkt, pkt_meta, map_value, mem',
      3,
    );
    rejects('lddw %r1, 9, map_fd\nmov %r0, 0\nexit', memOpts(8, { maps: MAPS }), 'fd 9 is not pointing to valid bpf_map', 0);
    accepts(
      'lddw %r1, 3, map_fd\nmov %r2, %r10\nadd %r2, -8\nmov %r3, %r10\nadd %r3, -16\nmov %r4, 0\ncall 2\nexit',
      memOpts(8, { maps: MAPS }),
    );
  });

  it('refuses an unknown helper: "unknown func bpf_x#123"', () => {
    rejects('call 123\nexit', memOpts(), 'unknown func bpf_x#123', 0);
    rejects('call 12\nexit', memOpts(), 'unknown func bpf_tail_call#12', 0);
  });

  it('calls clobber r1-r5 and set r0', () => {
    rejects('mov %r1, 1\ncall 5\nmov %r0, %r1\nexit', memOpts(), 'R1 !read_ok', 2);
    accepts('mov %r6, 1\ncall 7\nadd %r0, %r6\nexit');
  });

  it('a map value from lddw (direct value access) is bounded by the value size', () => {
    accepts([insn(0x18, 1, 2, 0, 4), insn(0, 0, 0, 0, 8), insn(0x79, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)], memOpts(8, { maps: MAPS }));
    rejects(
      [insn(0x18, 1, 2, 0, 4), insn(0, 0, 0, 0, 8), insn(0x79, 0, 1, 8, 0), insn(0x95, 0, 0, 0, 0)],
      memOpts(8, { maps: MAPS }),
      'invalid access to map value, value_size=16 off=16 size=8',
      2,
    );
    rejects(
      [insn(0x18, 1, 2, 0, 3), insn(0, 0, 0, 0, 0), insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)],
      memOpts(8, { maps: MAPS }),
      'direct value access on this map type is not supported',
      0,
    );
  });

  it('custom helper tables replace the defaults', () => {
    rejects('call 5\nexit', memOpts(8, { helpers: [] }), 'unknown func bpf_ktime_get_ns#5', 0);
    accepts('call 1000\nexit', memOpts(8, { helpers: [{ id: 1000, name: 'mine', args: [], ret: 'integer' }] }));
  });
});

describe('verifier: BPF-to-BPF calls', () => {
  it('records subprograms, their stack depths and the call depth', () => {
    const r = accepts('stdw [%r10-16], 1\nmov %r1, %r10\nadd %r1, -16\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nstdw [%r10-40], 0\nexit');
    expect(r.subprograms).toEqual([
      { start: 0, end: 5, stackDepth: 16 },
      { start: 5, end: 8, stackDepth: 40 },
    ]);
    expect(r.maxCallDepth).toBe(2);
    expect(r.maxCombinedStack).toBe(16 + 48);
  });

  it('callee-saved registers survive a call; r1-r5 do not; r6-r9 are not visible to the callee', () => {
    accepts('mov %r6, 1\ncall local f\nadd %r0, %r6\nexit\nf:\nmov %r0, 2\nexit');
    rejects('mov %r6, 1\ncall local f\nexit\nf:\nmov %r0, %r6\nexit', memOpts(), 'R6 !read_ok', 3);
    rejects('mov %r2, 1\ncall local f\nmov %r0, %r2\nexit\nf:\nmov %r0, 2\nexit', memOpts(), 'R2 !read_ok', 2);
  });

  it("refuses returning a pointer to the callee's stack", () => {
    rejects('call local f\nmov %r0, 0\nexit\nf:\nmov %r0, %r10\nexit', memOpts(), 'cannot return stack pointer to the caller', 4);
  });
});

describe('verifier: options', () => {
  it('refuses bad options with EINVAL, not a verdict', () => {
    const bad: unknown[] = [
      { progType: { kind: 'memory', size: -1 } },
      { progType: 'tc' },
      { progType: 'xdp', maps: new Map([[3, { keySize: 0, valueSize: 8 }]]) },
      { progType: 'xdp', maps: new Map([[3, { keySize: 4, valueSize: Number.NaN }]]) },
      { progType: 'xdp', helpers: [{ id: 1, name: 'x', args: ['pointer'], ret: 'integer' }] },
      { progType: 'xdp', maxStates: 0 },
    ];
    for (const o of bad) {
      expect(() => verify([insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)], o as VerifyOptions)).toThrow(
        expect.objectContaining({ code: 'EINVAL' }),
      );
    }
    expect(() => verify('nope' as unknown as [], memOpts())).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => verify([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0.5 }], memOpts())).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});
