/**
 * `@bpf-dispatcher/ebpf`: the eBPF instruction set (RFC 9669) for the bpf-dispatcher
 * runtime.
 */
export { EbpfError, type EbpfErrorCode } from './errors.js';
export {
  BPF_ALU_OP,
  BPF_ATOMIC,
  BPF_ATOMIC_OPS,
  BPF_CLASS,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_LDDW,
  BPF_SIZE,
  BPF_SRC,
  INSN_SIZE,
  LDDW_OPCODE,
  decodeProgram,
  encodeProgram,
  insn,
  insnClass,
  type Insn,
} from './insn.js';
export type {
  AluOp,
  AluOperation,
  AtomicOp,
  AtomicOperation,
  CallOp,
  EndianOp,
  ExitOp,
  GotolOp,
  JaOp,
  JmpCondition,
  JmpOp,
  LdAbsOp,
  LdIndOp,
  LddwOp,
  LdxOp,
  MemSize,
  MovsxOp,
  NegOp,
  Op,
  Source,
  StOp,
  StxOp,
  Width,
} from './program.js';
export { opSlots } from './program.js';
export { InsnDecodeError, decodeOp, encodeOp, fromInsns, toInsns } from './program-codec.js';
export { AssembleError, assemble, rawInsn } from './asm/assemble.js';
export { type DisassembleOptions, disassemble, formatOp } from './asm/disassemble.js';
export { type BpfTemplateValue, type BuilderLabel, ProgramBuilder, bpf } from './builder.js';
export { DEFAULT_MAX_STEPS, type InterpretOptions, type InterpretResult, type InterpreterHelper, interpret } from './interpreter.js';
export {
  INTERPRETER_CONTEXT_ADDRESS,
  INTERPRETER_STACK_ADDRESS,
  INTERPRETER_STACK_TOP,
  InterpreterError,
  type AccessSize,
  type InterpreterMemory,
} from './interpreter/memory.js';
export { aluOp, byteSwap, endianOp, jmpCond, movsxOp, negOp } from './interpreter/alu.js';
export {
  JitError,
  MAX_BPF_STACK,
  MAX_CALL_FRAMES,
  MAX_INSNS,
  type HelperTable,
  type JitContextLayout,
  type JitMapInfo,
  type JitOptions,
  type JitProgram,
  type VerifiedProgramLike,
  isJitProgram,
  jit,
} from './jit/index.js';
export { type TestRunOptions, type TestRunResult, testRun } from './test-run.js';
export { GuardedMemory, type GuardedMemoryOptions, type GuardedPlacement, guardedMemorySupported } from './guarded-memory.js';
export { DEFAULT_MAX_INSNS, DEFAULT_MAX_STATES, isVerifiedProgram, verify } from './verifier/verify.js';
export {
  VerifierError,
  type CtxFieldLoad,
  type MapDescriptor,
  type MemoryProgramType,
  type ProgramType,
  type Subprogram,
  type VerifiedProgram,
  type VerifyOptions,
  type XdpMdField,
  type XdpProgramType,
} from './verifier/types.js';
export { DEFAULT_HELPERS, type HelperArgKind, type HelperRetKind, type HelperSpec, helperName } from './verifier/helpers.js';
export {
  BPF_MAP_TYPE,
  BPF_PROG_TYPE,
  KernelError,
  KernelFd,
  KernelMap,
  KernelProg,
  KernelRunner,
  kernelBpfAvailable,
  kernelJitSize,
  kernelMapCreate,
  kernelProgInfo,
  kernelProgLoad,
  kernelRun64,
  kernelTestRun,
  possibleCpuCount,
  type KernelBpfAvailability,
  type KernelJitSize,
  type KernelMapOptions,
  type KernelMapType,
  type KernelMemoryMode,
  type KernelProgInfo,
  type KernelProgLoadOptions,
  type KernelProgType,
  type KernelRunOptions,
  type KernelRunResult,
  type KernelTestRunOptions,
  type KernelTestRunResult,
} from './kernel/index.js';
export {
  BPF_ATTACH_TYPE,
  KernelLink,
  type KernelLinkInfo,
  type KernelLinkOptions,
  XDP_FLAGS,
  kernelLinkCreate,
} from './kernel/index.js';
