import { type CodeBuffer, type Gp64, inc, mfence, mov, qword } from '@bpf-dispatcher/x86';
import { COUNTER_OFFSET, ONLINE_OFFSET } from './grace-period.js';
import type { Reader } from './types.js';

type ReaderAddresses = Pick<Reader, 'counterAddress'>;

/**
 * Emit the machine code by which a JIT'd loop reports a quiescent state for `reader`
 * (QSBR's `rcu_quiescent_state()`): `mov scratch, &counter; inc qword [scratch]`.
 * Place it where the loop holds no reference to code that may be replaced — between poll
 * batches. `scratch` is clobbered; flags are clobbered.
 */
export function emitQuiescentState(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void {
  mov(buf, scratch, reader.counterAddress);
  inc(buf, qword(scratch, COUNTER_OFFSET));
}

/**
 * Emit "this thread goes offline" (QSBR's `rcu_thread_offline()`): bump the counter, then
 * clear the online flag. `scratch` and flags are clobbered.
 */
export function emitReaderOffline(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void {
  mov(buf, scratch, reader.counterAddress);
  inc(buf, qword(scratch, COUNTER_OFFSET));
  mov(buf, qword(scratch, ONLINE_OFFSET), 0);
}

/**
 * Emit "this thread comes online" (QSBR's `rcu_thread_online()`): set the online flag,
 * then `mfence` so the flag is visible before the thread reaches any patched code.
 * `scratch` is clobbered.
 */
export function emitReaderOnline(buf: CodeBuffer, reader: ReaderAddresses, scratch: Gp64): void {
  mov(buf, scratch, reader.counterAddress);
  mov(buf, qword(scratch, ONLINE_OFFSET), 1);
  mfence(buf);
}
