import { type CodeBuffer, GP64, type Gp64, inc, mfence, mov, qword } from '@bpf-dispatcher/x86';
import { TextPokeError } from './errors.js';
import { COUNTER_OFFSET } from './grace-period.js';
import type { Reader } from './types.js';

/** A reader, or just its counter address (a `disposed` reader is refused). */
type ReaderAddresses = Pick<Reader, 'counterAddress'> & { readonly disposed?: boolean };

/** The reader's counter address. @throws TextPokeError DISPOSED for a disposed reader; EINVAL for a non-address. */
function counterOf(reader: ReaderAddresses, what: string): bigint {
  if (typeof reader !== 'object' || reader === null || typeof reader.counterAddress !== 'bigint') {
    throw new TextPokeError('EINVAL', `${what}: reader must be a Reader (or have a bigint counterAddress)`);
  }
  if (reader.disposed === true) throw new TextPokeError('DISPOSED', `${what}: the reader was unregistered or its arena disposed; its addresses must not reach code`);
  return reader.counterAddress;
}

/** @throws TextPokeError EINVAL unless `reg` is a 64-bit general-purpose register. */
function gp64(reg: unknown, what: string): Gp64 {
  if (typeof reg !== 'string' || !(GP64 as readonly string[]).includes(reg)) {
    throw new TextPokeError('EINVAL', `${what}: ${typeof reg === 'string' ? reg : typeof reg} is not a 64-bit register`);
  }
  return reg as Gp64;
}

/**
 * Emit the machine code by which a JIT'd loop reports a quiescent state (QSBR's
 * `rcu_quiescent_state()`): `inc qword [counterReg]; mfence`, where `counterReg` holds the
 * reader's `counterAddress` (e.g. the `reader_counter` argument of a poll loop). Place it
 * where the loop holds no reference to code or data that may be replaced — between poll
 * batches. The fence keeps the loads that follow (new references) from being performed
 * before the increment is visible, as liburcu's `cmm_smp_mb()` does: a reclaimer that sees
 * the new count can rely on them seeing its unlinks. Flags are clobbered.
 *
 * The second form, `(buf, reader, scratch)`, first loads the reader's counter address into
 * `scratch` (`mov scratch, &counter`), then emits the same increment; it refuses a reader
 * that was unregistered or whose arena was disposed.
 * @throws TextPokeError EINVAL for a register that is not 64-bit or a malformed reader;
 *   DISPOSED for a disposed reader.
 */
export function emitQuiescentState(buf: CodeBuffer, counterReg: Gp64): void;
export function emitQuiescentState(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void;
export function emitQuiescentState(buf: CodeBuffer, regOrReader: Gp64 | ReaderAddresses, scratch?: Gp64): void {
  if (typeof regOrReader === 'string') {
    inc(buf, qword(gp64(regOrReader, 'emitQuiescentState'), COUNTER_OFFSET));
    mfence(buf);
    return;
  }
  const counter = counterOf(regOrReader, 'emitQuiescentState');
  const reg = gp64(scratch, 'emitQuiescentState');
  mov(buf, reg, counter);
  inc(buf, qword(reg, COUNTER_OFFSET));
  mfence(buf);
}
