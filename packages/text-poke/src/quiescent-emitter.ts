import { type CodeBuffer, type Gp64, inc, mfence, mov, qword } from '@bpf-dispatcher/x86';
import { TextPokeError } from './errors.js';
import { COUNTER_OFFSET, ONLINE_OFFSET } from './grace-period.js';
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

/**
 * Emit the machine code by which a JIT'd loop reports a quiescent state for `reader`
 * (QSBR's `rcu_quiescent_state()`): `mov scratch, &counter; inc qword [scratch]`.
 * Place it where the loop holds no reference to code that may be replaced — between poll
 * batches. `scratch` is clobbered; flags are clobbered.
 * @throws TextPokeError DISPOSED for a disposed reader.
 */
export function emitQuiescentState(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void {
  mov(buf, scratch, counterOf(reader, 'emitQuiescentState'));
  inc(buf, qword(scratch, COUNTER_OFFSET));
}

/**
 * Emit "this thread goes offline" (QSBR's `rcu_thread_offline()`): bump the counter, then
 * clear the online flag. `scratch` and flags are clobbered.
 * @throws TextPokeError DISPOSED for a disposed reader.
 */
export function emitReaderOffline(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void {
  mov(buf, scratch, counterOf(reader, 'emitReaderOffline'));
  inc(buf, qword(scratch, COUNTER_OFFSET));
  mov(buf, qword(scratch, ONLINE_OFFSET), 0);
}

/**
 * Emit "this thread comes online" (QSBR's `rcu_thread_online()`): set the online flag,
 * then `mfence` so the flag is visible before the thread reaches any patched code.
 * `scratch` is clobbered.
 * @throws TextPokeError DISPOSED for a disposed reader.
 */
export function emitReaderOnline(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void {
  mov(buf, scratch, counterOf(reader, 'emitReaderOnline'));
  mov(buf, qword(scratch, ONLINE_OFFSET), 1);
  mfence(buf);
}
