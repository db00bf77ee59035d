import { encodeProgram, type Insn } from '@bpf-dispatcher/ebpf';
import { describe, expect, it } from 'vitest';
import { BpfObjectError } from './errors.js';
import { parseObject } from './parse.js';
import type { ParsedProgram } from './parsed.js';
import { expectError } from './test-support/expect-error.js';
import { fixture } from './test-support/fixtures.js';

const hex = (insns: readonly Insn[]) => Buffer.from(encodeProgram(insns as Insn[])).toString('hex');

/** The instruction a call at `at` lands on. */
function callTarget(p: ParsedProgram, at: number): number {
  const call = p.insns[at] as Insn;
  expect(call).toMatchObject({ code: 0x85, src: 1 });
  return at + call.imm + 1;
}

describe('parseObject: BTF-defined maps (fixtures/btf-maps.bpf.c)', () => {
  const obj = parseObject(fixture('btf-maps'));

  it('finds the program, the license and BTF', () => {
    expect(obj.license).toBe('GPL');
    expect(obj.kernelVersion).toBeUndefined();
    expect(obj.hasBtf).toBe(true);
    expect(obj.programs.map((p) => [p.name, p.section, p.insns.length, p.sectionOffset])).toEqual([['count_packets', 'xdp', 50, 0]]);
  });

  it('defines the maps in .maps offset order, with sizes from types and from __uint', () => {
    expect(
      obj.maps.map((m) => [m.name, m.origin, m.section, m.type.name, m.type.id, m.keySize, m.valueSize, m.maxEntries, m.flags]),
    ).toEqual([
      ['stats', 'btf', '.maps', 'percpu_array', 6, 4, 24, 4, 0],
      ['counters', 'btf', '.maps', 'array', 2, 4, 8, 16, 0],
      ['percpu_flows', 'btf', '.maps', 'percpu_hash', 5, 8, 4, 64, 0],
      ['flows', 'btf', '.maps', 'hash', 1, 4, 24, 1024, 1],
    ]);
    const [stats, counters, percpuFlows, flows] = obj.maps;
    expect(counters?.keyLayout).toBeUndefined();
    expect(counters?.valueLayout).toBeUndefined();
    expect(percpuFlows?.keyLayout).toEqual({ name: '__u64', kind: 'int', size: 8, signed: false });
    expect(percpuFlows?.valueLayout).toBeUndefined();
    expect(stats?.keyLayout).toEqual({ name: '__u32', kind: 'int', size: 4, signed: false });
    expect(flows?.valueLayout).toBe(stats?.valueLayout);
    expect(stats?.readonly).toBe(false);
    expect(stats?.initialValue).toBeUndefined();
    const value = stats?.valueLayout;
    expect(value).toMatchObject({ name: 'datarec', kind: 'struct', size: 24 });
    expect(value?.members?.map((m) => [m.name, m.offset, m.layout.name, m.layout.size])).toEqual([
      ['rx_packets', 0, '__u64', 8],
      ['rx_bytes', 8, '__u64', 8],
      ['flags', 16, '__u32', 4],
      ['proto', 20, '__u16', 2],
      ['pad', 22, '', 2],
    ]);
    expect(value?.members?.[4]?.layout).toMatchObject({ kind: 'array', count: 2, element: { name: '__u8', size: 1 } });
  });

  it('turns each lddw of a map into a map_fd reference to its index', () => {
    const [p] = obj.programs;
    expect(p?.mapReferences).toEqual([
      { insnIndex: 6, map: 0, kind: 'fd', offset: 0 },
      { insnIndex: 23, map: 1, kind: 'fd', offset: 0 },
      { insnIndex: 37, map: 2, kind: 'fd', offset: 0 },
      { insnIndex: 43, map: 3, kind: 'fd', offset: 0 },
    ]);
    for (const ref of p?.mapReferences ?? []) {
      expect(p?.insns[ref.insnIndex]).toEqual({ code: 0x18, dst: 1, src: 1, off: 0, imm: ref.map });
      expect(p?.insns[ref.insnIndex + 1]).toEqual({ code: 0, dst: 0, src: 0, off: 0, imm: 0 });
    }
  });
});

