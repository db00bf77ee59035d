import { readdirSync } from 'node:fs';
import { kernelBpfAvailable, kernelTestRun, possibleCpuCount } from '@bpf-dispatcher/ebpf';
import { describe, expect, it } from 'vitest';
import { kernelMapName, loadObjectIntoKernel } from './kernel-object.js';
import { openObject } from './object.js';
import { parseObject } from './parse.js';
import type { ParsedObject } from './parsed.js';
import { expectError } from './test-support/expect-error.js';
import { fixture } from './test-support/fixtures.js';

const available = kernelBpfAvailable();
if (!available.ok) console.warn(`kernel object loader tests skipped: ${available.reason}`);
const describeKernel = available.ok ? describe : describe.skip;

const key0 = new Uint8Array(4);
const u32 = (b: Uint8Array | undefined, at = 0) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset).getUint32(at, true);
const u64 = (b: Uint8Array | undefined, at = 0) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset).getBigUint64(at, true);

/** struct xdp_md for BPF_PROG_TEST_RUN: data 0, data_end len, ingress ifindex 1 (lo), queue 0. */
function xdpMd(length: number): Uint8Array {
  const ctx = new Uint8Array(24);
  const view = new DataView(ctx.buffer);
  view.setUint32(4, length, true);
  view.setUint32(12, 1, true);
  return ctx;
}

const run = (prog: Parameters<typeof kernelTestRun>[0], length = 64) =>
  kernelTestRun(prog, { data: new Uint8Array(length), ctx: xdpMd(length) }).retval;

/** Open file descriptors of this process (to see that nothing leaks). */
const openFds = () => readdirSync('/proc/self/fd').length;

describe('kernelMapName', () => {
  it('keeps a map name up to 15 characters and replaces what the kernel refuses', () => {
    expect(kernelMapName('x.bpf.o', { name: 'mac_counts', origin: 'btf' })).toBe('mac_counts');
    expect(kernelMapName('x.bpf.o', { name: 'a_very_long_map_name', origin: 'btf' })).toBe('a_very_long_map');
    expect(kernelMapName('x', { name: 'odd-name!', origin: 'legacy' })).toBe('odd_name_');
  });

  it('names global data as libbpf does: object prefix, then the section', () => {
    expect(kernelMapName('xdp_helpers.bpf.o', { name: '.rodata', origin: 'data' })).toBe('xdp_help.rodata');
    expect(kernelMapName('xdp_helpers.bpf.o', { name: '.bss', origin: 'data' })).toBe('xdp_help.bss');
    expect(kernelMapName('xdp_helpers.bpf.o', { name: '.data', origin: 'data' })).toBe('xdp_help.data');
    expect(kernelMapName('gd', { name: '.data', origin: 'data' })).toBe('gd.data');
    expect(kernelMapName('global-data.bpf.o', { name: '.rodata.str1.1', origin: 'data' })).toBe('.rodata.str1.1');
    expect(kernelMapName('global-data.bpf.o', { name: '.data.custom', origin: 'data' })).toBe('.data.custom');
    expect(kernelMapName('my obj', { name: '.bss', origin: 'data' })).toBe('my_obj.bss');
  });
});

describe('loadObjectIntoKernel: checks before anything is created', () => {
  const parsed = parseObject(fixture('global-data'));

  it('refuses bad arguments', () => {
    expectError(() => loadObjectIntoKernel(null as never), 'EINVAL');
    expectError(() => loadObjectIntoKernel({} as never), 'EINVAL');
    expectError(() => loadObjectIntoKernel(parsed, null as never), 'EINVAL');
    expectError(() => loadObjectIntoKernel(parsed, { name: 7 as never }), 'EINVAL');
  });

  it('refuses a closed object', async () => {
    const object = openObject(fixture('global-data'));
    await object.close();
    expectError(() => loadObjectIntoKernel(object), 'STATE');
  });

  it('refuses a program that is not XDP and a map type the kernel does not define, naming them', () => {
    const first = parsed.programs[0] as ParsedObject['programs'][number];
    const tc: ParsedObject = { ...parsed, programs: [{ ...first, section: 'tc' }] };
    expectError(() => loadObjectIntoKernel(tc), 'UNSUPPORTED', /data_prog in section tc/);
    const odd: ParsedObject = { ...parsed, maps: [{ ...(parsed.maps[0] as ParsedObject['maps'][number]), name: 'events', type: { id: 200, name: 'unknown(200)' } }] };
    expectError(() => loadObjectIntoKernel(odd), 'UNSUPPORTED', /map events .* unknown\(200\), which is no map type of the kernel/);
  });

  it('refuses a map reference that is not an lddw of one of its maps', () => {
    const first = parsed.programs[0] as ParsedObject['programs'][number];
    const ref = first.mapReferences[0] as (typeof first.mapReferences)[number];
    const broken: ParsedObject = { ...parsed, programs: [{ ...first, mapReferences: [{ ...ref, map: 99 }] }] };
    expectError(() => loadObjectIntoKernel(broken), 'MALFORMED');
  });
});

