/**
 * Opcode and reserved-field checks: the first pass over the program. Every opcode of
 * RFC 9669 is accepted with the field values the RFC gives it; everything else is
 * refused, in the kernel verifier's words ("unknown opcode", "BPF_ALU uses reserved
 * fields", ...). Run on every slot, reachable or not.
 */
import { BPF_ALU_OP, BPF_ATOMIC_OPS, BPF_CLASS, BPF_JMP_OP, BPF_MODE, BPF_PSEUDO_CALL, BPF_SIZE, type Insn } from '../insn.js';
import { reject } from './types.js';

const { LD, LDX, ST, ALU, JMP, JMP32, ALU64 } = BPF_CLASS;

function hex2(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

/** True for the first slot of a 64-bit immediate load (`lddw`). */
export function isLddw(insn: Insn): boolean {
  return insn.code === (LD | BPF_SIZE.DW | BPF_MODE.IMM);
}

function checkReg(i: number, reg: number): void {
  if (reg > 10) reject(i, `R${reg} is invalid`);
}

/**
 * Check the opcode and fields of slot `i`. Returns how many slots the instruction takes
 * (2 for `lddw`, else 1).
 * @throws VerifierError for an unknown opcode or a reserved field that is not zero.
 */
export function checkInsnEncoding(insns: readonly Insn[], i: number): 1 | 2 {
  const insn = insns[i] as Insn;
  const { code, dst, src, off, imm } = insn;
  const cls = code & 0x07;
  switch (cls) {
    case ALU:
    case ALU64:
      checkAlu(i, insn, cls === ALU64);
      break;
    case JMP:
    case JMP32:
      checkJmp(i, insn, cls === JMP);
      break;
    case LD: {
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode === BPF_MODE.IMM) {
        if (size !== BPF_SIZE.DW) reject(i, 'invalid BPF_LD_IMM insn');
        const next = insns[i + 1];
        if (next === undefined || next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
          reject(i, 'invalid BPF_LD_IMM insn');
        }
        if (off !== 0) reject(i, 'BPF_LD_IMM64 uses reserved fields');
        checkReg(i, dst);
        if (src > 6) reject(i, 'unrecognized bpf_ld_imm64 insn');
        return 2;
      }
      if ((mode === BPF_MODE.ABS || mode === BPF_MODE.IND) && size !== BPF_SIZE.DW) {
        // Legacy packet access (RFC 9669 "legacy" group): valid encodings, refused later
        // by program type, as the kernel does outside socket filters.
        if (dst !== 0 || off !== 0 || (mode === BPF_MODE.ABS && src !== 0)) reject(i, 'BPF_LD_[ABS|IND] uses reserved fields');
        checkReg(i, src);
        break;
      }
      reject(i, `unknown opcode ${hex2(code)}`);
      break;
    }
    case LDX: {
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (!(mode === BPF_MODE.MEM || (mode === BPF_MODE.MEMSX && size !== BPF_SIZE.DW))) reject(i, `unknown opcode ${hex2(code)}`);
      if (imm !== 0) reject(i, 'BPF_LDX uses reserved fields');
      checkReg(i, dst);
      checkReg(i, src);
      break;
    }
    case ST: {
      if ((code & 0xe0) !== BPF_MODE.MEM) reject(i, `unknown opcode ${hex2(code)}`);
      if (src !== 0) reject(i, 'BPF_ST uses reserved fields');
      checkReg(i, dst);
      break;
    }
    default: {
      // STX
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode === BPF_MODE.MEM) {
        if (imm !== 0) reject(i, 'BPF_STX uses reserved fields');
      } else if (mode === BPF_MODE.ATOMIC && (size === BPF_SIZE.W || size === BPF_SIZE.DW)) {
        if (!BPF_ATOMIC_OPS.has(imm)) reject(i, `BPF_ATOMIC uses invalid atomic opcode ${hex2(imm & 0xff)}`);
      } else {
        reject(i, `unknown opcode ${hex2(code)}`);
      }
      checkReg(i, dst);
      checkReg(i, src);
    }
  }
  return 1;
}

