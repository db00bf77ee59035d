import type { Address } from '@bpf-dispatcher/x86';
import { toAddress, toWord } from '../base-arena.js';
import { TextPokeError } from '../errors.js';
import type { Word } from '../types.js';
import { libc } from './libc.js';

let proto: unknown;

/**
 * Call native code at `address` with up to six 64-bit integer arguments (System V
 * rdi, rsi, rdx, rcx, r8, r9) and return rax as an unsigned 64-bit bigint.
 *
 * Usable from any thread, worker_threads included: pass the address across (this binds
 * libc on the calling thread first, which koffi needs before a call through a bare
 * address). Nothing
 * checks that the address holds code — a wrong address crashes the process; prefer
 * `NativeArena.call`, which checks that it lies in the arena's text.
 * @throws TextPokeError UNSUPPORTED_PLATFORM off x86-64 Linux; EINVAL for more than six
 *   arguments, one that is not a Word, or an address that is not an integer.
 */
export function callNative(address: Address, ...args: Word[]): bigint {
  if (args.length > 6) throw new TextPokeError('EINVAL', 'callNative: at most 6 arguments');
  const a = [0n, 0n, 0n, 0n, 0n, 0n];
  args.forEach((value, i) => {
    a[i] = toWord(value, `callNative argument ${i + 1}`);
  });
  const at = toAddress(address, 'callNative');
  const c = libc();
  proto ??= c.koffi.proto('uint64_t bpf_dispatcher_native_fn(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)');
  const result = c.koffi.call(at, proto, a[0], a[1], a[2], a[3], a[4], a[5]) as bigint | number;
  return BigInt.asUintN(64, BigInt(result));
}
