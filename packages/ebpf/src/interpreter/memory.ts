import { EbpfError } from '../errors.js';

/** Virtual address of the context memory region (what r1 points to at entry). */
export const INTERPRETER_CONTEXT_ADDRESS = 0x1_0000_0000n;

/** Virtual address of the lowest byte of the interpreter's stack region. */
export const INTERPRETER_STACK_ADDRESS = 0x7f00_0000_0000n;

/** Bytes of stack per frame (the kernel's `MAX_BPF_STACK`). */
export const STACK_FRAME_SIZE = 512;

/** Maximum call depth, counting the main program (the kernel's `MAX_CALL_FRAMES`). */
export const MAX_CALL_FRAMES = 8;

/** Top of the stack region: r10 of the main program. */
export const INTERPRETER_STACK_TOP = INTERPRETER_STACK_ADDRESS + BigInt(STACK_FRAME_SIZE * MAX_CALL_FRAMES);

/** Access sizes in bytes. */
export type AccessSize = 1 | 2 | 4 | 8;

/**
 * An interpreter error: code `RUNTIME`, with the slot `index` of the instruction that
 * stopped (an access outside every region, a step limit, a call too deep, an unknown helper).
 */
export class InterpreterError extends EbpfError {
  /** Slot index of the instruction that failed. */
  readonly index: number;
  constructor(index: number, message: string, options?: { cause?: unknown }) {
    super('RUNTIME', `instruction ${index}: ${message}`, options);
    this.index = index;
  }
}

/**
 * The interpreter's address space as seen by helpers: loads and stores by virtual
 * address, checked against the regions (context memory, the live stack frames).
 * Every method throws InterpreterError (RUNTIME) for an address outside the regions.
 */
export interface InterpreterMemory {
  /** Load `size` bytes (little endian) at `address`, zero-extended. */
  load(address: bigint, size: AccessSize): bigint;
  /** Store the low `size` bytes of `value` (little endian) at `address`. */
  store(address: bigint, size: AccessSize, value: bigint): void;
  /** Copy `length` bytes out of memory at `address`. */
  read(address: bigint, length: number): Uint8Array;
  /** Copy `bytes` into memory at `address`. */
  write(address: bigint, bytes: Uint8Array): void;
}

interface Region {
  readonly start: bigint;
  readonly end: bigint;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** The regions of one run: the context memory and the stack; `pc` names the current instruction in errors. */
export class AddressSpace implements InterpreterMemory {
  readonly context: Region | undefined;
  readonly stack: Region;
  /** Lowest address of the live stack (the bottom of the deepest active frame). */
  stackLow: bigint = INTERPRETER_STACK_TOP - BigInt(STACK_FRAME_SIZE);
  pc = 0;

  constructor(memory: Uint8Array | undefined) {
    if (memory !== undefined) {
      this.context = {
        start: INTERPRETER_CONTEXT_ADDRESS,
        end: INTERPRETER_CONTEXT_ADDRESS + BigInt(memory.length),
        bytes: memory,
        view: new DataView(memory.buffer, memory.byteOffset, memory.byteLength),
      };
    }
    const stack = new Uint8Array(STACK_FRAME_SIZE * MAX_CALL_FRAMES);
    this.stack = { start: INTERPRETER_STACK_ADDRESS, end: INTERPRETER_STACK_TOP, bytes: stack, view: new DataView(stack.buffer) };
  }

  /** The region and offset holding `[address, address + length)`, or an error. */
  private locate(address: bigint, length: number, what: string): { region: Region; at: number } {
    const end = address + BigInt(length);
    const c = this.context;
    if (c !== undefined && address >= c.start && end <= c.end) return { region: c, at: Number(address - c.start) };
    if (address >= this.stackLow && end <= this.stack.end) return { region: this.stack, at: Number(address - this.stack.start) };
    throw new InterpreterError(
      this.pc,
      `${what} of ${length} byte${length === 1 ? '' : 's'} at 0x${BigInt.asUintN(64, address).toString(16)} is outside the context memory and the stack`,
    );
  }

  load(address: bigint, size: AccessSize): bigint {
    const { region, at } = this.locate(address, size, 'load');
    const v = region.view;
    switch (size) {
      case 1:
        return BigInt(v.getUint8(at));
      case 2:
        return BigInt(v.getUint16(at, true));
      case 4:
        return BigInt(v.getUint32(at, true));
      default:
        return v.getBigUint64(at, true);
    }
  }

  store(address: bigint, size: AccessSize, value: bigint): void {
    const { region, at } = this.locate(address, size, 'store');
    const v = region.view;
    switch (size) {
      case 1:
        v.setUint8(at, Number(value & 0xffn));
        return;
      case 2:
        v.setUint16(at, Number(value & 0xffffn), true);
        return;
      case 4:
        v.setUint32(at, Number(value & 0xffff_ffffn), true);
        return;
      default:
        v.setBigUint64(at, BigInt.asUintN(64, value), true);
    }
  }

  read(address: bigint, length: number): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) throw new InterpreterError(this.pc, `read length ${length} is not a byte count`);
    const { region, at } = this.locate(address, length, 'read');
    return region.bytes.slice(at, at + length);
  }

  write(address: bigint, bytes: Uint8Array): void {
    const { region, at } = this.locate(address, bytes.length, 'write');
    region.bytes.set(bytes, at);
  }
}
