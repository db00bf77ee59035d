/**
 * Programs and subprograms: the functions of executable sections, and each program's
 * instructions with the `.text` subprograms it reaches appended and its calls and map
 * references fixed up (libbpf's `bpf_object__add_programs` and `bpf_object__reloc_code`).
 */
import { BPF_PSEUDO_CALL, BPF_PSEUDO_LDDW, type Insn, LDDW_OPCODE } from '@bpf-dispatcher/ebpf';
import { STB, STT } from './elf/elf-constants.js';
import type { ElfSymbol } from './elf/symbols.js';
import { type ParseContext, symbolsIn } from './parse-context.js';
import { malformed, unsupported } from './parse-error.js';
import { MAX_PROGRAM_INSNS, MAX_TOTAL_INSNS } from './parse-limits.js';
import { CALL_OPCODE, type CodeSection } from './parse-relocations.js';
import type { ParsedMapReference, ParsedProgram } from './parsed.js';

/** A function symbol's instructions in its section: slots `[start, end)`. */
export interface FunctionRange {
  readonly symbol: ElfSymbol;
  readonly code: CodeSection;
  readonly start: number;
  readonly end: number;
}

/** The functions of one executable section, by first slot. */
export interface SectionFunctions {
  readonly code: CodeSection;
  /** Sorted by `start`. */
  readonly functions: readonly FunctionRange[];
  readonly byStart: ReadonlyMap<number, FunctionRange>;
}

/**
 * The `STT_FUNC` symbols of a code section as instruction ranges: from `st_value` for
 * `st_size` bytes, or, when `st_size` is 0, to the next function or the section's end.
 * @throws BpfObjectError MALFORMED for a function not on an instruction boundary, of a size
 *   that is not a whole number of instructions, empty, sharing its start with another, or
 *   overlapping the next one.
 */
export function sectionFunctions(ctx: ParseContext, code: CodeSection): SectionFunctions {
  const { section } = code;
  const symbols = symbolsIn(ctx, section)
    .filter((s) => s.type === STT.FUNC)
    .sort((a, b) => a.value - b.value || a.index - b.index);
  const count = code.insns.length;
  const functions: FunctionRange[] = [];
  const byStart = new Map<number, FunctionRange>();
  symbols.forEach((symbol, i) => {
    const at = { offset: symbol.entryOffset, section: section.name, symbol: symbol.name };
    if (symbol.value % 8 !== 0 || symbol.size % 8 !== 0) {
      throw malformed(
        `${section.name}: function ${symbol.name} (${symbol.size} bytes at ${symbol.value}) is not made of whole instructions`,
        at,
      );
    }
    const start = symbol.value / 8;
    const next = symbols[i + 1];
    const end = symbol.size > 0 ? start + symbol.size / 8 : next !== undefined ? next.value / 8 : count;
    if (end <= start) throw malformed(`${section.name}: function ${symbol.name} is empty`, at);
    if (byStart.has(start))
      throw malformed(`${section.name}: functions ${byStart.get(start)?.symbol.name} and ${symbol.name} start at the same offset`, at);
    const prev = functions[functions.length - 1];
    if (prev !== undefined && start < prev.end)
      throw malformed(`${section.name}: function ${symbol.name} overlaps ${prev.symbol.name}`, at);
    const range = { symbol, code, start, end };
    functions.push(range);
    byStart.set(start, range);
  });
  return { code, functions, byStart };
}

/** Counts instructions emitted across programs, against {@link MAX_TOTAL_INSNS}. */
export interface InsnBudget {
  used: number;
}

/**
 * Link one program: its entry function, then each subprogram it reaches, appended once in
 * the order libbpf's `bpf_object__reloc_code` appends them (depth first, in call order), with
 * every BPF-to-BPF call's `imm` set to reach the callee's copy, and map references rewritten:
 * `lddw` src 1 (`BPF_PSEUDO_MAP_FD`) or 2 (`BPF_PSEUDO_MAP_VALUE`) with `imm` = the map's
 * index and the second slot's `imm` = 0 or the offset into the value.
 * @param sections the functions of every code section, by section index
 * @param text the `.text` section's functions, if any (targets of relocated calls)
 * @throws BpfObjectError MALFORMED for a call that lands outside the section or not on a
 *   function's first instruction, a call with an unknown pseudo source, an `lddw` cut off by
 *   the function's end, a pseudo `lddw` without relocation; UNSUPPORTED for a kfunc call, or a program larger than
 *   {@link MAX_PROGRAM_INSNS} (or all programs beyond {@link MAX_TOTAL_INSNS}).
 */
