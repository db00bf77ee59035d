const MARKER = Symbol.for('@bpf-dispatcher/error');

/**
 * Base class of every error the bpf-dispatcher packages throw.
 *
 * Each error carries a machine-readable `code` (a string-literal union per package) and
 * structured fields on its subclasses. Use {@link BpfDispatcherError.isInstance} rather
 * than `instanceof`: it also recognises errors thrown by another copy of a package.
 */
export class BpfDispatcherError<Code extends string = string> extends Error {
  /** Machine-readable error code, e.g. `'EBUSY'` or `'DISPLACEMENT_RANGE'`. */
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True if `value` is an error from any copy of any bpf-dispatcher package. */
  static isInstance(value: unknown): value is BpfDispatcherError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  /** True if `value` is a bpf-dispatcher error with the given code. */
  static hasCode<C extends string>(value: unknown, code: C): value is BpfDispatcherError<C> {
    return BpfDispatcherError.isInstance(value) && value.code === code;
  }
}

/** Codes of the errors thrown by the encoder. */
export type X86ErrorCode =
  | 'DISPLACEMENT_RANGE'
  | 'IMMEDIATE_RANGE'
  | 'UNKNOWN_LABEL'
  | 'UNBOUND_LABEL'
  | 'LABEL_REBOUND'
  | 'INVALID_OPERAND'
  | 'BUFFER_FINISHED';

/** Base class of the encoder's errors. */
export class X86Error extends BpfDispatcherError<X86ErrorCode> {}

/**
 * A branch or displacement does not fit its field: a rel8 beyond -128..127, a rel32
 * beyond +-2 GiB, a memory displacement that is not a signed 32-bit value.
 * `distance` is the value that did not fit.
 */
export class DisplacementRangeError extends X86Error {
  constructor(
    readonly distance: bigint,
    readonly bits: 8 | 32,
    what: string,
  ) {
    super('DISPLACEMENT_RANGE', `${what}: distance ${distance} does not fit a signed ${bits}-bit displacement`);
  }
}

/** An immediate is not representable in the encoding asked for (e.g. not a sign-extended imm32). */
export class ImmediateRangeError extends X86Error {
  constructor(
    readonly value: bigint,
    readonly bits: 8 | 16 | 32 | 64,
    what: string,
  ) {
    super('IMMEDIATE_RANGE', `${what}: immediate ${value} (0x${BigInt.asUintN(64, value).toString(16)}) is not representable as a signed ${bits}-bit value`);
  }
}

/** A label from another buffer, a label bound twice, or a label still unbound at `finish()`. */
export class LabelError extends X86Error {}

/** An operand the instruction cannot take (wrong register size, unknown register, bad scale). */
export class OperandError extends X86Error {
  constructor(message: string) {
    super('INVALID_OPERAND', message);
  }
}
