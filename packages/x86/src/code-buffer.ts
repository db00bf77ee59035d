import { type Address, assertAddress, isAddress, toAddress } from './address.js';
import { describeValue } from './describe.js';
import { DisplacementRangeError, LabelError, OperandError, X86Error } from './errors.js';
import { writeNops } from './nops.js';

/** A position in a {@link CodeBuffer}'s code, bound once with {@link CodeBuffer.bind}. Opaque. */
export interface Label {
  readonly __brand: 'Label';
}

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
/** Largest code a buffer holds (and largest initial capacity): 1 GiB. */
const MAX_CAPACITY = 2 ** 30;

function isIntIn(value: unknown, lo: number, hi: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi;
}

/** Store a 32-bit value little endian at `at`. */
function badField(what: string, value: unknown): OperandError {
  return new OperandError(`${what}: ${describeValue(value)} is not a value of the field's width`);
}

/** @throws DisplacementRangeError if a rel8 field at `at` cannot reach `target`. */
function checkReach(at: number, kind: 'rel8' | 'rel32', target: number): void {
  if (kind !== 'rel8') return;
  const rel = target - (at + 1);
  if (rel < -128 || rel > 127) throw new DisplacementRangeError(BigInt(rel), 8, 'short branch to label');
}

function put32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

/**
 * Check that `buf` is a {@link CodeBuffer} (every instruction function starts with it).
 * @throws OperandError otherwise.
 */