/**
 * An object with one XSKMAP (a type only the kernel has) and an XDP program calling
 * `bpf_redirect_map` (helper 51, also kernel-only): `return bpf_redirect_map(&xsks, 0, XDP_PASS)`.
 */
function xskRedirectObject(): ParsedObject {
  const insn = (code: number, dst: number, src: number, imm: number) => ({ code, dst, src, off: 0, imm });
  return {
    license: 'GPL',
    kernelVersion: undefined,
    hasBtf: false,
    maps: [{ name: 'xsks', origin: 'btf', section: '.maps', type: { id: 17, name: 'xskmap' }, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, readonly: false }],
    programs: [
      {
        name: 'redirect',
        section: 'xdp',
        sectionOffset: 0,
        insns: [insn(0x18, 1, 1, 0), insn(0, 0, 0, 0), insn(0xb7, 2, 0, 0), insn(0xb7, 3, 0, 2), insn(0x85, 0, 0, 51), insn(0x95, 0, 0, 0)],
        mapReferences: [{ insnIndex: 0, map: 0, kind: 'fd', offset: 0 }],
      },
    ],
  };
}

describeKernel('loadObjectIntoKernel: map types and helpers only the kernel has', () => {
  it('creates an XSKMAP and loads a program calling bpf_redirect_map (helper 51)', () => {
    const before = openFds();
    const loaded = loadObjectIntoKernel(xskRedirectObject(), { name: 'xsk' });
    const xsks = loaded.map('xsks');
    expect([xsks.type, xsks.keySize, xsks.valueSize, xsks.maxEntries]).toEqual(['xskmap', 4, 4, 4]);
    // an XSKMAP holds AF_XDP sockets: the kernel refuses any other fd (here the map's own)
    const fd = new Uint8Array(4);
    new DataView(fd.buffer).setUint32(0, xsks.fd, true);
    expect(() => xsks.update(key0, fd)).toThrow(expect.objectContaining({ code: 'KERNEL' }));
    // no socket at key 0: the program returns its fallback verdict, XDP_PASS
    expect(run(loaded.program('redirect'))).toBe(2);
    loaded.close();
    expect(openFds()).toBe(before);
  });

  it('leaves the judgement of a kernel-only map definition to the kernel: a ringbuf with a key is refused, typed', () => {
    const object = xskRedirectObject();
    const ring: ParsedObject = { ...object, programs: [], maps: [{ ...(object.maps[0] as ParsedObject['maps'][number]), name: 'events', type: { id: 27, name: 'ringbuf' }, maxEntries: 4096 }] };
    const before = openFds();
    expectError(() => loadObjectIntoKernel(ring), 'UNSUPPORTED', /the kernel refused map events \(ringbuf/);
    expect(openFds()).toBe(before);
  });
});

describeKernel('loadObjectIntoKernel', () => {
  it('loads every fixture the parser accepts, with each map of its definition', () => {
    for (const name of ['btf-maps', 'legacy-maps', 'global-data', 'subprograms'] as const) {
      const parsed = parseObject(fixture(name));
      using loaded = loadObjectIntoKernel(parsed, { name: `${name}.bpf.o` });
      expect([...loaded.programs.keys()], name).toEqual(parsed.programs.map((p) => p.name));
      expect([...loaded.maps.keys()], name).toEqual(parsed.maps.map((m) => m.name));
      for (const m of parsed.maps) {
        const k = loaded.map(m.name);
        expect([k.keySize, k.valueSize, k.maxEntries], `${name} ${m.name}`).toEqual([m.keySize, m.valueSize, m.maxEntries]);
        expect(k.type).toBe(m.type.name);
      }
    }
  });

  it('writes global data, freezes .rodata and relocates value references (global-data.bpf.o)', () => {
    const parsed = parseObject(fixture('global-data'));
    const offset = (section: string, name: string) => parsed.maps.find((m) => m.name === section)?.variables?.find((v) => v.name === name)?.offset as number;
    using loaded = loadObjectIntoKernel(parsed, { name: 'global-data.bpf.o' });
    const data = loaded.map('.data');
    const rodata = loaded.map('.rodata');
    const bss = loaded.map('.bss');
    expect(u64(data.lookup(key0), offset('.data', 'packets'))).toBe(7n);
    expect(u32(rodata.lookup(key0), offset('.rodata', 'threshold'))).toBe(100);
    expect(rodata.frozen).toBe(true);
    expect(() => rodata.update(key0, new Uint8Array(rodata.valueSize))).toThrow(expect.objectContaining({ code: 'KERNEL', errnoName: 'EPERM' }));
    expect(data.frozen).toBe(false);
    // data_prog: packets++, hidden_counter += 2, custom_counter++, zeroed += drops; "eth0"[0] == 'e' -> XDP_PASS
    expect(run(loaded.program('data_prog'))).toBe(2);
    const after = data.lookup(key0);
    expect(u64(after, offset('.data', 'packets'))).toBe(8n);
    expect(u32(after, offset('.data', 'hidden_counter'))).toBe(13);
    expect(u32(loaded.map('.data.custom').lookup(key0))).toBe(43);
    expect(u64(bss.lookup(key0), offset('.bss', 'zeroed'))).toBe(3n);
    expect(u32(bss.lookup(key0), offset('.bss', 'more_zeroed') + 8)).toBe(0); // more_zeroed[2] = rx_queue_index
  });

  it('takes a BpfObject as adjusted: setVariable, setMaxEntries, autoload', () => {
    const object = openObject(fixture('global-data'), { name: 'global-data.bpf.o' });
    object.map('.rodata').setVariable('threshold', 5);
    object.map('.data').setVariable('packets', 1000n);
    {
      using loaded = loadObjectIntoKernel(object);
      const at = (map: string, name: string) => object.map(map).variables.find((v) => v.name === name)?.offset as number;
      expect(u32(loaded.map('.rodata').lookup(key0), at('.rodata', 'threshold'))).toBe(5);
      run(loaded.program('data_prog'));
      expect(u64(loaded.map('.data').lookup(key0), at('.data', 'packets'))).toBe(1001n);
    }
    const maps = openObject(fixture('btf-maps'));
    maps.map('flows').setMaxEntries(7);
    maps.map('counters').setMaxEntries(3);
    using loaded = loadObjectIntoKernel(maps);
    expect(loaded.map('flows').maxEntries).toBe(7);
    expect(loaded.map('counters').keys()).toHaveLength(3);
    const subs = openObject(fixture('subprograms'));
    subs.program('prog_b').setAutoload(false);
    using some = loadObjectIntoKernel(subs);
    expect([...some.programs.keys()]).toEqual(['prog_a', 'prog_c', 'prog_d']);
  });

  it('runs BPF-to-BPF calls the way the C says (subprograms.bpf.o, ifindex 1, queue 0)', () => {
    using loaded = loadObjectIntoKernel(parseObject(fixture('subprograms')));
    expect(run(loaded.program('prog_a'))).toBe(((0 * 3 + 1 + (1 * 3 + 1)) & 3) >>> 0); // middle(0) & 3
    expect(run(loaded.program('prog_b'))).toBe((1 * 3 + 1 + (0 + 7)) & 3); // leaf(1) + in_section(0)
    expect(run(loaded.program('prog_c'))).toBe(((0 ^ 0x55) + (4 + 7)) & 3);
    expect(run(loaded.program('prog_d'))).toBe(2);
  });

  it('per-CPU and hash maps work from the program (btf-maps.bpf.o)', () => {
    using loaded = loadObjectIntoKernel(parseObject(fixture('btf-maps')));
    const prog = loaded.program('count_packets');
    expect(run(prog, 80)).toBe(1); // no flow: XDP_DROP
    expect(run(prog, 80)).toBe(1);
    const stats = loaded.map('stats');
    const slot = Math.ceil(stats.valueSize / 8) * 8;
    const value = stats.lookup(key0) as Uint8Array;
    let packets = 0n;
    let bytes = 0n;
    for (let cpu = 0; cpu < possibleCpuCount(); cpu++) {
      packets += u64(value, cpu * slot);
      bytes += u64(value, cpu * slot + 8);
    }
    expect([packets, bytes]).toEqual([2n, 160n]);
    expect(u64(loaded.map('counters').lookup(key0))).toBe(2n);
    expect(loaded.map('percpu_flows').keys()).toHaveLength(1);
    loaded.map('flows').update(key0, new Uint8Array(24));
    expect(run(prog)).toBe(2);
  });

  it('closes every fd: on close() (idempotent), and when the kernel refuses a program part-way', () => {
    const before = openFds();
    const loaded = loadObjectIntoKernel(parseObject(fixture('btf-maps')));
    expect(openFds()).toBe(before + 5);
    loaded.close();
    loaded.close();
    expect(openFds()).toBe(before);
    expect(loaded.map('flows').closed).toBe(true);
    expect(loaded.program('count_packets').closed).toBe(true);
    expectError(() => loaded.map('nope'), 'ENOENT');
    expectError(() => loaded.program('nope'), 'ENOENT');

    const parsed = parseObject(fixture('subprograms'));
    // the third program reads r0 before setting it: the kernel refuses it after two were loaded
    const programs = parsed.programs.map((p, i) => (i === 2 ? { ...p, insns: [{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }] } : p));
    const error = expectError(() => loadObjectIntoKernel({ ...parsed, programs }), 'VERIFY', /prog_c/);
    expect((error.cause as { log: string }).log).toMatch(/R0 !read_ok/);
    expect(openFds()).toBe(before);
  });
});
