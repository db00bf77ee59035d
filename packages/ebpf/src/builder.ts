import { assemble } from './asm/assemble.js';
import { EbpfError } from './errors.js';
import type { Insn } from './insn.js';
import { toInsns } from './program-codec.js';
import type { Op } from './program.js';

/** A value interpolated into a {@link bpf} template: numbers and bigints print in decimal, strings verbatim. */
export type BpfTemplateValue = number | bigint | string;

/**
 * Tagged template that assembles eBPF assembly text (the syntax of {@link assemble}):
 *
 * ```ts
 * const prog = bpf`
 *   mov %r0, ${answer}
 *   exit`;
 * ```
 *
 * Interpolated numbers and bigints are written in decimal (so `${-1}` and `${2n ** 40n}`
 * work as immediates), strings verbatim (labels, registers, whole lines).
 * @returns the instruction slots.
 * @throws AssembleError (code ASSEMBLE, line and column within the joined text) for bad
 *   assembly; EbpfError EINVAL for an interpolated value that is not a finite integer or string.
 */
export function bpf(strings: TemplateStringsArray, ...values: readonly BpfTemplateValue[]): Insn[] {
  let text = strings[0] ?? '';
  values.forEach((v, i) => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new EbpfError('EINVAL', `bpf template: value ${i} (${v}) is not a safe integer`);
      text += String(v);
    } else if (typeof v === 'bigint' || typeof v === 'string') {
      text += String(v);
    } else {
      throw new EbpfError('EINVAL', `bpf template: value ${i} is not a number, bigint or string`);
    }
    text += strings[i + 1] ?? '';
  });
  return assemble(text);
}

/** A label handle of a {@link ProgramBuilder}: bind it with `label()`, jump to it with `ja`/`jmp`/`callLocal`. */
export interface BuilderLabel {
  readonly name: string;
}

type Target = BuilderLabel | number;

interface Pending {
  readonly at: number;
  readonly label: BuilderLabel;
  readonly make: (off: number) => Op;
}

/**
 * A small programmatic builder over typed instruction objects, with labels resolved at
 * {@link ProgramBuilder.finish}: `b.emit(op)` appends any {@link Op}; `b.jmp(...)`,
 * `b.ja(...)`, `b.callLocal(...)` take a label or a numeric slot offset.
 */
export class ProgramBuilder {
  private readonly ops: (Op | Pending)[] = [];
  private readonly bound = new Map<BuilderLabel, number>();
  private slot = 0;
  private labelCount = 0;

  /** A new, unbound label. */
  newLabel(name = `L${++this.labelCount}`): BuilderLabel {
    return { name };
  }

  /** Bind `label` to the next instruction. @throws EbpfError EINVAL if already bound. */
  bind(label: BuilderLabel): this {
    if (this.bound.has(label)) throw new EbpfError('EINVAL', `label ${label.name} is already bound`);
    this.bound.set(label, this.slot);
    return this;
  }

  /** Append a typed instruction (validated at `finish`). */
  emit(...ops: Op[]): this {
    for (const o of ops) {
      this.ops.push(o);
      this.slot += o.op === 'lddw' ? 2 : 1;
    }
    return this;
  }

  private branch(target: Target, make: (off: number) => Op): this {
    if (typeof target === 'number') return this.emit(make(target));
    this.ops.push({ at: this.slot, label: target, make });
    this.slot += 1;
    return this;
  }

  /** `ja target` (16-bit offset). */
  ja(target: Target): this {
    return this.branch(target, (off) => ({ op: 'ja', off }));
  }

  /** A conditional jump `cond dst, source, target`. */
  jmp(
    cond: Extract<Op, { op: 'jmp' }>['cond'],
    dst: number,
    source: { reg: number } | { imm: number },
    target: Target,
    width: 32 | 64 = 64,
  ): this {
    return this.branch(target, (off) => ({ op: 'jmp', width, cond, dst, source, off }));
  }

  /** `call local target` (a BPF-to-BPF call). */
  callLocal(target: Target): this {
    return this.branch(target, (imm) => ({ op: 'call', kind: 'local', imm }));
  }

  /**
   * Resolve labels and encode.
   * @throws EbpfError EINVAL for an unbound label or an invalid instruction.
   */
  finish(): Insn[] {
    const ops = this.ops.map((o) => {
      if (!('at' in o)) return o;
      const target = this.bound.get(o.label);
      if (target === undefined) throw new EbpfError('EINVAL', `label ${o.label.name} is never bound`);
      return o.make(target - (o.at + 1));
    });
    return toInsns(ops);
  }
}
