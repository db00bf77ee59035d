/**
 * The compiled fixture objects in `packages/bpf-object/fixtures` (see its README for how
 * they are built), and helpers to patch their bytes in tests.
 */
import { readFileSync } from 'node:fs';

/** Fixture names (`fixtures/<name>.bpf.o`). */
export const FIXTURES = Object.freeze([
  'btf-maps',
  'legacy-maps',
  'global-data',
  'subprograms',
  'load-errors',
  'kconfig',
  'core',
  'kfunc',
  'callback',
  'map-in-map',
] as const);

export type FixtureName = (typeof FIXTURES)[number];

/** A fresh copy of a fixture object's bytes. */
export function fixture(name: FixtureName): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../../fixtures/${name}.bpf.o`, import.meta.url)));
}

/** Little-endian field access on a byte array, for patching objects in tests. */
export class Patch {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(at: number, value?: number): number {
    if (value !== undefined) this.view.setUint16(at, value, true);
    return this.view.getUint16(at, true);
  }
  u32(at: number, value?: number): number {
    if (value !== undefined) this.view.setUint32(at, value, true);
    return this.view.getUint32(at, true);
  }
  u64(at: number, value?: bigint): bigint {
    if (value !== undefined) this.view.setBigUint64(at, value, true);
    return this.view.getBigUint64(at, true);
  }
}

/** Offsets of the fields of an ELF object's headers, for patching. */
export interface HeaderOffsets {
  readonly shoff: number;
  readonly shnum: number;
  /** File offset of section header `index`. */
  sectionHeader(index: number): number;
  /** Index of the first section called `name` (throws if none). */
  sectionIndex(name: string): number;
  /** `sh_offset` and `sh_size` of section `name`. */
  section(name: string): { index: number; header: number; offset: number; size: number };
}

/** Locate an (intact) ELF64 object's section headers by name. */
export function headers(bytes: Uint8Array): HeaderOffsets {
  const p = new Patch(bytes);
  const shoff = Number(p.u64(40));
  const shnum = p.u16(60);
  const shstrndx = p.u16(62);
  const sectionHeader = (index: number) => shoff + index * 64;
  const strOff = Number(p.u64(sectionHeader(shstrndx) + 24));
  const nameOf = (index: number) => {
    const start = strOff + p.u32(sectionHeader(index));
    return new TextDecoder().decode(bytes.subarray(start, bytes.indexOf(0, start)));
  };
  const sectionIndex = (name: string) => {
    for (let i = 1; i < shnum; i++) if (nameOf(i) === name) return i;
    throw new Error(`no section ${name}`);
  };
  return {
    shoff,
    shnum,
    sectionHeader,
    sectionIndex,
    section(name) {
      const index = sectionIndex(name);
      const header = sectionHeader(index);
      return { index, header, offset: Number(p.u64(header + 24)), size: Number(p.u64(header + 32)) };
    },
  };
}
