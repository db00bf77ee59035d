/**
 * `@bpf-dispatcher/dispatcher`: the BPF dispatcher in user space. {@link emitDispatcher}
 * generates the binary-search image of `cmp rdx, imm32` / `je prog` direct jumps;
 * {@link Dispatcher} keeps the refcounted slots and installs double-buffered images by
 * poking a {@link createTrampoline trampoline}'s entry. Beyond the kernel, the `profile`
 * layout ({@link emitProfileDispatcher}, `Dispatcher.setWeights`) orders the image by
 * measured call frequencies.
 */
export { DispatcherError, ImageTooLargeError, NotSimm32Error, type DispatcherErrorCode } from './errors.js';
export {
  type EmitDispatcherOptions,
  type Fallback,
  type FallbackJump,
  HALF_SIZE,
  IMAGE_SIZE,
  dispatcherImageSize,
  emitDispatcher,
  generateImage,
  MAX_IMAGE_PROGS,
  maxProgsForHalf,
} from './emit-dispatcher.js';
export {
  type DispatcherLayout,
  MAX_PROFILE_PROGS,
  PROFILE_COST_MODEL,
  type ProfileDispatcherOptions,
  type ProfileNode,
  type ProfilePlan,
  type ProfileReason,
  type ProfileWeights,
  emitProfileDispatcher,
  expectedInstructions,
  generateProfileImage,
  planProfileDispatcher,
} from './emit-profile.js';
export { type Trampoline, type TrampolineOptions, createRetpolineThunk, createTrampoline, isTrampoline } from './trampoline.js';
export type { Slot } from './slots.js';
export { Mutex } from './mutex.js';
export {
  type ChangeOutcome,
  DEFAULT_MAX_PROGS,
  Dispatcher,
  type DispatcherOptions,
  type DispatcherStats,
  type WeightsOutcome,
} from './dispatcher.js';