describe('parseObject: legacy maps section (fixtures/legacy-maps.bpf.c)', () => {
  const obj = parseObject(fixture('legacy-maps'));

  it('reads struct bpf_map_def per symbol, the license and the version', () => {
    expect(obj.license).toBe('Dual MIT/GPL');
    expect(obj.kernelVersion).toBe(0x050a00);
    expect(obj.maps).toEqual([
      {
        name: 'legacy_hash',
        origin: 'legacy',
        section: 'maps',
        type: { id: 1, name: 'hash' },
        keySize: 4,
        valueSize: 8,
        maxEntries: 256,
        flags: 0,
        readonly: false,
      },
      {
        name: 'legacy_array',
        origin: 'legacy',
        section: 'maps',
        type: { id: 2, name: 'array' },
        keySize: 4,
        valueSize: 16,
        maxEntries: 8,
        flags: 0,
        readonly: false,
      },
    ]);
  });

  it('refers to them by index', () => {
    expect(obj.programs[0]?.mapReferences).toEqual([
      { insnIndex: 4, map: 1, kind: 'fd', offset: 0 },
      { insnIndex: 13, map: 0, kind: 'fd', offset: 0 },
    ]);
  });
});

describe('parseObject: global data (fixtures/global-data.bpf.c)', () => {
  const obj = parseObject(fixture('global-data'));

  it('makes one array map per data section, in section order', () => {
    expect(obj.maps.map((m) => [m.name, m.origin, m.type.id, m.keySize, m.valueSize, m.maxEntries, m.flags, m.readonly])).toEqual([
      ['.data', 'data', 2, 4, 16, 1, 0, false],
      ['.rodata', 'data', 2, 4, 12, 1, 0x80, true],
      ['.data.custom', 'data', 2, 4, 4, 1, 0, false],
      ['.bss', 'data', 2, 4, 24, 1, 0, false],
      ['.rodata.str1.1', 'data', 2, 4, 5, 1, 0x80, true],
    ]);
    const [data, rodata, custom, bss, str] = obj.maps;
    expect([...(data?.initialValue ?? [])]).toEqual([7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 11, 0, 0, 0]);
    expect([...(rodata?.initialValue ?? [])]).toEqual([100, 0, 0, 0, 1, 0, 0, 0, 0x90, 0x1f, 1, 0]);
    expect([...(custom?.initialValue ?? [])]).toEqual([42, 0, 0, 0]);
    expect([...(bss?.initialValue ?? [])]).toEqual(new Array(24).fill(0));
    expect(new TextDecoder().decode(str?.initialValue)).toBe('eth0\0');
    expect(str?.variables).toEqual([]);
  });

  it('lists the variables with offsets, sizes, bindings and layouts', () => {
    const [data, rodata, , bss] = obj.maps;
    expect(data?.variables?.map((v) => [v.name, v.offset, v.size, v.binding, v.layout?.name])).toEqual([
      ['packets', 0, 8, 'global', '__u64'],
      ['drops', 8, 4, 'global', '__u32'],
      ['hidden_counter', 12, 4, 'static', '__u32'],
    ]);
    expect(rodata?.variables?.map((v) => [v.name, v.offset, v.size, v.binding])).toEqual([
      ['threshold', 0, 4, 'global'],
      ['cfg', 4, 8, 'global'],
    ]);
    expect(rodata?.variables?.[1]?.layout?.members?.map((m) => [m.name, m.offset, m.layout.size])).toEqual([
      ['mode', 0, 4],
      ['port', 4, 2],
      ['enabled', 6, 1],
    ]);
    expect(bss?.variables?.map((v) => [v.name, v.offset, v.size, v.layout?.kind])).toEqual([
      ['more_zeroed', 0, 16, 'array'],
      ['zeroed', 16, 8, 'int'],
    ]);
  });

  it('turns lddw of variables into map_value references (libbpf: insn[1].imm = insn[0].imm + st_value)', () => {
    const [p] = obj.programs;
    expect(p?.mapReferences.map((r) => [r.insnIndex, obj.maps[r.map]?.name, r.kind, r.offset])).toEqual([
      [0, '.data', 'value', 0], // packets
      [5, '.data', 'value', 12], // hidden_counter, through the section symbol with imm 12
      [10, '.data.custom', 'value', 0],
      [15, '.data', 'value', 8], // drops
      [18, '.bss', 'value', 16], // zeroed
      [24, '.bss', 'value', 0], // more_zeroed
      [27, '.rodata', 'value', 4], // cfg
      [32, '.rodata', 'value', 0], // threshold
      [43, '.rodata', 'value', 4], // cfg
      [51, '.rodata.str1.1', 'value', 0], // "eth0", from the appended .text subprogram
    ]);
    for (const r of p?.mapReferences ?? []) {
      expect(p?.insns[r.insnIndex]).toMatchObject({ code: 0x18, src: 2, imm: r.map });
      expect(p?.insns[r.insnIndex + 1]).toEqual({ code: 0, dst: 0, src: 0, off: 0, imm: r.offset });
    }
  });

  it('appends the .text subprogram and points the call at it (checked against llvm-objdump -d)', () => {
    const [p] = obj.programs;
    expect(p?.insns).toHaveLength(50 + 8);
    expect(callTarget(p as ParsedProgram, 37)).toBe(50);
    expect(hex(p?.insns.slice(50) ?? [])).toBe(
      [
        '5701000003000000',
        '1822000004000000',
        '0000000000000000',
        '0f12000000000000',
        '7120000000000000',
        '6700000038000000',
        'c700000038000000',
        '9500000000000000',
      ].join(''),
    );
  });
});

