import { mov, qword, ret } from '@bpf-dispatcher/x86';
import { afterEach, describe, expect, it } from 'vitest';
import { emitText } from './emit-text.js';
import { TextPokeError } from './errors.js';
import { nativeSupported } from './native/libc.js';
import { NativeArena } from './native/native-arena.js';
import { SimulatedArena } from './simulated/simulated-arena.js';
import { UnknownFieldError, defineStruct } from './struct.js';
import type { TextArena } from './types.js';

const code = (c: string) => expect.objectContaining({ code: c });

describe('defineStruct: the C layout', () => {
  it('natural alignment, padding between fields and at the end', () => {
    // struct { u8 a; u32 b; u16 c; u64 d; u8 e; } -> a@0 b@4 c@8 d@16 e@24, size 32, align 8
    const S = defineStruct('s', { a: 'u8', b: 'u32', c: 'u16', d: 'u64', e: 'u8' });
    expect(S.offsets).toEqual({ a: 0, b: 4, c: 8, d: 16, e: 24 });
    expect(S.size).toBe(32);
    expect(S.align).toBe(8);
    expect(S.fields.map((f) => [f.name, f.type, f.offset, f.size])).toEqual([
      ['a', 'u8', 0, 1],
      ['b', 'u32', 4, 4],
      ['c', 'u16', 8, 2],
      ['d', 'u64', 16, 8],
      ['e', 'u8', 24, 1],
    ]);
    expect(Object.isFrozen(S) && Object.isFrozen(S.offsets) && Object.isFrozen(S.fields)).toBe(true);
  });

  it('small structs keep their own alignment; ptr is 8 bytes', () => {
    expect(defineStruct('p', { x: 'u16', y: 'u8' })).toMatchObject({ size: 4, align: 2 });
    expect(defineStruct('q', { x: 'u8', y: 'u8', z: 'u8' })).toMatchObject({ size: 3, align: 1 });
    expect(defineStruct('r', { a: 'u32', p: 'ptr' })).toMatchObject({ offsets: { a: 0, p: 8 }, size: 16, align: 8 });
  });

  it('xdp_md (the kernel UAPI layout: six u32 fields, 24 bytes)', () => {
    const XdpMd = defineStruct('xdp_md', { data: 'u32', data_end: 'u32', data_meta: 'u32', ingress_ifindex: 'u32', rx_queue_index: 'u32', egress_ifindex: 'u32' });
    expect(XdpMd.offsets).toEqual({ data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 });
    expect(XdpMd.size).toBe(24);
    expect(XdpMd.align).toBe(4);
  });

  it('explicit offsets, size and alignment; the next implicit field follows the highest end', () => {
    const S = defineStruct('ring', { head: { type: 'u32', offset: 64 }, tail: 'u32', mask: { type: 'u32', offset: 0 } }, { size: 192, align: 64 });
    expect(S.offsets).toEqual({ head: 64, tail: 68, mask: 0 });
    expect(S.size).toBe(192);
    expect(S.align).toBe(64);
    expect(defineStruct('al', { a: 'u8' }, { align: 16 })).toMatchObject({ size: 16, align: 16 });
  });

  it('refuses malformed definitions with EINVAL', () => {
    const bad: [string, () => unknown][] = [
      ['empty', () => defineStruct('e', {})],
      ['name', () => defineStruct('', { a: 'u8' })],
      ['type', () => defineStruct('t', { a: 'i32' as 'u32' })],
      ['misaligned offset', () => defineStruct('m', { a: { type: 'u32', offset: 2 } })],
      ['negative offset', () => defineStruct('n', { a: { type: 'u8', offset: -1 } })],
      ['overlap', () => defineStruct('o', { a: 'u64', b: { type: 'u32', offset: 4 } })],
      ['small size', () => defineStruct('s', { a: 'u64' }, { size: 4 })],
      ['size not multiple of align', () => defineStruct('s', { a: 'u32' }, { size: 6 })],
      ['align', () => defineStruct('a', { a: 'u32' }, { align: 3 })],
      ['fields not an object', () => defineStruct('f', null as unknown as Record<string, 'u8'>)],
    ];
    for (const [what, fn] of bad) expect(fn, what).toThrow(code('EINVAL'));
  });
});

const ARENAS: [string, () => TextArena][] = [
  ['simulated', () => new SimulatedArena()],
  ['native', () => new NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 })],
];

