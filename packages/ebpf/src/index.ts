/**
 * `@bpf-dispatcher/ebpf`: the eBPF instruction set (RFC 9669) for the bpf-dispatcher
 * runtime.
 */
export { EbpfError, type EbpfErrorCode } from './errors.js';
export {
  BPF_ALU_OP,
  BPF_ATOMIC,
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
