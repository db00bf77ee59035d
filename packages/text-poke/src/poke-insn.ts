import { type Address, CodeBuffer, DisplacementRangeError, NOP5, call, jmp } from '@bpf-dispatcher/x86';
import { TextPokeError } from './errors.js';

const isAddress = (a: unknown): a is Address => typeof a === 'bigint' || (typeof a === 'number' && Number.isSafeInteger(a));
import type { PokeType } from './types.js';

/** Length of every poke site: a 5-byte nop, `call rel32` or `jmp rel32`. */
export const POKE_SIZE = 5;

/**
 * The five bytes a poke site holds for `type`/`target` at `ip` (the kernel's
 * `emit_call`/`emit_jump` into a poke buffer); `null` target is the 5-byte nop.
 * @throws TextPokeError ERANGE if the target is beyond rel32 reach of `ip + 5`; EINVAL for a
 *   bad type, site or target.
 */
export function pokeInstruction(ip: Address, type: PokeType, target: Address | null): Uint8Array {
  if (type !== 'call' && type !== 'jump') throw new TextPokeError('EINVAL', `text poke: type must be 'call' or 'jump', got ${String(type)}`);
  if (!isAddress(ip)) throw new TextPokeError('EINVAL', `text poke: site ${String(ip)} is not an address`);
  if (target !== null && !isAddress(target)) throw new TextPokeError('EINVAL', `text poke: target ${String(target)} is not an address (or null)`);
  if (target === null) return Uint8Array.from(NOP5);
  const buf = new CodeBuffer(ip, POKE_SIZE);
  try {
    if (type === 'call') call(buf, target);
    else jmp(buf, target);
  } catch (error) {
    if (error instanceof DisplacementRangeError) {
      throw new TextPokeError('ERANGE', `text poke at 0x${BigInt.asUintN(64, BigInt(ip)).toString(16)}: target out of rel32 reach (${error.message}) (ERANGE)`, {
        cause: error,
      });
    }
    throw new TextPokeError('EINVAL', `text poke: bad target ${String(target)}`, { cause: error });
  }
  return buf.finish();
}
