import { EbpfError } from '../errors.js';
import type { Insn } from '../insn.js';
import { encodeOp } from '../program-codec.js';
import type { AluOperation, AtomicOperation, JmpCondition, MemSize, Op, Source } from '../program.js';
import { ALU_MNEMONICS, JMP_MNEMONICS, LDDW_PSEUDO_NAMES } from './syntax.js';

/**
 * Assembler text that does not parse or does not encode: code `ASSEMBLE`, with the
 * 1-based `line` and `column` of the offending token.
 */
export class AssembleError extends EbpfError {
  /** 1-based line of the error in the source text. */
  readonly line: number;
  /** 1-based column of the error in that line. */
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super('ASSEMBLE', `line ${line}, column ${column}: ${message}`);
    this.line = line;
    this.column = column;
  }
}

interface Token {
  readonly text: string;
  /** 1-based column. */
  readonly col: number;
}

interface Entry {
  readonly slot: number;
  readonly line: number;
  readonly col: number;
  readonly make: () => Op | Insn[];
}

const LABEL_RE = /^[A-Za-z_.$][\w.$]*$/;
const NUMBER_RE = /^([+-]?)(0x[0-9a-f]+|\d+)$/i;
const MEM_RE = /^\[\s*(%?r\d+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+)\s*)?\]$/i;

class LineParser {
  constructor(
    readonly line: number,
    readonly labels: Map<string, { slot: number; line: number }>,
  ) {}

  fail(message: string, tok: Token | number): never {
    throw new AssembleError(message, this.line, typeof tok === 'number' ? tok : tok.col);
  }

  reg(tok: Token): number {
    const m = /^%?r(\d+)$/.exec(tok.text);
    if (m === null) this.fail(`expected a register (%r0..%r10), got '${tok.text}'`, tok);
    const n = Number(m[1]);
    if (n > 10) this.fail(`register ${tok.text} does not exist (%r0..%r10)`, tok);
    return n;
  }

  int(tok: Token, min: bigint, max: bigint, what: string): bigint {
    const m = NUMBER_RE.exec(tok.text);
    if (m === null) this.fail(`expected ${what}, got '${tok.text}'`, tok);
    const magnitude = BigInt(m[2] as string);
    const v = m[1] === '-' ? -magnitude : magnitude;
    if (v < min || v > max) this.fail(`${what} ${tok.text} is out of range ${min}..${max}`, tok);
    return v;
  }

  /** A 32-bit immediate: -2^31 .. 2^32-1, stored as its low 32 bits, signed. */
  imm32(tok: Token): number {
    return Number(BigInt.asIntN(32, this.int(tok, -(1n << 31n), (1n << 32n) - 1n, 'a 32-bit immediate')));
  }

  source(tok: Token): Source {
    return /^%?r\d+$/.test(tok.text) ? { reg: this.reg(tok) } : { imm: this.imm32(tok) };
  }

  mem(tok: Token): { reg: number; off: number } {
    const m = MEM_RE.exec(tok.text);
    if (m === null) this.fail(`expected a memory operand like [%r1+8], got '${tok.text}'`, tok);
    const r = this.reg({ text: m[1] as string, col: tok.col + 1 });
    let off = 0;
    if (m[3] !== undefined) {
      const magnitude = BigInt(m[3]);
      const v = m[2] === '-' ? -magnitude : magnitude;
      if (v < -0x8000n || v > 0x7fffn) this.fail(`memory offset ${m[2]}${m[3]} is out of range -32768..32767`, tok);
      off = Number(v);
    }
    return { reg: r, off };
  }

  /** A jump target: `+N`/`-N` (a slot offset) or a label, resolved to `target - (slot + 1)`. */
  target(tok: Token, slot: number, bits: 16 | 32): () => number {
    const limit = bits === 16 ? 0x8000 : 0x8000_0000;
    if (/^[+-]/.test(tok.text)) {
      const v = Number(this.int(tok, BigInt(-limit), BigInt(limit - 1), `a ${bits}-bit jump offset`));
      return () => v;
    }
    if (!LABEL_RE.test(tok.text)) this.fail(`expected a label or a +N/-N offset, got '${tok.text}'`, tok);
    return () => {
      const at = this.labels.get(tok.text);
      if (at === undefined) this.fail(`undefined label '${tok.text}'`, tok);
      const off = at.slot - (slot + 1);
      if (off < -limit || off >= limit) this.fail(`label '${tok.text}' is ${off} slots away, beyond a ${bits}-bit offset`, tok);
      return off;
    };
  }
}

