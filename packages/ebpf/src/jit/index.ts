export { MAX_CALL_FRAMES, MAX_INSNS } from './analyze.js';
export { JitError } from './errors.js';
export { MAX_BPF_STACK } from './frame.js';
export { type HelperTable, type JitContextLayout, type JitOptions, type JitProgram, isJitProgram, jit, type VerifiedProgramLike } from './jit.js';
export type { JitMapInfo } from './context.js';
export { BPF_TO_X86 } from './registers.js';
