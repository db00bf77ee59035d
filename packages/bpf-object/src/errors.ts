import { BpfDispatcherError } from '@bpf-dispatcher/x86';

/**
 * Codes of the errors thrown while opening, loading or using a BPF object.
 *
 * - `EINVAL`: a bad argument from the caller (not a defect of the object).
 * - `NOT_ELF`: the bytes are not an ELF file at all (no `\x7fELF` magic).
 * - `NOT_BPF`: an ELF file, but not a 64-bit little-endian relocatable BPF object (`EM_BPF`).
 * - `MALFORMED`: a BPF object whose structure is broken or hostile: truncated, offsets or
 *   sizes outside the file, overlapping sections, counts beyond what the file can hold,
 *   bad string or symbol indexes, broken BTF (carries the file `offset` where known).
 * - `UNSUPPORTED`: a well-formed feature this runtime does not provide (CO-RE relocations,
 *   kfuncs, extern variables, a program or map type it does not run); names the symbol and
 *   section.
 * - `VERIFY`: the verifier refused a program at load (the `cause` is the VerifierError, with
 *   the instruction index and the reason).
 * - `ENOENT`: no program or map of that name.
 * - `STATE`: the operation does not fit the object's state (e.g. resizing a map after load,
 *   using an object after close).
 */
export type BpfObjectErrorCode = 'EINVAL' | 'NOT_ELF' | 'NOT_BPF' | 'MALFORMED' | 'UNSUPPORTED' | 'VERIFY' | 'ENOENT' | 'STATE';

/** Where in the object an error was found. */
export interface BpfObjectErrorWhere {
  /** Byte offset in the file. */
  readonly offset?: number;
  /** Name of the ELF section concerned. */
  readonly section?: string;
  /** Name of the symbol concerned. */
  readonly symbol?: string;
}

/** Base class of the BPF object loader's errors; `code` says which, `offset`/`section`/`symbol` say where. */
export class BpfObjectError extends BpfDispatcherError<BpfObjectErrorCode> {
  readonly offset: number | undefined;
  readonly section: string | undefined;
  readonly symbol: string | undefined;

  constructor(code: BpfObjectErrorCode, message: string, where: BpfObjectErrorWhere = {}, options?: { cause?: unknown }) {
    super(code, message, options);
    this.offset = where.offset;
    this.section = where.section;
    this.symbol = where.symbol;
  }
}