/** Split `text` (starting at 1-based column `col`) on commas into trimmed operand tokens. */
function splitOperands(p: LineParser, text: string, col: number): Token[] {
  if (text.trim() === '') return [];
  const out: Token[] = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text[i] === ',') {
      const raw = text.slice(start, i);
      const lead = raw.length - raw.trimStart().length;
      const t = raw.trim();
      if (t === '') p.fail('empty operand', col + start);
      out.push({ text: t, col: col + start + lead });
      start = i + 1;
    }
  }
  return out;
}

function expectCount(p: LineParser, mnemonic: Token, ops: readonly Token[], n: number): void {
  if (ops.length !== n) p.fail(`'${mnemonic.text}' takes ${n} operand${n === 1 ? '' : 's'}, got ${ops.length}`, mnemonic);
}

const op = (ops: readonly Token[], i: number): Token => ops[i] as Token;

/** Parse one statement (mnemonic + operands) into an entry builder; returns its slot count. */
function parseStatement(
  p: LineParser,
  words: Token[],
  rest: string,
  restCol: number,
  slot: number,
): { slots: number; make: () => Op | Insn[] } {
  const mn = words[0] as Token;
  const name = mn.text.toLowerCase();
  const ops = splitOperands(p, rest, restCol);
  const one = (make: () => Op | Insn[]) => ({ slots: 1, make });
  let m: RegExpExecArray | null;

  if (name === 'exit') {
    expectCount(p, mn, ops, 0);
    return one(() => ({ op: 'exit' }));
  }
  if (name === 'ja' || name === 'ja32' || name === 'gotol') {
    expectCount(p, mn, ops, 1);
    const long = name !== 'ja';
    const off = p.target(op(ops, 0), slot, long ? 32 : 16);
    return one(() => (long ? { op: 'gotol', off: off() } : { op: 'ja', off: off() }));
  }
  if (name === 'call') {
    let kind = words[1]?.text.toLowerCase() ?? 'helper';
    if (kind === 'runtime') kind = 'kfunc';
    if (kind !== 'helper' && kind !== 'local' && kind !== 'kfunc')
      p.fail(`unknown call kind '${words[1]?.text}' (helper, local, runtime)`, words[1] ?? mn);
    expectCount(p, mn, ops, 1);
    const t = op(ops, 0);
    if (kind === 'local') {
      const off = p.target(t, slot, 32);
      return one(() => ({ op: 'call', kind: 'local', imm: off() }));
    }
    if (/^%?r\d+$/.test(t.text)) p.fail('callx (a call through a register) is not part of RFC 9669', t);
    const id = p.imm32(t);
    return one(() => ({ op: 'call', kind: kind as 'helper' | 'kfunc', imm: id }));
  }
  if (name === 'lddw') {
    if (ops.length !== 2 && ops.length !== 3) p.fail(`'lddw' takes 2 operands (and an optional pseudo kind), got ${ops.length}`, mn);
    const dst = p.reg(op(ops, 0));
    const imm = BigInt.asUintN(64, p.int(op(ops, 1), -(1n << 63n), (1n << 64n) - 1n, 'a 64-bit immediate'));
    let pseudo = 0;
    const kindTok = ops[2];
    if (kindTok !== undefined) {
      pseudo = (LDDW_PSEUDO_NAMES as readonly string[]).indexOf(kindTok.text);
      if (pseudo < 0) p.fail(`unknown lddw kind '${kindTok.text}' (${LDDW_PSEUDO_NAMES.join(', ')})`, kindTok);
    }
    return { slots: 2, make: () => ({ op: 'lddw', dst, imm, pseudo }) };
  }
  m = /^ldx(s?)(b|h|w|dw)$/.exec(name);
  if (m !== null) {
    expectCount(p, mn, ops, 2);
    const sign = m[1] === 's';
    const size = m[2] as MemSize;
    if (sign && size === 'dw') p.fail('there is no sign-extending 64-bit load', mn);
    const dst = p.reg(op(ops, 0));
    const { reg: src, off } = p.mem(op(ops, 1));
    return one(() => ({ op: 'ldx', size, sign, dst, src, off }));
  }
  m = /^st(x?)(b|h|w|dw)$/.exec(name);
  if (m !== null) {
    expectCount(p, mn, ops, 2);
    const size = m[2] as MemSize;
    const { reg: dst, off } = p.mem(op(ops, 0));
    if (m[1] === 'x') {
      const src = p.reg(op(ops, 1));
      return one(() => ({ op: 'stx', size, dst, src, off }));
    }
    const imm = p.imm32(op(ops, 1));
    return one(() => ({ op: 'st', size, dst, off, imm }));
  }
  m = /^ld(abs|ind)(b|h|w)$/.exec(name);
  if (m !== null) {
    const size = m[2] as 'b' | 'h' | 'w';
    if (m[1] === 'abs') {
      expectCount(p, mn, ops, 1);
      const imm = p.imm32(op(ops, 0));
      return one(() => ({ op: 'ldabs', size, imm }));
    }
    expectCount(p, mn, ops, 2);
    const src = p.reg(op(ops, 0));
    const imm = p.imm32(op(ops, 1));
    return one(() => ({ op: 'ldind', size, src, imm }));
  }
  if (name === 'lock') {
    let w = 1;
    let fetch = false;
    if (words[w]?.text.toLowerCase() === 'fetch') {
      fetch = true;
      w++;
    }
    const opTok = words[w];
    if (opTok === undefined) p.fail("'lock' needs an operation (add, or, and, xor, xchg, cmpxchg)", mn);
    if (words.length > w + 1) p.fail(`unexpected '${(words[w + 1] as Token).text}'`, words[w + 1] as Token);
    const am = /^(add|or|and|xor|xchg|cmpxchg)(32|64)?$/.exec(opTok.text.toLowerCase());
    if (am === null) p.fail(`unknown atomic operation '${opTok.text}'`, opTok);
    const operation = am[1] as AtomicOperation;
    if (operation === 'xchg' || operation === 'cmpxchg') fetch = true;
    const width = am[2] === '32' ? 32 : 64;
    expectCount(p, mn, ops, 2);
    const { reg: dst, off } = p.mem(op(ops, 0));
    const src = p.reg(op(ops, 1));
    return one(() => ({ op: 'atomic', width, operation, fetch, dst, src, off }));
  }
  m = /^(le|be|bswap|swap)(16|32|64)$/.exec(name);
  if (m !== null) {
    expectCount(p, mn, ops, 1);
    const order = m[1] === 'le' ? 'le' : m[1] === 'be' ? 'be' : 'bswap';
    const bits = Number(m[2]) as 16 | 32 | 64;
    const dst = p.reg(op(ops, 0));
    return one(() => ({ op: 'endian', order, bits, dst }));
  }
  m = /^neg(32|64)?$/.exec(name);
  if (m !== null) {
    expectCount(p, mn, ops, 1);
    const width = m[1] === '32' ? 32 : 64;
    const dst = p.reg(op(ops, 0));
    return one(() => ({ op: 'neg', width, dst }));
  }
  m = /^movsx(8|16|32)(32|64)$/.exec(name);
  if (m !== null) {
    expectCount(p, mn, ops, 2);
    const bits = Number(m[1]) as 8 | 16 | 32;
    const width = m[2] === '32' ? 32 : 64;
    if (bits === 32 && width === 32) p.fail('movsx3232 is not defined (use mov32)', mn);
    const dst = p.reg(op(ops, 0));
    const src = p.reg(op(ops, 1));
    return one(() => ({ op: 'movsx', width, bits, dst, src }));
  }
  const suffix = /(32|64)$/.exec(name)?.[1];
  const base = suffix === undefined ? name : name.slice(0, -2);
  if (ALU_MNEMONICS.has(base as AluOperation)) {
    expectCount(p, mn, ops, 2);
    const width = suffix === '32' ? 32 : 64;
    const dst = p.reg(op(ops, 0));
    const source = p.source(op(ops, 1));
    return one(() => ({ op: 'alu', width, operation: base as AluOperation, dst, source }));
  }
  if (JMP_MNEMONICS.has(base as JmpCondition) && suffix !== '64') {
    expectCount(p, mn, ops, 3);
    const width = suffix === '32' ? 32 : 64;
    const dst = p.reg(op(ops, 0));
    const source = p.source(op(ops, 1));
    const off = p.target(op(ops, 2), slot, 16);
    return one(() => ({ op: 'jmp', width, cond: base as JmpCondition, dst, source, off: off() }));
  }
  if (name === '.raw') {
    expectCount(p, mn, ops, 1);
    const v = BigInt.asUintN(64, p.int(op(ops, 0), -(1n << 63n), (1n << 64n) - 1n, 'a 64-bit instruction word'));
    return one(() => [rawInsn(v)]);
  }
  p.fail(`unknown mnemonic '${mn.text}'`, mn);
}

