/**
 * Build `.BTF` (and `.BTF.ext`) sections in tests: types are appended in order and get ids
 * 1, 2, ...; `raw` writes any record, including broken ones.
 */
import { StringBuilder } from './elf-builder.js';

const K = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
} as const;

/** Appends BTF type records; each method returns the new type's id. */
export class BtfBuilder {
  readonly strings = new StringBuilder();
  private readonly words: number[] = [];
  private count = 0;

  /** Any record: header words then trailing words. */
  raw(name: string, kind: number, vlen: number, sizeOrType: number, trailing: readonly number[] = [], kflag = false): number {
    this.words.push(this.strings.add(name), ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...trailing);
    return ++this.count;
  }
  int(name: string, size: number, signed = false, bits = size * 8): number {
    return this.raw(name, K.INT, 0, size, [((signed ? 1 : 0) << 24) | bits]);
  }
  ptr(type: number): number {
    return this.raw('', K.PTR, 0, type);
  }
  array(type: number, nelems: number, indexType = type): number {
    return this.raw('', K.ARRAY, 0, 0, [type, indexType, nelems]);
  }
  struct(name: string, size: number, members: readonly [string, number, number][], kflag = false, union = false): number {
    return this.raw(
      name,
      union ? K.UNION : K.STRUCT,
      members.length,
      size,
      members.flatMap(([n, t, off]) => [this.strings.add(n), t, off]),
      kflag,
    );
  }
  enum(name: string, values: readonly [string, number][]): number {
    return this.raw(
      name,
      K.ENUM,
      values.length,
      4,
      values.flatMap(([n, v]) => [this.strings.add(n), v]),
    );
  }
  fwd(name: string): number {
    return this.raw(name, K.FWD, 0, 0);
  }
  typedef(name: string, type: number): number {
    return this.raw(name, K.TYPEDEF, 0, type);
  }
  const(type: number): number {
    return this.raw('', K.CONST, 0, type);
  }
  volatile(type: number): number {
    return this.raw('', K.VOLATILE, 0, type);
  }
  var(name: string, type: number, linkage = 1): number {
    return this.raw(name, K.VAR, 0, type, [linkage]);
  }
  datasec(name: string, vars: readonly [number, number, number][]): number {
    return this.raw(name, K.DATASEC, vars.length, 0, vars.flat());
  }
  float(name: string, size: number): number {
    return this.raw(name, K.FLOAT, 0, size);
  }
  funcProto(ret: number, params: readonly [string, number][]): number {
    return this.raw(
      '',
      K.FUNC_PROTO,
      params.length,
      ret,
      params.flatMap(([n, t]) => [this.strings.add(n), t]),
    );
  }
  func(name: string, proto: number, linkage = 1): number {
    return this.raw(name, K.FUNC, linkage, proto);
  }

  /**
   * A BTF-defined map definition struct: numbers become `int (*name)[N]`, `{ type: id }`
   * becomes a pointer to that type (`__type`).
   */
  mapDef(members: Readonly<Record<string, number | { type: number }>>): number {
    const int = this.int('int', 4, true);
    const fields: [string, number, number][] = [];
    let off = 0;
    for (const [name, v] of Object.entries(members)) {
      const t = typeof v === 'number' ? this.ptr(this.array(int, v)) : this.ptr(v.type);
      fields.push([name, t, off]);
      off += 64;
    }
    return this.struct('', off / 8, fields);
  }

  /** The section: header (24 bytes), types, strings; `patch` may edit header fields. */
  build(
    patch: Partial<{
      magic: number;
      version: number;
      flags: number;
      hdrLen: number;
      typeOff: number;
      typeLen: number;
      strOff: number;
      strLen: number;
    }> = {},
  ): Uint8Array {
    const types = new Uint8Array(this.words.length * 4);
    const tv = new DataView(types.buffer);
    this.words.forEach((w, i) => {
      tv.setUint32(4 * i, w >>> 0, true);
    });
    const strings = this.strings.bytes();
    const hdrLen = 24;
    const out = new Uint8Array(hdrLen + types.length + strings.length);
    const v = new DataView(out.buffer);
    v.setUint16(0, patch.magic ?? 0xeb9f, true);
    out[2] = patch.version ?? 1;
    out[3] = patch.flags ?? 0;
    v.setUint32(4, patch.hdrLen ?? hdrLen, true);
    v.setUint32(8, patch.typeOff ?? 0, true);
    v.setUint32(12, patch.typeLen ?? types.length, true);
    v.setUint32(16, patch.strOff ?? types.length, true);
    v.setUint32(20, patch.strLen ?? strings.length, true);
    out.set(types, hdrLen);
    out.set(strings, hdrLen + types.length);
    return out;
  }
}

/**
 * A `.BTF.ext` section with empty func_info/line_info and the given core_relo blocks:
 * `[sectionNameOffset, records: [insnOff, typeId, accessStrOff, kind][]]`.
 */
export function btfExt(blocks: readonly [number, readonly (readonly [number, number, number, number])[]][], recordSize = 16): Uint8Array {
  const core: number[] = blocks.length > 0 ? [recordSize] : [];
  for (const [sec, records] of blocks) {
    core.push(sec, records.length);
    for (const r of records) {
      core.push(...r);
      for (let i = 16; i < recordSize; i += 4) core.push(0);
    }
  }
  const out = new Uint8Array(32 + 4 * core.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  v.setUint32(4, 32, true);
  v.setUint32(24, 0, true);
  v.setUint32(28, 4 * core.length, true);
  core.forEach((w, i) => {
    v.setUint32(32 + 4 * i, w >>> 0, true);
  });
  return out;
}
