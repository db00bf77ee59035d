import { DisplacementRangeError, LabelError, X86Error } from './errors.js';
import { writeNops } from './nops.js';

/** A position in a {@link CodeBuffer}'s code, bound once with {@link CodeBuffer.bind}. Opaque. */
export interface Label {
  readonly __brand: 'Label';
}

/** A 64-bit absolute address: a bigint (any 64-bit pattern) or a safe integer read as signed. */
export type Address = bigint | number;

/** Where a branch goes: a label in the same buffer or an absolute address. */
export type Target = Label | Address;

/** A displacement field waiting for its label: the field at `at` holds `label - (at + size)`. */
export interface Fixup {
  readonly at: number;
  readonly kind: 'rel8' | 'rel32';
  readonly label: Label;
}

interface LabelState {
  readonly owner: CodeBuffer;
  offset: number;
  pending: Fixup[] | undefined;
}

const MAX_SAFE_ADDRESS = 2 ** 52;

/** Store a 32-bit value little endian at `at`. */
function put32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

/** Read an address as a signed 64-bit bigint. */
export function addressToBigInt(address: Address): bigint {
  return typeof address === 'bigint' ? BigInt.asIntN(64, address) : BigInt(address);
}

/**
 * An append-only x86-64 code emitter: a growable byte array with a write position whose
 * first byte will live at `base`, labels with rel8/rel32 fixups patched when the label is
 * bound, and P6-nop alignment. The instruction functions (`cmp`, `jcc`, ...) write into it.
 *
 * Mirrors the kernel JIT's image buffer (`u8 *prog` plus `emit_code`), with AsmJit-style
 * labels instead of the kernel's multi-pass size convergence.
 */
export class CodeBuffer {
  /** The address of the first byte, as an unsigned 64-bit value. */
  readonly base: bigint;
  private bytes: Uint8Array;
  private pos = 0;
  private unresolved = 0;
  private finished = false;
  /** base as a signed number when it is small enough for exact float arithmetic, else NaN. */
  private readonly baseNum: number;
  /** The low 12 bits of base, for alignment. */
  private readonly baseLow: number;

  /**
   * @param base the address the code will run at (default 0).
   * @param storage initial capacity in bytes, or a byte array to write into (reused, not
   *   copied, until the code outgrows it; then the buffer doubles into new storage).
   *   Reusing storage avoids an allocation per image: a fresh 1 KiB Uint8Array costs
   *   about as much as encoding the whole dispatcher.
   */
  constructor(base: Address = 0n, storage: number | Uint8Array = 256) {
    this.base = BigInt.asUintN(64, BigInt(base));
    const signed = BigInt.asIntN(64, this.base);
    this.baseNum = signed >= -MAX_SAFE_ADDRESS && signed <= MAX_SAFE_ADDRESS ? Number(signed) : Number.NaN;
    this.baseLow = Number(this.base & 0xfffn);
    this.bytes = typeof storage === 'number' ? new Uint8Array(Math.max(16, storage)) : storage;
  }

  /** Number of bytes emitted so far (the offset of the next byte). */
  get length(): number {
    return this.pos;
  }

  /** The address of the byte at `offset` (default: the next byte), unsigned 64-bit. */
  address(offset: number = this.pos): bigint {
    return BigInt.asUintN(64, this.base + BigInt(offset));
  }

  private ensure(n: number): void {
    if (this.finished) throw new X86Error('BUFFER_FINISHED', 'CodeBuffer: finish() was called; create a new buffer');
    const need = this.pos + n;
    if (need <= this.bytes.length) return;
    let size = Math.max(16, this.bytes.length * 2);
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
  }

  /** Append one byte. */
  u8(value: number): this {
    this.ensure(1);
    this.bytes[this.pos++] = value;
    return this;
  }

  /** Append two bytes (little endian, prefix/opcode pairs). */
  u8x2(a: number, b: number): this {
    this.ensure(2);
    this.bytes[this.pos++] = a;
    this.bytes[this.pos++] = b;
    return this;
  }

  /** Append a 16-bit value, little endian. */
  u16(value: number): this {
    this.ensure(2);
    const b = this.bytes;
    b[this.pos++] = value & 0xff;
    b[this.pos++] = (value >>> 8) & 0xff;
    return this;
  }

  /** Append a 32-bit value, little endian (signed or unsigned input). */
  u32(value: number): this {
    this.ensure(4);
    put32(this.bytes, this.pos, value);
    this.pos += 4;
    return this;
  }

  /** Append a 64-bit value, little endian. */
  u64(value: bigint): this {
    this.ensure(8);
    const v = BigInt.asUintN(64, value);
    put32(this.bytes, this.pos, Number(v & 0xffff_ffffn));
    put32(this.bytes, this.pos + 4, Number(v >> 32n));
    this.pos += 8;
    return this;
  }

