import { EbpfError } from '../errors.js';
import type { Insn } from '../insn.js';
import { InsnDecodeError, decodeOp } from '../program-codec.js';
import type { Op, Source } from '../program.js';
import { LDDW_PSEUDO_NAMES, formatImm, formatImm32, formatMem, formatOffset } from './syntax.js';

/** Options of {@link disassemble}. */
export interface DisassembleOptions {
  /** Name jump and local-call targets with labels `L1:`... (default true); else print `+N`/`-N` offsets. */
  readonly labels?: boolean;
}

function src(s: Source, width: 32 | 64): string {
  return 'reg' in s ? `%r${s.reg}` : width === 32 ? formatImm32(s.imm) : formatImm(s.imm);
}

const w32 = (width: 32 | 64) => (width === 32 ? '32' : '');

/**
 * Format one typed instruction in the uBPF / bpf_conformance syntax. `target`, if given,
 * replaces the numeric offset of a jump or local call (a label name).
 */
export function formatOp(o: Op, target?: string): string {
  switch (o.op) {
    case 'alu':
      return `${o.operation}${w32(o.width)} %r${o.dst}, ${src(o.source, o.width)}`;
    case 'neg':
      return `neg${w32(o.width)} %r${o.dst}`;
    case 'movsx':
      return `movsx${o.bits}${o.width} %r${o.dst}, %r${o.src}`;
    case 'endian':
      return `${o.order}${o.bits} %r${o.dst}`;
    case 'jmp':
      return `${o.cond}${w32(o.width)} %r${o.dst}, ${src(o.source, o.width)}, ${target ?? formatOffset(o.off)}`;
    case 'ja':
      return `ja ${target ?? formatOffset(o.off)}`;
    case 'gotol':
      return `ja32 ${target ?? formatOffset(o.off)}`;
    case 'ldx':
      return `ldx${o.sign ? 's' : ''}${o.size} %r${o.dst}, ${formatMem(o.src, o.off)}`;
    case 'st':
      return `st${o.size} ${formatMem(o.dst, o.off)}, ${formatImm(o.imm)}`;
    case 'stx':
      return `stx${o.size} ${formatMem(o.dst, o.off)}, %r${o.src}`;
    case 'atomic': {
      const fetch = o.fetch && o.operation !== 'xchg' && o.operation !== 'cmpxchg' ? 'fetch ' : '';
      return `lock ${fetch}${o.operation}${w32(o.width)} ${formatMem(o.dst, o.off)}, %r${o.src}`;
    }
    case 'lddw': {
      const kind = o.pseudo === 0 ? '' : `, ${LDDW_PSEUDO_NAMES[o.pseudo] ?? String(o.pseudo)}`;
      return `lddw %r${o.dst}, 0x${o.imm.toString(16)}${kind}`;
    }
    case 'ldabs':
      return `ldabs${o.size} ${formatImm(o.imm)}`;
    case 'ldind':
      return `ldind${o.size} %r${o.src}, ${formatImm(o.imm)}`;
    case 'call':
      if (o.kind === 'local') return `call local ${target ?? formatOffset(o.imm)}`;
      return o.kind === 'helper' ? `call ${o.imm}` : `call runtime ${o.imm}`;
    case 'exit':
      return 'exit';
  }
}

/** The slot offset a control-transfer instruction jumps by, if any. */
function branchOffset(o: Op): number | undefined {
  if (o.op === 'jmp' || o.op === 'ja' || o.op === 'gotol') return o.off;
  if (o.op === 'call' && o.kind === 'local') return o.imm;
  return undefined;
}

function rawWord(x: Insn): string {
  const lo = ((x.code & 0xff) | ((x.dst & 0x0f) << 8) | ((x.src & 0x0f) << 12) | ((x.off & 0xffff) << 16)) >>> 0;
  const word = (BigInt(x.imm >>> 0) << 32n) | BigInt(lo);
  return `0x${word.toString(16).padStart(16, '0')}`;
}

/**
 * Disassemble instruction slots into text that {@link assemble} turns back into the same
 * slots. Slots that are not RFC 9669 instructions are written as `.raw 0x<word>`.
 * Jump targets become labels `L1`, `L2`... unless `labels: false` or the target is not an
 * instruction boundary inside the program (then `+N`/`-N`).
 * @throws EbpfError EINVAL if `insns` is not an array of instruction slots.
 */
export function disassemble(insns: readonly Insn[], options: DisassembleOptions = {}): string {
  if (!Array.isArray(insns)) throw new EbpfError('EINVAL', 'disassemble: expected an array of instructions');
  const items: { slot: number; op?: Op; raw?: Insn }[] = [];
  for (let i = 0; i < insns.length; ) {
    const x = insns[i];
    if (typeof x !== 'object' || x === null) throw new EbpfError('EINVAL', `disassemble: instruction ${i} is not an object`);
    try {
      const o = decodeOp(insns, i);
      items.push({ slot: i, op: o });
      i += o.op === 'lddw' ? 2 : 1;
    } catch (err) {
      if (!(err instanceof InsnDecodeError)) throw err;
      items.push({ slot: i, raw: x });
      i += 1;
    }
  }
  const starts = new Set(items.map((it) => it.slot));
  starts.add(insns.length);
  const names = new Map<number, string>();
  if (options.labels !== false) {
    const targets = new Set<number>();
    for (const it of items) {
      const off = it.op === undefined ? undefined : branchOffset(it.op);
      if (off !== undefined && starts.has(it.slot + 1 + off)) targets.add(it.slot + 1 + off);
    }
    for (const [k, t] of [...targets].sort((a, b) => a - b).entries()) names.set(t, `L${k + 1}`);
  }
  const lines: string[] = [];
  for (const it of items) {
    const label = names.get(it.slot);
    if (label !== undefined) lines.push(`${label}:`);
    if (it.op === undefined) {
      lines.push(`.raw ${rawWord(it.raw as Insn)}`);
      continue;
    }
    const off = branchOffset(it.op);
    const target = off === undefined ? undefined : names.get(it.slot + 1 + off);
    lines.push(formatOp(it.op, target));
  }
  const end = names.get(insns.length);
  if (end !== undefined) lines.push(`${end}:`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
