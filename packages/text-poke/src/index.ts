/**
 * `@bpf-dispatcher/text-poke`: where JIT'd code lives and how it changes while it runs.
 *
 * A {@link TextArena} allocates text and data, pokes 5-byte call/jmp/nop sites with the
 * kernel's `bpf_arch_text_poke` semantics, runs grace periods (userspace RCU, QSBR) and
 * calls code. Two implementations share one contract: {@link SimulatedArena} (bytes and a
 * small x86-64 interpreter, anywhere) and {@link NativeArena} (real memory on x86-64 Linux).
 */
export { TextPokeError, PokeMismatchError, SyncTimeoutError, type TextPokeErrorCode } from './errors.js';
export type { AllocOptions, ArenaUsage, MemoryUsage, PokeResult, PokeType, Reader, ReaderTableInfo, Region, SyncOptions, SyncResult, TextArena, Word } from './types.js';
export { POKE_SIZE, pokeInstruction } from './poke-insn.js';
export { type GracePeriodCookie, MAX_READERS, READER_SLOT_SIZE } from './grace-period.js';
export { emitQuiescentState } from './quiescent-emitter.js';
export { HALT_ADDRESS, SimThread, SimulatedArena, type RunOptions, type RunResult, type SimulatedArenaOptions } from './simulated/simulated-arena.js';
export type { ExternalFunction, Registers } from './simulated/cpu.js';
export { NativeArena, type NativeArenaOptions } from './native/native-arena.js';
export { callNative } from './native/native-call.js';
export { nativeSupported } from './native/libc.js';
export { createArena, type ArenaKind } from './create-arena.js';
export { emitText } from './emit-text.js';
export { assertLiveArena, isTextArena, optionsObject, type CheckError } from './arena-check.js';
export { RegionMemory } from './region-memory.js';
export {
  type FieldInput,
  type FieldSpec,
  type FieldSpecs,
  type FieldType,
  type FieldValue,
  type StructDef,
  type StructField,
  type StructOptions,
  type StructView,
  UnknownFieldError,
  defineStruct,
} from './struct.js';