export function assertCodeBuffer(buf: unknown, what: string): asserts buf is CodeBuffer {
  if (!(buf instanceof CodeBuffer)) throw new OperandError(`${what}: expected a CodeBuffer, got ${describeValue(buf)}`);
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
   * @throws OperandError if `base` is not an {@link Address} or `storage` is neither a
   *   capacity (an integer 0..2^30) nor a Uint8Array.
   */
  constructor(base: Address = 0n, storage: number | Uint8Array = 256) {
    assertAddress(base, 'CodeBuffer base');
    if (!(storage instanceof Uint8Array) && !isIntIn(storage, 0, MAX_CAPACITY)) {
      throw new OperandError(`CodeBuffer: storage must be a capacity in bytes (0..${MAX_CAPACITY}) or a Uint8Array, got ${describeValue(storage)}`);
    }
    this.base = toAddress(base);
    const signed = BigInt.asIntN(64, this.base);
    this.baseNum = signed >= -MAX_SAFE_ADDRESS && signed <= MAX_SAFE_ADDRESS ? Number(signed) : Number.NaN;
    this.baseLow = Number(this.base & 0xfffn);
    this.bytes = typeof storage === 'number' ? new Uint8Array(Math.max(16, storage)) : storage;
  }

  /** Number of bytes emitted so far (the offset of the next byte). */
  get length(): number {
    return this.pos;
  }

  /**
   * The address of the byte at `offset` (default: the next byte), unsigned 64-bit.
   * @throws OperandError if `offset` is not a safe integer.
   */
  address(offset: number = this.pos): bigint {
    if (!Number.isSafeInteger(offset)) throw new OperandError(`address: offset ${describeValue(offset)} is not an integer`);
    return BigInt.asUintN(64, this.base + BigInt(offset));
  }

  /** True once {@link finish} was called (the buffer accepts no more code). */
  get isFinished(): boolean {
    return this.finished;
  }

  /** @throws X86Error BUFFER_FINISHED after {@link finish}. */
  private checkOpen(): void {
    if (this.finished) throw new X86Error('BUFFER_FINISHED', 'CodeBuffer: finish() was called; create a new buffer');
  }

  private ensure(n: number): void {
    this.checkOpen();
    const need = this.pos + n;
    if (need > MAX_CAPACITY) throw new X86Error('INVALID_OPERAND', `CodeBuffer: code would exceed ${MAX_CAPACITY} bytes`);
    if (need <= this.bytes.length) return;
    let size = Math.max(16, this.bytes.length * 2);
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
  }

  /** Append one byte (0..255, or -128..-1 as its two's complement). @throws OperandError otherwise. */
  u8(value: number): this {
    if (!isIntIn(value, -0x80, 0xff)) throw badField('u8', value);
    this.ensure(1);
    this.bytes[this.pos++] = value;
    return this;
  }

  /** Append two bytes (prefix/opcode pairs), each as {@link u8} takes it. @throws OperandError otherwise. */
  u8x2(a: number, b: number): this {
    if (!isIntIn(a, -0x80, 0xff)) throw badField('u8x2', a);
    if (!isIntIn(b, -0x80, 0xff)) throw badField('u8x2', b);
    this.ensure(2);
    this.bytes[this.pos++] = a;
    this.bytes[this.pos++] = b;
    return this;
  }

  /** Append a 16-bit value (signed or unsigned), little endian. @throws OperandError otherwise. */
  u16(value: number): this {
    if (!isIntIn(value, -0x8000, 0xffff)) throw badField('u16', value);
    this.ensure(2);
    const b = this.bytes;
    b[this.pos++] = value & 0xff;
    b[this.pos++] = (value >>> 8) & 0xff;
    return this;
  }

  /** Append a 32-bit value, little endian (signed or unsigned input). @throws OperandError otherwise. */
  u32(value: number): this {
    if (!isIntIn(value, -0x8000_0000, 0xffff_ffff)) throw badField('u32', value);
    this.ensure(4);
    put32(this.bytes, this.pos, value);
    this.pos += 4;
    return this;
  }

  /**
   * Append a 64-bit value (a signed or unsigned 64-bit bigint, or a safe integer), little endian.
   * @throws OperandError otherwise.
   */
  u64(value: bigint | number): this {
    if (!isAddress(value)) throw badField('u64', value);
    this.ensure(8);
    const v = BigInt.asUintN(64, BigInt(value));
    put32(this.bytes, this.pos, Number(v & 0xffff_ffffn));
    put32(this.bytes, this.pos + 4, Number(v >> 32n));
    this.pos += 8;
    return this;
  }

  /**
   * Append raw bytes: a Uint8Array, or an array (or typed array) of integers 0..255.
   * @throws OperandError for anything else; nothing is written.
   */
  raw(data: ArrayLike<number>): this {
    if (!(data instanceof Uint8Array)) {
      if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) {
        throw new OperandError(`raw: expected a Uint8Array or an array of bytes, got ${describeValue(data)}`);
      }
      const list = data as ArrayLike<unknown>;
      for (let i = 0; i < list.length; i++) {
        if (!isIntIn(list[i], 0, 0xff)) throw new OperandError(`raw: element ${i} (${describeValue(list[i])}) is not a byte 0..255`);
      }
    }
    this.ensure(data.length);
    this.bytes.set(data, this.pos);
    this.pos += data.length;
    return this;
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
   * Everything is checked first: when it throws, the label stays unbound and no byte changes.
   * @throws LabelError if the label is foreign or already bound.
   * @throws DisplacementRangeError if a short (rel8) branch cannot reach it.
   */
  bind(label: Label): this {
    const state = this.state(label);
    if (state.offset >= 0) throw new LabelError('LABEL_REBOUND', `label already bound at offset ${state.offset}`);
    const target = this.pos;
    const pending = state.pending;
    if (pending !== undefined) {
      for (const fixup of pending) checkReach(fixup.at, fixup.kind, target);
      for (const fixup of pending) this.resolve(fixup, target);
      this.unresolved -= pending.length;
      state.pending = undefined;
    }
    state.offset = target;
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

  /** Patch a fixup whose reach was checked ({@link checkReach}). */
  private resolve(fixup: Fixup, target: number): void {
    const rel = target - (fixup.at + (fixup.kind === 'rel8' ? 1 : 4));
    if (fixup.kind === 'rel8') this.bytes[fixup.at] = rel & 0xff;
    else put32(this.bytes, fixup.at, rel);
  }

  /**
   * Check, without writing anything, that a displacement field of `kind` at offset `at`
   * (default: the next byte) may refer to `label`: the label belongs to this buffer, the
   * buffer is not finished, and if the label is bound, it is within reach. Instruction
   * functions call it before their first byte, so that a failed branch leaves no bytes.
   * @throws LabelError if the label is foreign; OperandError for a bad `kind` or `at`.
   * @throws DisplacementRangeError if a bound label is out of reach of a rel8.
   */
  checkLabelField(label: Label, kind: 'rel8' | 'rel32', at: number = this.pos): void {
    if (kind !== 'rel8' && kind !== 'rel32') throw new OperandError(`labelField: kind must be 'rel8' or 'rel32', got ${describeValue(kind)}`);
    if (!isIntIn(at, this.pos, MAX_CAPACITY)) throw new OperandError(`labelField: offset ${describeValue(at)} is before the end of the code`);
    const state = this.state(label);
    this.checkOpen();
    if (state.offset >= 0) checkReach(at, kind, state.offset);
  }

  /**
   * Emit a displacement field (rel8 or rel32) that refers to `label`. It is the last field
   * of its instruction: the displacement counts from the end of the field.
   * @throws LabelError if the label is foreign.
   * @throws DisplacementRangeError if a bound label is out of reach of a rel8.
   */
  labelField(label: Label, kind: 'rel8' | 'rel32'): void {
    this.checkLabelField(label, kind);
    this.writeLabelField(label, kind);
  }

  /**
   * {@link labelField} after {@link checkLabelField} passed for this position.
   * @internal
   */
  writeLabelField(label: Label, kind: 'rel8' | 'rel32'): void {
    const state = label as unknown as LabelState;
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
   * @throws OperandError if `target` is not an {@link Address} or `end` not an integer.
   */
  relTo(target: Address, end: number): number | bigint {
    assertAddress(target, 'branch target');
    if (!Number.isSafeInteger(end)) throw new OperandError(`relTo: end ${describeValue(end)} is not an integer offset`);
    return this.relToChecked(target, end);
  }

  /**
   * {@link relTo} for a target already checked with {@link isAddress} and an integer `end`.
   * @internal
   */
  relToChecked(target: Address, end: number): number | bigint {
    if (!Number.isNaN(this.baseNum)) {
      const t = typeof target === 'number' ? target : Number(BigInt.asIntN(64, target));
      if (Number.isSafeInteger(t)) return t - (this.baseNum + end);
    }
    return BigInt.asIntN(64, toAddress(target) - this.base - BigInt(end));
  }

  /**
   * The rel32 from the end of an instruction ending at `end` to `target`.
   * @throws DisplacementRangeError if it does not fit a signed 32-bit field.
   * @throws OperandError if `target` is not an {@link Address}.
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

  /**
   * Emit exactly `count` bytes of P6 nops (greedy, at most 8 bytes each).
   * @throws OperandError if `count` is not an integer 0..2^30.
   */
  nops(count: number): this {
    if (!isIntIn(count, 0, MAX_CAPACITY)) throw new OperandError(`nops: count ${describeValue(count)} is not a byte count`);
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
