import { defineStruct } from '@bpf-dispatcher/text-poke';
import { describe, expect, it } from 'vitest';
import { bytesCodec, readField, structCodec, sumValues, u32, u64, writeField } from './codec.js';

const einval = expect.objectContaining({ code: 'EINVAL' });

describe('codecs', () => {
  it('u32: little-endian, every value in 0..2^32-1 and nothing else', () => {
    for (const v of [0, 1, 0x1234_5678, 0xffff_ffff]) {
      const bytes = u32.encode(v);
      expect(bytes.length).toBe(4);
      expect(u32.decode(bytes)).toBe(v);
    }
    expect(u32.encode(0x0102_0304)).toEqual(Uint8Array.of(4, 3, 2, 1));
    for (const v of [-1, 2 ** 32, 1.5, Number.NaN, '1', 1n, null]) expect(() => u32.encode(v as number)).toThrow(einval);
    // decoding a view into a larger buffer reads its own bytes
    expect(u32.decode(Uint8Array.of(9, 9, 1, 0, 0, 0).subarray(2))).toBe(1);
  });

  it('u64: little-endian bigints in 0..2^64-1 only', () => {
    for (const v of [0n, 1n, 0x0102_0304_0506_0708n, (1n << 64n) - 1n]) expect(u64.decode(u64.encode(v))).toBe(v);
    expect(u64.encode(0x0102_0304_0506_0708n)).toEqual(Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1));
    for (const v of [-1n, 1n << 64n, 1, '1', null]) expect(() => u64.encode(v as bigint)).toThrow(einval);
    expect(u64.decode(Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0, 0).subarray(1))).toBe(1n);
  });

  it('bytes: exactly the size, copied both ways', () => {
    const c = bytesCodec(3);
    const input = Uint8Array.of(1, 2, 3);
    const encoded = c.encode(input);
    expect(encoded).toEqual(input);
    input[0] = 9;
    expect(encoded[0]).toBe(1);
    const decoded = c.decode(encoded);
    encoded[1] = 9;
    expect(decoded).toEqual(Uint8Array.of(1, 2, 3));
    for (const v of [new Uint8Array(2), new Uint8Array(4), [1, 2, 3], 'abc']) expect(() => c.encode(v as Uint8Array)).toThrow(einval);
  });

  it('structs: one property per field (numbers up to 32 bits, bigints for u64/ptr), at the C offsets', () => {
    const S = defineStruct('s', { a: 'u8', b: 'u16', c: 'u32', d: 'u64', e: 'ptr' });
    const c = structCodec(S);
    expect(c.size).toBe(S.size);
    const value = { a: 0xab, b: 0xbeef, c: 0xdead_beef, d: 0x1122_3344_5566_7788n, e: 0xffff_ffff_ffff_fff0n };
    const bytes = c.encode(value);
    expect(c.decode(bytes)).toEqual(value);
    const view = new DataView(bytes.buffer);
    expect(view.getUint16(S.offsets.b, true)).toBe(0xbeef);
    expect(view.getBigUint64(S.offsets.d, true)).toBe(0x1122_3344_5566_7788n);
    // missing fields stay zero; negative numbers are two's complement; a safe integer is accepted for u64
    expect(c.decode(c.encode({ a: -1, c: -2, d: 5 } as never))).toEqual({ a: 0xff, b: 0, c: 0xffff_fffe, d: 5n, e: 0n });
    expect(c.decode(c.encode({ d: -1n } as never)).d).toBe((1n << 64n) - 1n);
  });

  it('structs refuse values that do not fit their field (EINVAL)', () => {
    const c = structCodec(defineStruct('t', { a: 'u8', b: 'u16', c: 'u32', d: 'u64' }));
    for (const bad of [{ a: 256 }, { a: -129 }, { b: 0x1_0000 }, { c: 2 ** 32 }, { c: 1.5 }, { c: 1n }, { d: 1.5 }, { d: 'x' }, { d: 1n << 64n }, { d: -(1n << 63n) - 1n }, { d: 2 ** 53 }]) {
      expect(() => c.encode(bad as never), JSON.stringify(bad, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))).toThrow(einval);
    }
    expect(c.decode(c.encode({ d: -(1n << 63n) } as never)).d).toBe(1n << 63n);
  });

  it('readField / writeField: 1, 2, 4 and 8 bytes', () => {
    const view = new DataView(new ArrayBuffer(16));
    writeField(view, 0, 1, 0x80, 'x');
    writeField(view, 2, 2, 0x8001, 'x');
    writeField(view, 4, 4, 0x8000_0001, 'x');
    writeField(view, 8, 8, 0x8000_0000_0000_0001n, 'x');
    expect([readField(view, 0, 1), readField(view, 2, 2), readField(view, 4, 4), readField(view, 8, 8)]).toEqual([0x80, 0x8001, 0x8000_0001, 0x8000_0000_0000_0001n]);
  });

  it('sumValues adds numbers, bigints and objects field by field; other fields come from the first value', () => {
    expect(sumValues([1, 2, 3])).toBe(6);
    expect(sumValues([0xffff_ffff, 0xffff_ffff])).toBe(0x1_ffff_fffe); // no wrap-around
    expect(sumValues([1n, 2n, (1n << 64n) - 1n])).toBe((1n << 64n) + 2n);
    expect(sumValues([{ n: 1, b: 2n, tag: Uint8Array.of(1), nested: { x: 1 } }, { n: 2, b: 3n, tag: Uint8Array.of(2), nested: { x: 5 } }])).toEqual({
      n: 3,
      b: 5n,
      tag: Uint8Array.of(1),
      nested: { x: 6 },
    });
    expect(sumValues([Uint8Array.of(1), Uint8Array.of(2)])).toEqual(Uint8Array.of(1));
    expect(sumValues([7])).toBe(7);
    expect(() => sumValues([])).toThrow(einval);
  });
});