export function linkProgram(
  entry: FunctionRange,
  text: SectionFunctions | undefined,
  own: SectionFunctions,
  budget: InsnBudget,
): ParsedProgram {
  const out: Insn[] = [];
  const mapReferences: ParsedMapReference[] = [];
  const placed = new Map<FunctionRange, number>();
  const name = entry.symbol.name;

  const place = (f: FunctionRange): number => {
    const base = out.length;
    const length = f.end - f.start;
    if (base + length > MAX_PROGRAM_INSNS) {
      throw unsupported(`program ${name}: more than ${MAX_PROGRAM_INSNS} instructions with its subprograms`, {
        section: entry.code.section.name,
        symbol: name,
      });
    }
    budget.used += length;
    if (budget.used > MAX_TOTAL_INSNS) {
      throw unsupported(`the object's programs total more than ${MAX_TOTAL_INSNS} instructions with their subprograms`, {
        section: entry.code.section.name,
        symbol: name,
      });
    }
    placed.set(f, base);
    const { insns, fixups, section } = f.code;
    for (let i = f.start; i < f.end; i++) {
      const x = insns[i] as Insn;
      if (x.code !== LDDW_OPCODE) {
        out.push({ ...x });
        continue;
      }
      const second = insns[i + 1];
      const at = { offset: section.offset + i * 8, section: section.name, symbol: f.symbol.name };
      if (i + 1 >= f.end || second === undefined || second.code !== 0) {
        throw malformed(`${section.name}: lddw at instruction ${i} (function ${f.symbol.name}) has no second slot`, at);
      }
      const fix = fixups.get(i);
      if (fix?.kind === 'map') {
        const src = fix.ref === 'fd' ? BPF_PSEUDO_LDDW.MAP_FD : BPF_PSEUDO_LDDW.MAP_VALUE;
        mapReferences.push({ insnIndex: out.length, map: fix.map, kind: fix.ref, offset: fix.offset });
        out.push({ ...x, src, imm: fix.map }, { ...second, imm: fix.ref === 'fd' ? 0 : fix.offset });
      } else {
        if (x.src !== BPF_PSEUDO_LDDW.IMM64)
          throw malformed(`${section.name}: lddw at instruction ${i} has pseudo source ${x.src} but no relocation`, at);
        out.push({ ...x }, { ...second });
      }
      i++;
    }
    return base;
  };

  /** The function a call at slot `i` of `f` goes to. */
  const callee = (f: FunctionRange, i: number, x: Insn): FunctionRange => {
    const { section, fixups } = f.code;
    const at = { offset: section.offset + i * 8, section: section.name, symbol: f.symbol.name };
    const fix = fixups.get(i);
    let target: FunctionRange | undefined;
    let where: string;
    if (fix?.kind === 'call') {
      target = text?.byStart.get(fix.target);
      where = `instruction ${fix.target} of .text`;
    } else {
      const index = i + x.imm + 1;
      target = (f.code === own.code ? own : f.code === text?.code ? text : undefined)?.byStart.get(index);
      where = `instruction ${index} of ${section.name}`;
    }
    if (target === undefined)
      throw malformed(
        `${section.name}: call at instruction ${i} (function ${f.symbol.name}) goes to ${where}, which does not start a function`,
        at,
      );
    return target;
  };

  const stack: { f: FunctionRange; base: number; i: number }[] = [{ f: entry, base: place(entry), i: entry.start }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as { f: FunctionRange; base: number; i: number };
    const { f, base } = frame;
    let descended = false;
    for (; frame.i < f.end && !descended; frame.i++) {
      const i = frame.i;
      const x = f.code.insns[i] as Insn;
      if (x.code === LDDW_OPCODE) {
        frame.i++;
        continue;
      }
      if (x.code !== CALL_OPCODE || x.src === BPF_PSEUDO_CALL.HELPER) continue;
      if (x.src !== BPF_PSEUDO_CALL.LOCAL) {
        const at = { offset: f.code.section.offset + i * 8, section: f.code.section.name, symbol: f.symbol.name };
        if (x.src === BPF_PSEUDO_CALL.KFUNC)
          throw unsupported(`${f.code.section.name}: instruction ${i} (function ${f.symbol.name}) is a kfunc call`, at);
        throw malformed(`${f.code.section.name}: instruction ${i} (function ${f.symbol.name}) is a call with unknown source ${x.src}`, at);
      }
      const target = callee(f, i, x);
      let targetBase = placed.get(target);
      if (targetBase === undefined) {
        targetBase = place(target);
        stack.push({ f: target, base: targetBase, i: target.start });
        descended = true;
      }
      const slot = base + (i - f.start);
      out[slot] = { ...(out[slot] as Insn), imm: targetBase - slot - 1 };
    }
    if (!descended) stack.pop();
  }
  mapReferences.sort((a, b) => a.insnIndex - b.insnIndex);
  return { name, section: entry.code.section.name, insns: out, mapReferences, sectionOffset: entry.symbol.value };
}

/** True if a function symbol of a program section is a program (global or weak), not a static subprogram. */
export function isProgramSymbol(symbol: ElfSymbol): boolean {
  return symbol.bind === STB.GLOBAL || symbol.bind === STB.WEAK;
}