describe('parseObject: programs and subprograms (fixtures/subprograms.bpf.c)', () => {
  const obj = parseObject(fixture('subprograms'));
  const byName = new Map(obj.programs.map((p) => [p.name, p]));
  const prog = (name: string) => byName.get(name) as ParsedProgram;
  // First instructions of the subprograms, as llvm-objdump -d shows them.
  const MIDDLE = { code: 0xbf, dst: 6, src: 1, off: 0, imm: 0 };
  const LEAF_AND_GLOBAL = { code: 0xbf, dst: 0, src: 1, off: 0, imm: 0 };

  it('finds every global function of every program section, in section and offset order', () => {
    expect(obj.programs.map((p) => [p.name, p.section, p.sectionOffset, p.insns.length])).toEqual([
      ['prog_a', 'xdp', 0, 4 + 8 + 4],
      ['prog_b', 'xdp', 0x20, 9 + 4 + 3],
      ['prog_c', 'xdp/second', 0, 8 + 3 + 8 + 4],
      ['prog_d', 'xdp/third', 0, 2],
    ]);
    expect(obj.maps).toEqual([]);
    expect(obj.programs.every((p) => p.mapReferences.length === 0)).toBe(true);
  });

  it('appends nested subprograms depth first and fixes the calls (relocation against the .text section symbol)', () => {
    const a = prog('prog_a');
    expect(callTarget(a, 1)).toBe(4); // middle
    expect(a.insns[4]).toEqual(MIDDLE);
    expect(callTarget(a, 5)).toBe(12); // middle -> leaf
    expect(callTarget(a, 9)).toBe(12); // middle -> leaf again, same copy
    expect(a.insns[12]).toEqual(LEAF_AND_GLOBAL);
    expect(a.insns[13]).toMatchObject({ code: 0x27, imm: 3 });
  });

  it('calls a static function of the program section (no relocation) and a .text one', () => {
    const b = prog('prog_b');
    expect(callTarget(b, 2)).toBe(9); // leaf
    expect(b.insns[10]).toMatchObject({ code: 0x27, imm: 3 });
    expect(callTarget(b, 5)).toBe(13); // in_section
    expect(b.insns.slice(13)).toEqual([
      LEAF_AND_GLOBAL,
      { code: 0x07, dst: 0, src: 0, off: 0, imm: 7 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
  });

  it('resolves a relocation against a global function symbol (clang writes imm -1) (checked against llvm-objdump -d)', () => {
    const c = prog('prog_c');
    expect(callTarget(c, 1)).toBe(8); // global_sub
    expect(c.insns[9]).toMatchObject({ code: 0xa7, imm: 0x55 });
    expect(callTarget(c, 4)).toBe(11); // middle
    expect(callTarget(c, 12)).toBe(19); // middle -> leaf
    expect(hex(c.insns)).toBe(
      [
        '6111100000000000',
        '8510000006000000',
        'bf06000000000000',
        'b701000001000000',
        '8510000006000000',
        '0f60000000000000',
        '5700000003000000',
        '9500000000000000',
        'bf10000000000000',
        'a700000055000000',
        '9500000000000000',
        'bf16000000000000',
        '8510000006000000',
        'bf07000000000000',
        '0706000001000000',
        'bf61000000000000',
        '8510000002000000',
        '0f70000000000000',
        '9500000000000000',
        'bf10000000000000',
        '2700000003000000',
        '0700000001000000',
        '9500000000000000',
      ].join(''),
    );
  });

  it('appends no subprogram that is not called', () => {
    expect(prog('prog_d').insns).toEqual([
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    // unused_global (r0 += -1) is in no program.
    for (const p of obj.programs) expect(p.insns.some((x) => x.code === 0x07 && x.imm === -1)).toBe(false);
  });
});

describe('parseObject: refused features', () => {
  it('refuses an extern kconfig variable, naming the symbol and section', () => {
    const err = expectError(() => parseObject(fixture('kconfig')), 'UNSUPPORTED', /extern LINUX_KERNEL_VERSION \(from \.kconfig\)/);
    expect(err).toMatchObject({ symbol: 'LINUX_KERNEL_VERSION', section: 'xdp' });
  });

  it('refuses a kfunc, naming it', () => {
    const err = expectError(() => parseObject(fixture('kfunc')), 'UNSUPPORTED', /kfunc.*bpf_kfunc_example \(from \.ksyms\)/);
    expect(err).toMatchObject({ symbol: 'bpf_kfunc_example', section: 'xdp' });
  });

  it('refuses CO-RE relocations, naming the section and the type', () => {
    const err = expectError(() => parseObject(fixture('core')), 'UNSUPPORTED', /CO-RE.*section xdp on type task_like/);
    expect(err.section).toBe('xdp');
  });

  it('refuses a callback (function address in lddw), naming the function', () => {
    const err = expectError(() => parseObject(fixture('callback')), 'UNSUPPORTED', /count_step.*BPF_PSEUDO_FUNC/);
    expect(err).toMatchObject({ symbol: 'count_step', section: 'xdp' });
  });

  it('refuses map-in-map initialisers, naming the map and member', () => {
    const err = expectError(() => parseObject(fixture('map-in-map')), 'UNSUPPORTED', /outer_map.*'values'/);
    expect(err).toMatchObject({ symbol: 'outer_map', section: '.maps' });
  });
});

describe('parseObject: arguments', () => {
  it('prefixes errors with the object name', () => {
    const err = expectError(() => parseObject(fixture('kconfig'), { name: 'kconfig.bpf.o' }), 'UNSUPPORTED', /^kconfig\.bpf\.o: xdp: /);
    expect(err.cause).toBeInstanceOf(BpfObjectError);
    expect(err.symbol).toBe('LINUX_KERNEL_VERSION');
  });

  it('refuses objects over 64 MiB and non-byte input with EINVAL', () => {
    expectError(() => parseObject(new Uint8Array(64 * 1024 * 1024 + 1)), 'EINVAL', /64|67108864/);
    expectError(() => parseObject([1, 2, 3] as unknown as Uint8Array), 'EINVAL');
    expectError(() => parseObject(new Uint8Array(64 * 1024 * 1024)), 'NOT_ELF');
  });

  it('parses a Buffer and a subarray at an odd offset alike', () => {
    const bytes = fixture('global-data');
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(parseObject(shifted.subarray(3))).toEqual(parseObject(Buffer.from(bytes)));
  });

  it('copies initial values out of the input', () => {
    const bytes = Buffer.from(fixture('global-data'));
    const obj = parseObject(bytes);
    const data = obj.maps[0]?.initialValue as Uint8Array;
    expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype);
    bytes.fill(0);
    expect(data[0]).toBe(7);
  });
});