/** The slot of a 64-bit instruction word as written in bpf_conformance `-- raw` sections (little endian). */
export function rawInsn(word: bigint): Insn {
  const w = BigInt.asUintN(64, word);
  const lo = Number(w & 0xffff_ffffn);
  return {
    code: lo & 0xff,
    dst: (lo >>> 8) & 0x0f,
    src: (lo >>> 12) & 0x0f,
    off: ((lo >>> 16) << 16) >> 16,
    imm: Number(BigInt.asIntN(32, w >> 32n)),
  };
}

/**
 * Assemble eBPF assembly text in the syntax of uBPF and the bpf_conformance suite
 * (`mov %r0, 1`, `ldxh %r3, [%r1+12]`, `jeq %r1, 0x1, L1`, `lock fetch add [%r10-8], %r1`,
 * `call local f`, `lddw %r0, 0x1234...`, labels `L1:`; `#` and `//` comments; `;`
 * separates statements on one line). Jump targets are labels or `+N`/`-N` slot offsets;
 * as in the suite, `exit` names the first `exit` instruction unless a label says otherwise.
 * `.raw 0x<word>` emits one slot verbatim (how the disassembler writes invalid slots).
 * @returns the program's instruction slots.
 * @throws AssembleError (code ASSEMBLE, with line and column) on any syntax or range error;
 *   EbpfError EINVAL if `source` is not a string.
 */