const Rec = defineStruct('rec', { flag: 'u8', port: 'u16', len: 'u32', count: 'u64', next: 'ptr' });

describe.each(ARENAS)('struct views over %s arena memory', (name, create) => {
  const skip = name === 'native' && !nativeSupported();
  let arena: TextArena | undefined;
  afterEach(() => {
    arena?.dispose();
    arena = undefined;
  });

  it.skipIf(skip)('get/set are little-endian at the laid-out offsets, and machine code sees them there', () => {
    arena = create();
    const region = arena.allocData(64);
    const view = Rec.view(arena, region, 32);
    expect(view.address).toBe(region.address + 32n);
    view.set('flag', 0xab);
    view.set('port', 0x1234);
    view.set('len', 0xdeadbeef);
    view.set('count', 0x0102030405060708n);
    view.set('next', 0xffffffffc0020000n);
    expect([view.get('flag'), view.get('port'), view.get('len'), view.get('count'), view.get('next')]).toEqual([0xab, 0x1234, 0xdeadbeef, 0x0102030405060708n, 0xffffffffc0020000n]);
    const bytes = arena.read(region.address + 32n, Rec.size);
    expect(Buffer.from(bytes).toString('hex')).toBe('ab003412efbeadde0807060504030201000002c0ffffffff');
    // the offsets are the ones code uses: mov rax, [rdi + offsets.count]
    const load = emitText(arena, (b) => {
      mov(b, 'rax', qword('rdi', Rec.offsets.count));
      ret(b);
    });
    expect(arena.call(load.address, view.address)).toBe(0x0102030405060708n);
    view.set('count', 7);
    expect(view.get('count')).toBe(7n);
    view.clear();
    expect(Array.from(arena.read(view.address, Rec.size)).every((b) => b === 0)).toBe(true);
    // a view over a RegionMemory directly
    const same = Rec.view(arena.memory(region), 32);
    same.set('port', 9);
    expect(view.get('port')).toBe(9);
  });

  it.skipIf(skip)('typed errors: unknown field, bad values, misplaced views', () => {
    arena = create();
    const region = arena.allocData(64);
    const view = Rec.view(arena, region);
    expect(() => view.get('nope' as 'flag')).toThrow(UnknownFieldError);
    expect(() => view.set('nope' as 'flag', 1)).toThrow(code('UNKNOWN_FIELD'));
    expect(() => view.get(Symbol('x') as unknown as 'flag')).toThrow(code('UNKNOWN_FIELD'));
    const badValues: [keyof typeof Rec.offsets, unknown][] = [
      ['flag', 256],
      ['flag', -1],
      ['flag', 1.5],
      ['port', 0x10000],
      ['len', 2 ** 32],
      ['len', 1n],
      ['count', -1n],
      ['count', 1n << 64n],
      ['count', 2 ** 53],
      ['next', '0x1000'],
    ];
    for (const [field, value] of badValues) expect(() => view.set(field, value as number), `${field}=${String(value)}`).toThrow(code('EINVAL'));
    expect(view.get('flag')).toBe(0);
    expect(() => Rec.view(arena as TextArena, region, 48)).toThrow(code('EFAULT'));
    expect(() => Rec.view(arena as TextArena, region, 4)).toThrow(code('EINVAL'));
    expect(() => Rec.view(arena as TextArena, region, -8)).toThrow(code('EINVAL'));
    expect(() => Rec.view({} as TextArena, region)).toThrow(TextPokeError);
    expect(() => Rec.view({} as never)).toThrow(code('EINVAL'));
  });

  it.skipIf(skip)('a view throws DISPOSED after dispose and EFAULT after its region is freed', () => {
    const a = create();
    arena = a;
    const region = a.allocData(64);
    const kept = a.allocData(64);
    const view = Rec.view(a, region);
    const other = Rec.view(a, kept);
    view.set('len', 5);
    a.free(region);
    expect(() => view.get('len')).toThrow(code('EFAULT'));
    expect(() => view.set('len', 1)).toThrow(code('EFAULT'));
    a.dispose();
    arena = undefined;
    expect(() => other.get('len')).toThrow(code('DISPOSED'));
    expect(() => other.set('count', 1n)).toThrow(code('DISPOSED'));
    expect(() => other.clear()).toThrow(code('DISPOSED'));
    expect(() => Rec.view(a, kept)).toThrow(code('DISPOSED'));
  });
});