  /** Append raw bytes. */
  raw(data: ArrayLike<number>): this {
    this.ensure(data.length);
    this.bytes.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** Overwrite a 32-bit field already emitted (used by fixups and by code that patches itself). */
  patch32(at: number, value: number): void {
    put32(this.bytes, at, value);
  }

  /** Overwrite an 8-bit field already emitted. */
  patch8(at: number, value: number): void {
    this.bytes[at] = value & 0xff;
  }

  /** Create a new, unbound label owned by this buffer. */
  newLabel(): Label {
    const state: LabelState = { owner: this, offset: -1, pending: undefined };
    return state as unknown as Label;
  }

  private state(label: Label): LabelState {
    const state = label as unknown as LabelState;
    if (state === null || typeof state !== 'object' || state.owner !== this) {
      throw new LabelError('UNKNOWN_LABEL', 'label does not belong to this CodeBuffer');
    }
    return state;
  }

  /**
   * Bind `label` to the current position and patch every branch already emitted to it.
   * @throws LabelError if the label is foreign or already bound.
   * @throws DisplacementRangeError if a short (rel8) branch cannot reach it.
   */
  bind(label: Label): this {
    const state = this.state(label);
    if (state.offset >= 0) throw new LabelError('LABEL_REBOUND', `label already bound at offset ${state.offset}`);
    state.offset = this.pos;
    const pending = state.pending;
    if (pending !== undefined) {
      for (const fixup of pending) this.resolve(fixup, state.offset);
      this.unresolved -= pending.length;
      state.pending = undefined;
    }
    return this;
  }

  /** The offset a label is bound to, or `undefined` while unbound. @throws LabelError if foreign. */
  labelOffset(label: Label): number | undefined {
    const { offset } = this.state(label);
    return offset >= 0 ? offset : undefined;
  }

  /** The address a label is bound to. @throws LabelError if foreign or unbound. */
  labelAddress(label: Label): bigint {
    const offset = this.labelOffset(label);
    if (offset === undefined) throw new LabelError('UNBOUND_LABEL', 'label is not bound yet');
    return this.address(offset);
  }

  private resolve(fixup: Fixup, target: number): void {
    const end = fixup.at + (fixup.kind === 'rel8' ? 1 : 4);
    const rel = target - end;
    if (fixup.kind === 'rel8') {
      if (rel < -128 || rel > 127) throw new DisplacementRangeError(BigInt(rel), 8, 'short branch to label');
      this.bytes[fixup.at] = rel & 0xff;
    } else {
      put32(this.bytes, fixup.at, rel);
    }
  }

  /**
   * Emit a displacement field (rel8 or rel32) that refers to `label`. It is the last field
   * of its instruction: the displacement counts from the end of the field.
   * @throws LabelError if the label is foreign.
   * @throws DisplacementRangeError if a bound label is out of reach of a rel8.
   */
  labelField(label: Label, kind: 'rel8' | 'rel32'): void {
    const state = this.state(label);
    const at = this.pos;
    if (kind === 'rel8') this.u8(0);
    else this.u32(0);
    const fixup: Fixup = { at, kind, label };
    if (state.offset >= 0) {
      this.resolve(fixup, state.offset);
    } else {
      if (state.pending === undefined) state.pending = [fixup];
      else state.pending.push(fixup);
      this.unresolved++;
    }
  }

  /**
   * The displacement from the end of an instruction ending at offset `end` to the absolute
   * address `target`, as a signed 64-bit value. No range check.
   */
  relTo(target: Address, end: number): number | bigint {
    if (!Number.isNaN(this.baseNum)) {
      const t = typeof target === 'number' ? target : Number(BigInt.asIntN(64, target));
      if (Number.isSafeInteger(t)) return t - (this.baseNum + end);
    }
    return BigInt.asIntN(64, addressToBigInt(target) - this.base - BigInt(end));
  }

  /**
   * The rel32 from the end of an instruction ending at `end` to `target`.
   * @throws DisplacementRangeError if it does not fit a signed 32-bit field.
   */
  rel32To(target: Address, end: number, what: string): number {
    const rel = this.relTo(target, end);
    if (rel < -0x8000_0000 || rel > 0x7fff_ffff) {
      throw new DisplacementRangeError(BigInt(rel), 32, what);
    }
    return Number(rel);
  }

  /**
   * Pad with P6 nops (greedy, at most 8 bytes each) until the address is a multiple of `n`.
   * Mirrors the kernel dispatcher's 16-byte alignment of jump targets.
   * @throws X86Error if `n` is not a power of two between 1 and 4096.
   */
  align(n: number): this {
    if (!Number.isInteger(n) || n < 1 || n > 4096 || (n & (n - 1)) !== 0) {
      throw new X86Error('INVALID_OPERAND', `align(${n}): alignment must be a power of two from 1 to 4096`);
    }
    const pad = (n - ((this.baseLow + this.pos) & (n - 1))) & (n - 1);
    return this.nops(pad);
  }

  /** Emit exactly `count` bytes of P6 nops (greedy, at most 8 bytes each). */
  nops(count: number): this {
    this.ensure(count);
    this.pos = writeNops(this.bytes, this.pos, count);
    return this;
  }

  /**
   * Finish the code: check every label used was bound and return the bytes (a view of the
   * buffer's storage, not a copy: the buffer accepts no more code afterwards).
   * @throws LabelError if a branch refers to a label that was never bound.
   */
  finish(): Uint8Array {
    if (this.unresolved > 0) {
      throw new LabelError('UNBOUND_LABEL', `${this.unresolved} branch(es) refer to labels that were never bound`);
    }
    this.finished = true;
    return this.bytes.subarray(0, this.pos);
  }
}