export function assemble(source: string): Insn[] {
  if (typeof source !== 'string') throw new EbpfError('EINVAL', 'assemble: expected a string');
  const labels = new Map<string, { slot: number; line: number }>();
  const entries: Entry[] = [];
  let slot = 0;
  let firstExit: number | undefined;
  const lines = source.split(/\r?\n/);
  lines.forEach((lineText, index) => {
    const p = new LineParser(index + 1, labels);
    let text = lineText;
    const comment = /#|\/\//.exec(text);
    if (comment !== null) text = text.slice(0, comment.index);
    let segStart = 0;
    for (const segment of text.split(';')) {
      let pos = 0;
      const at = () => segStart + pos + 1;
      // Labels: `name:` (any number, before the statement).
      for (;;) {
        const lm = /^(\s*)([A-Za-z_.$][\w.$]*)\s*:/.exec(segment.slice(pos));
        if (lm === null) break;
        const name = lm[2] as string;
        const col = segStart + pos + (lm[1] as string).length + 1;
        const prev = labels.get(name);
        if (prev !== undefined) p.fail(`duplicate label '${name}' (first defined on line ${prev.line})`, col);
        labels.set(name, { slot, line: index + 1 });
        pos += lm[0].length;
      }
      const body = segment.slice(pos);
      const words: Token[] = [];
      let restCol = at();
      let rest = '';
      // Mnemonic words: the leading words before the first operand.
      const re = /\S+/g;
      for (let wm = re.exec(body); wm !== null; wm = re.exec(body)) {
        const word = wm[0];
        const isKeyword = words.length === 0 || isMnemonicWord(words, word);
        if (!isKeyword) {
          rest = body.slice(wm.index);
          restCol = at() + wm.index;
          break;
        }
        words.push({ text: word, col: at() + wm.index });
      }
      if (words.length > 0) {
        const stmt = parseStatement(p, words, rest, restCol, slot);
        const first = words[0] as Token;
        if (first.text.toLowerCase() === 'exit' && firstExit === undefined) firstExit = slot;
        entries.push({ slot, line: index + 1, col: first.col, make: stmt.make });
        slot += stmt.slots;
      }
      segStart += segment.length + 1;
    }
  });
  if (firstExit !== undefined && !labels.has('exit')) labels.set('exit', { slot: firstExit, line: 0 });
  const out: Insn[] = [];
  for (const e of entries) {
    const made = e.make();
    if (Array.isArray(made)) {
      out.push(...made);
      continue;
    }
    try {
      out.push(...encodeOp(made));
    } catch (err) {
      if (EbpfError.hasCode(err, 'EINVAL')) throw new AssembleError(err.message, e.line, e.col);
      throw err;
    }
  }
  return out;
}

/** True if `word` continues the mnemonic (`lock [fetch] op`, `call local|helper|runtime`). */
function isMnemonicWord(words: readonly Token[], word: string): boolean {
  const first = (words[0] as Token).text.toLowerCase();
  const w = word.toLowerCase();
  if (first === 'lock') return words.length <= 2 && !w.startsWith('[');
  if (first === 'call') return words.length === 1 && (w === 'local' || w === 'helper' || w === 'runtime' || w === 'kfunc');
  return false;
}