function checkAlu(i: number, insn: Insn, is64: boolean): void {
  const { code, dst, src, off, imm } = insn;
  const op = code & 0xf0;
  const x = (code & 0x08) !== 0;
  const name = is64 ? 'BPF_ALU64' : 'BPF_ALU';
  switch (op) {
    case BPF_ALU_OP.NEG:
      if (x) reject(i, `unknown opcode ${hex2(code)}`);
      if (src !== 0 || off !== 0 || imm !== 0) reject(i, 'BPF_NEG uses reserved fields');
      break;
    case BPF_ALU_OP.END:
      // ALU: to-le (src bit 0) / to-be (src bit 1). ALU64: bswap, src bit must be 0.
      if (is64 && x) reject(i, `unknown opcode ${hex2(code)}`);
      if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)) reject(i, 'BPF_END uses reserved fields');
      break;
    case BPF_ALU_OP.MOV:
      if (x) {
        const okOff = off === 0 || off === 8 || off === 16 || (is64 && off === 32);
        if (imm !== 0 || !okOff) reject(i, 'BPF_MOV uses reserved fields');
      } else if (src !== 0 || off !== 0) {
        reject(i, 'BPF_MOV uses reserved fields');
      }
      break;
    case BPF_ALU_OP.DIV:
    case BPF_ALU_OP.MOD:
      if ((off !== 0 && off !== 1) || (x ? imm !== 0 : src !== 0)) reject(i, `${name} uses reserved fields`);
      if (!x && imm === 0) reject(i, 'div by zero');
      break;
    case BPF_ALU_OP.ADD:
    case BPF_ALU_OP.SUB:
    case BPF_ALU_OP.MUL:
    case BPF_ALU_OP.OR:
    case BPF_ALU_OP.AND:
    case BPF_ALU_OP.LSH:
    case BPF_ALU_OP.RSH:
    case BPF_ALU_OP.XOR:
    case BPF_ALU_OP.ARSH:
      if (off !== 0 || (x ? imm !== 0 : src !== 0)) reject(i, `${name} uses reserved fields`);
      break;
    default:
      reject(i, `unknown opcode ${hex2(code)}`);
  }
  checkReg(i, dst);
  checkReg(i, src);
}

function checkJmp(i: number, insn: Insn, is64: boolean): void {
  const { code, dst, src, off, imm } = insn;
  const op = code & 0xf0;
  const x = (code & 0x08) !== 0;
  switch (op) {
    case BPF_JMP_OP.JA:
      if (x) reject(i, `unknown opcode ${hex2(code)}`);
      // JMP: target in off. JMP32 (gotol): target in imm.
      if (dst !== 0 || src !== 0 || (is64 ? imm !== 0 : off !== 0)) reject(i, 'BPF_JA uses reserved fields');
      return;
    case BPF_JMP_OP.CALL:
      if (!is64) reject(i, `unknown opcode ${hex2(code)}`);
      if (x) reject(i, 'callx (call through a register) is not supported: RFC 9669 has no such call, and the kernel refuses it');
      if (dst !== 0 || off !== 0 || src > BPF_PSEUDO_CALL.KFUNC) reject(i, 'BPF_CALL uses reserved fields');
      if (src === BPF_PSEUDO_CALL.KFUNC) reject(i, 'calling kernel functions (kfuncs) is not supported');
      return;
    case BPF_JMP_OP.EXIT:
      if (!is64 || x) reject(i, `unknown opcode ${hex2(code)}`);
      if (dst !== 0 || src !== 0 || off !== 0 || imm !== 0) reject(i, 'BPF_EXIT uses reserved fields');
      return;
    case BPF_JMP_OP.JEQ:
    case BPF_JMP_OP.JGT:
    case BPF_JMP_OP.JGE:
    case BPF_JMP_OP.JSET:
    case BPF_JMP_OP.JNE:
    case BPF_JMP_OP.JSGT:
    case BPF_JMP_OP.JSGE:
    case BPF_JMP_OP.JLT:
    case BPF_JMP_OP.JLE:
    case BPF_JMP_OP.JSLT:
    case BPF_JMP_OP.JSLE:
      if (x ? imm !== 0 : src !== 0) reject(i, 'BPF_JMP/JMP32 uses reserved fields');
      checkReg(i, dst);
      checkReg(i, src);
      return;
    default:
      reject(i, `unknown opcode ${hex2(code)}`);
  }
}
