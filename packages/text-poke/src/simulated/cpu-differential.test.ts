/**
 * Differential test of the simulated CPU against the real one (through the NativeArena):
 * every instruction form the `@bpf-dispatcher/x86` encoder emits, at every operand width,
 * run on random inputs in both arenas; registers, memory and every flag the Intel SDM
 * defines for the form must agree. Count-0 shifts, count masking (shifts by cl with any
 * count) and every 32-bit form (whose result zero-extends into the 64-bit register) are
 * covered. Spot checks against known answers run everywhere, the native part only on
 * x86-64 Linux.
 */
import {
  type AluOp,
  type CodeBuffer,
  type Gp,
  type Mem,
  type ShiftOp,
  type Width,
  alu,
  bswap,
  byte,
  call,
  cdq,
  cmovcc,
  cqo,
  dec,
  div,
  dword,
  idiv,
  imul,
  inc,
  FALLBACK_INDIRECT,
  INLINE_RETPOLINE,
  indirectCall,
  indirectJump,
  jmp,
  lea,
  lfence,
  lockAlu,
  lockCmpxchg,
  lockXadd,
  mfence,
  mov,
  movsx,
  movzx,
  mul,
  neg,
  nop5,
  not,
  pause,
  pop,
  ptr,
  leave,
  push,
  qword,
  ret,
  setcc,
  shift,
  shiftCl,
  test,
  word,
  xchg,
} from '@bpf-dispatcher/x86';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitText } from '../emit-text.js';
import { nativeSupported } from '../native/libc.js';
import { NativeArena } from '../native/native-arena.js';
import type { Region, TextArena } from '../types.js';
import { SimulatedArena } from './simulated-arena.js';

/** The flags a form defines, as compared: c(arry), o(verflow), z(ero), s(ign), p(arity). */
type Flags = string;
const ALL: Flags = 'cozsp';

interface Form {
  readonly name: string;
  /** Extra setup before the flags are put in a known state (e.g. zero rdx before div). */
  readonly setup?: (b: CodeBuffer) => void;
  readonly emit: (b: CodeBuffer) => void;
  /** Defined flags after the form, for inputs a = rax, b = rcx/r8, c = rdx/r9/[mem]. */
  readonly flags: Flags | ((a: bigint, b: bigint, c: bigint) => Flags);
  /** True if the real CPU would raise #DE for these inputs (native not run; the simulator must fault). */
  readonly traps?: (a: bigint, b: bigint, c: bigint) => boolean;
}

const ACC: Record<Width, Gp> = { 64: 'rax', 32: 'eax', 16: 'ax', 8: 'al' };
const SRC: Record<Width, Gp> = { 64: 'r8', 32: 'r8d', 16: 'r8w', 8: 'r8b' };
const MEM: Record<Width, (base: 'r11', disp: number) => Mem> = { 64: qword, 32: dword, 16: word, 8: byte };
const WIDTHS: readonly Width[] = [64, 32, 16, 8];
const CELL = 'r11';
const mem = (bits: Width) => MEM[bits](CELL, 40);

/** Every form the encoder can emit, grouped as the encoder's modules are. */
function forms(): Form[] {
  const out: Form[] = [];
  const add = (name: string, emit: (b: CodeBuffer) => void, flags: Form['flags'] = ALL, extra: Partial<Form> = {}) => out.push({ name, emit, flags, ...extra });

  for (const bits of WIDTHS) {
    const A = ACC[bits];
    const S = SRC[bits];
    // ALU: reg,reg / reg,imm8 / reg,imm32 / reg,mem / mem,reg / mem,imm
    for (const op of ['add', 'or', 'and', 'sub', 'xor', 'cmp'] as AluOp[]) {
      add(`${op} ${A},${S}`, (b) => alu(b, op, A, S));
      add(`${op} ${A},-77`, (b) => alu(b, op, A, -77));
      if (bits !== 8) add(`${op} ${A},0x1234`, (b) => alu(b, op, A, bits === 16 ? 0x1234 : 0x5a5a1234));
      add(`${op} ${A},mem`, (b) => alu(b, op, A, mem(bits)));
      add(`${op} mem,${S}`, (b) => alu(b, op, mem(bits), S));
      add(`${op} mem,5`, (b) => alu(b, op, mem(bits), 5));
    }
    add(`test ${A},${S}`, (b) => test(b, A, S));
    add(`test ${A},imm`, (b) => test(b, A, bits === 8 ? 0x81 : 0x8001));
    add(`test mem,${S}`, (b) => test(b, mem(bits), S));
    add(`neg ${A}`, (b) => neg(b, A));
    add(`neg mem`, (b) => neg(b, mem(bits)));
    add(`not ${A}`, (b) => not(b, A));
    // shifts/rotates by an immediate: 0 (flags unchanged, 32-bit destination still zero-extended), 1, ..., width-1
    for (const op of ['shl', 'shr', 'sar', 'rol', 'ror'] as ShiftOp[]) {
      for (const count of [0, 1, 2, bits / 2, bits / 2 + 1, bits - 1]) {
        const rotate = op === 'rol' || op === 'ror';
        const flags = count <= 1 ? ALL : rotate ? 'czsp' : 'czsp';
        add(`${op} ${A},${count}`, (b) => shift(b, op, A, count), flags);
      }
      add(`${op} mem,3`, (b) => shift(b, op, mem(bits), 3), 'czsp');
      // by cl: the CPU masks the count to 5 bits (6 for 64-bit operands)
      add(`${op} ${A},cl`, (b) => shiftCl(b, op, A), (_a, count) => shiftClFlags(op, bits, count));
      add(`${op} mem,cl`, (b) => shiftCl(b, op, mem(bits)), (_a, count) => shiftClFlags(op, bits, count));
    }
    // mov
    add(`mov ${A},${S}`, (b) => mov(b, A, S));
    add(`mov ${A},imm`, (b) => mov(b, A, bits === 8 ? 0xa5 : bits === 16 ? 0xa5a5 : -0x5a5a5a5b));
    add(`mov ${A},mem`, (b) => mov(b, A, mem(bits)));
    add(`mov mem,${S}`, (b) => mov(b, mem(bits), S));
    add(`mov mem,imm`, (b) => mov(b, mem(bits), -3));
    // atomics and exchanges on memory
    add(`xchg mem,${S}`, (b) => xchg(b, mem(bits), S));
    add(`lock xadd mem,${S}`, (b) => lockXadd(b, mem(bits), S));
    for (const op of ['add', 'or', 'and', 'sub', 'xor'] as const) add(`lock ${op} mem,${S}`, (b) => lockAlu(b, op, mem(bits), S));
    add(`lock cmpxchg mem,${S} (differ)`, (b) => lockCmpxchg(b, mem(bits), S));
    add(`lock cmpxchg mem,${S} (equal)`, (b) => lockCmpxchg(b, mem(bits), S), ALL, { setup: (b) => mov(b, qword(CELL, 40), 'rdi') });
    // mul/div by r/m: rdx:rax (ax for bytes); flags of mul: CF/OF only; of div: none
    add(`mul ${S}`, (b) => mul(b, S), 'co');
    add(`mul mem`, (b) => mul(b, mem(bits)), 'co');
    for (const signed of [false, true]) {
      const name = signed ? 'idiv' : 'div';
      const emit = (b: CodeBuffer) => (signed ? idiv : div)(b, S);
      add(`${name} ${S} (random high half)`, emit, '', { traps: (a, d, c) => divTraps(bits, signed, a, c, d) });
      const widen = (b: CodeBuffer) => {
        if (!signed) mov(b, 'edx', 0);
        else if (bits === 64) cqo(b);
        else if (bits === 32) cdq(b);
        else if (bits === 16) movsx(b, 'edx', 'ax');
        if (!signed && bits === 8) movzx(b, 'eax', 'al');
        if (signed && bits === 8) movsx(b, 'ax', 'al');
        if (signed && bits === 16) shift(b, 'sar', 'edx', 16);
      };
      const low = (a: bigint) => (bits !== 8 ? a : signed ? BigInt.asUintN(16, BigInt.asIntN(8, a & 0xffn)) : a & 0xffn);
      add(`${name} ${S} (widened dividend)`, emit, '', { setup: widen, traps: (a, d, c) => divTraps(bits, signed, low(a), widenedHigh(bits, signed, a, c), d) });
    }
  }
  for (const bits of [64, 32, 16] as const) {
    const A = ACC[bits];
    const S = SRC[bits];
    add(`imul ${A},${S}`, (b) => imul(b, A, S), 'co');
    add(`imul ${A},mem`, (b) => imul(b, A, mem(bits)), 'co');
    add(`imul ${A},${S},-3`, (b) => imul(b, A, S, -3), 'co');
    add(`imul ${A},${S},imm`, (b) => imul(b, A, S, bits === 16 ? 0x7001 : 0x12345), 'co');
    add(`cmovl ${A},${S}`, (b) => cmovcc(b, 'l', A, S));
    add(`cmovb ${A},mem`, (b) => cmovcc(b, 'b', A, mem(bits)));
    add(`lea ${A},[r8-1234]`, (b) => lea(b, A, ptr('r8', -1234)));
    add(`movzx ${A},r8b`, (b) => movzx(b, A, 'r8b'));
    add(`movsx ${A},r8b`, (b) => movsx(b, A, 'r8b'));
    add(`movzx ${A},byte mem`, (b) => movzx(b, A, byte(CELL, 40)));
    add(`movsx ${A},byte mem`, (b) => movsx(b, A, byte(CELL, 40)));
    if (bits !== 16) {
      add(`movzx ${A},r8w`, (b) => movzx(b, A, 'r8w'));
      add(`movsx ${A},r8w`, (b) => movsx(b, A, 'r8w'));
      add(`movsx ${A},word mem`, (b) => movsx(b, A, word(CELL, 40)));
      add(`bswap ${A}`, (b) => bswap(b, A));
    }
  }
  add('movsxd rax,r8d', (b) => movsx(b, 'rax', 'r8d'));
  add('movsxd rax,dword mem', (b) => movsx(b, 'rax', dword(CELL, 40)));
  add('movabs rax,imm64', (b) => mov(b, 'rax', 0x0123_4567_89ab_cdefn, 'imm64'));
  add('mov rax,imm32 (sign-extended)', (b) => mov(b, 'rax', -2));
  add('cdq', (b) => cdq(b));
  add('cqo', (b) => cqo(b));
  add('push r8; pop rax', (b) => {
    push(b, 'r8');
    pop(b, 'rax');
  });
  add('push rbp; mov rbp,rsp; lea rsp,[rsp-24]; leave', (b) => {
    push(b, 'rbp');
    mov(b, 'rbp', 'rsp');
    lea(b, 'rsp', ptr('rsp', -24)); // no flags: rsp differs between the two CPUs
    leave(b);
  });
  add('pause; lfence; mfence; nop5', (b) => {
    pause(b);
    lfence(b);
    mfence(b);
    nop5(b);
  });
  add('call label / call reg / jmp reg / retpolines', (b) => {
    const over = b.newLabel();
    const fn = b.newLabel();
    const back = b.newLabel();
    jmp(b, over, 'short');
    b.bind(fn);
    alu(b, 'add', 'rax', 3); // called: rax += 3
    ret(b);
    b.bind(back);
    alu(b, 'xor', 'rax', 0x55); // jumped to through r10, returns to the call of the caller
    ret(b);
    b.bind(over);
    call(b, fn);
    mov(b, 'r10', b.labelAddress(fn));
    call(b, 'r10');
    indirectCall(b, 'r10', INLINE_RETPOLINE);
    indirectCall(b, 'r10', FALLBACK_INDIRECT);
    const tail = b.newLabel();
    mov(b, 'r10', b.labelAddress(back));
    call(b, tail);
    const after = b.newLabel();
    jmp(b, after, 'short');
    b.bind(tail);
    indirectJump(b, 'r10', INLINE_RETPOLINE);
    b.bind(after);
    call(b, fn);
  });
  add('sete al; setb byte mem', (b) => {
    setcc(b, 'e', 'al');
    setcc(b, 'b', byte(CELL, 40));
  });
  for (const bits of WIDTHS) {
    // inc/dec keep CF (which the prologue's cmp set)
    const A = ACC[bits];
    out.push({ name: `inc ${A}`, emit: (b) => incDec(b, 'inc', A), flags: ALL });
    out.push({ name: `dec mem${bits}`, emit: (b) => incDec(b, 'dec', mem(bits)), flags: ALL });
  }
  return out;
}

function incDec(b: CodeBuffer, op: 'inc' | 'dec', dst: Gp | Mem): void {
  (op === 'inc' ? inc : dec)(b, dst);
}

/** Flags a shift by cl defines for `count` (Intel SDM: count masked; 0 = no flag changes; OF only for 1; CF undefined for SHL/SHR when count >= width). */
function shiftClFlags(op: ShiftOp, bits: Width, count: bigint): Flags {
  const n = Number(count & (bits === 64 ? 63n : 31n));
  if (n === 0) return ALL;
  const rotate = op === 'rol' || op === 'ror';
  if (rotate) return n === 1 ? ALL : 'czsp';
  let flags = n === 1 ? ALL : 'czsp';
  if ((op === 'shl' || op === 'shr') && n >= bits) flags = flags.replace('c', '');
  return flags;
}

/** The high half of the dividend after the "widened" setup. */
function widenedHigh(bits: Width, signed: boolean, a: bigint, c: bigint): bigint {
  if (bits === 8) return c; // ax holds the dividend; rdx unused
  if (!signed) return 0n;
  return BigInt.asIntN(bits, a & ((1n << BigInt(bits)) - 1n)) < 0n ? (1n << BigInt(bits)) - 1n : 0n;
}

/** Whether DIV/IDIV of (high:low) by the divisor raises #DE. */
function divTraps(bits: Width, signed: boolean, a: bigint, high: bigint, divisorWord: bigint): boolean {
  const w = BigInt(bits);
  const mask = (1n << w) - 1n;
  const divisorRaw = divisorWord & mask;
  if (divisorRaw === 0n) return true;
  const raw = bits === 8 ? a & 0xffffn : ((high & mask) << w) | (a & mask);
  const dividend = signed ? BigInt.asIntN(bits * 2, raw) : raw;
  const divisor = signed ? BigInt.asIntN(bits, divisorRaw) : divisorRaw;
  const q = dividend / divisor;
  return signed ? BigInt.asIntN(bits, q) !== q : q > mask;
}

const FLAG_AT: Record<string, number> = { c: 0, o: 1, z: 2, s: 3, p: 4 };

/**
 * The test function of a form: rax = a, rcx = r8 = b, rdx = r9 = [r11+40] = c, flags from
 * `cmp a, b`; then the form; then rax, rdx, rcx, r8 and the memory operand are stored to
 * the cell in r11 (the fourth argument) and each flag as a byte.
 */
function harness(form: Form): (b: CodeBuffer) => void {
  return (b) => {
    mov(b, CELL, 'rcx');
    mov(b, 'rax', 'rdi');
    mov(b, 'rcx', 'rsi');
    mov(b, 'r8', 'rsi');
    mov(b, 'r9', 'rdx');
    mov(b, qword(CELL, 40), 'rdx');
    form.setup?.(b);
    alu(b, 'cmp', 'rdi', 'rsi');
    form.emit(b);
    mov(b, qword(CELL, 0), 'rax');
    mov(b, qword(CELL, 8), 'rdx');
    mov(b, qword(CELL, 16), 'rcx');
    mov(b, qword(CELL, 24), 'r8');
    setcc(b, 'c', byte(CELL, 48 + 0));
    setcc(b, 'o', byte(CELL, 48 + 1));
    setcc(b, 'z', byte(CELL, 48 + 2));
    setcc(b, 's', byte(CELL, 48 + 3));
    setcc(b, 'p', byte(CELL, 48 + 4));
    ret(b);
  };
}

/** What a run left in the cell, with the flags the form leaves undefined blanked out. */
function outcome(bytes: Uint8Array, flags: Flags): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = [0, 8, 16, 24, 40].map((at) => view.getBigUint64(at, true).toString(16));
  const f = Object.entries(FLAG_AT)
    .map(([name, at]) => (flags.includes(name) ? `${name}=${bytes[48 + at]}` : `${name}=?`))
    .join(' ');
  return `rax=${words[0]} rdx=${words[1]} rcx=${words[2]} r8=${words[3]} mem=${words[4]} ${f}`;
}

interface Installed {
  readonly arena: TextArena;
  readonly cell: Region;
  readonly fns: readonly bigint[];
}

function install(arena: TextArena, list: readonly Form[]): Installed {
  const cell = arena.allocData(64);
  const fns = list.map((form) => emitText(arena, harness(form)).address);
  return { arena, cell, fns };
}

function runOn(target: Installed, index: number, a: bigint, b: bigint, c: bigint): Uint8Array {
  target.arena.call(target.fns[index] as bigint, a, b, c, target.cell.address);
  return target.arena.read(target.cell.address, 64);
}

const word64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: 0n, max: 300n }),
  fc.constantFrom(0n, 1n, 2n, 7n, 8n, 15n, 16n, 31n, 32n, 33n, 63n, 64n, 65n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 63n, (1n << 64n) - 1n, (1n << 63n) - 1n),
);

const FORMS = forms();

describe('simulated CPU: known answers (every platform)', () => {
  let sim: Installed;
  beforeAll(() => {
    sim = install(new SimulatedArena(), FORMS);
  }, 120_000);
  afterAll(() => sim.arena.dispose());
  const at = (name: string) => {
    const i = FORMS.findIndex((f) => f.name === name);
    expect(i, name).toBeGreaterThanOrEqual(0);
    return i;
  };
  const rax = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);

  it('a 32-bit shift or rotate by 0 still zero-extends the destination (flags unchanged)', () => {
    for (const op of ['shl', 'shr', 'sar', 'rol', 'ror']) {
      expect(rax(runOn(sim, at(`${op} eax,0`), 0xdead_beef_8765_4321n, 5n, 0n)), op).toBe(0x8765_4321n);
      expect(rax(runOn(sim, at(`${op} rax,0`), 0xdead_beef_8765_4321n, 5n, 0n)), op).toBe(0xdead_beef_8765_4321n);
      expect(rax(runOn(sim, at(`${op} ax,0`), 0xdead_beef_8765_4321n, 5n, 0n)), op).toBe(0xdead_beef_8765_4321n);
      // by cl = 32: masked to 0 for a 32-bit operand, still zero-extends
      expect(rax(runOn(sim, at(`${op} eax,cl`), 0xdead_beef_8765_4321n, 32n, 0n)), op).toBe(0x8765_4321n);
    }
  });

  it('shift counts in cl are masked to 5 bits (6 for 64-bit operands)', () => {
    expect(rax(runOn(sim, at('shl eax,cl'), 1n, 33n, 0n))).toBe(2n);
    expect(rax(runOn(sim, at('shl rax,cl'), 1n, 65n, 0n))).toBe(2n);
    expect(rax(runOn(sim, at('shl rax,cl'), 1n, 33n, 0n))).toBe(1n << 33n);
    expect(rax(runOn(sim, at('shr ax,cl'), 0xffffn, 17n, 0n))).toBe(0n);
    expect(rax(runOn(sim, at('rol ax,cl'), 0x1234n, 20n, 0n))).toBe(0x2341n);
  });

  it('mul/div/idiv/cmpxchg answers, and #DE as a CPU_FAULT', () => {
    const two = (bytes: Uint8Array) => {
      const v = new DataView(bytes.buffer, bytes.byteOffset);
      return [v.getBigUint64(0, true), v.getBigUint64(8, true)];
    };
    expect(two(runOn(sim, at('mul r8'), 1n << 63n, 4n, 0n))).toEqual([0n, 2n]);
    expect(two(runOn(sim, at('idiv r8 (widened dividend)'), BigInt.asUintN(64, -7n), 2n, 0n))).toEqual([BigInt.asUintN(64, -3n), BigInt.asUintN(64, -1n)]);
    expect(two(runOn(sim, at('div r8d (widened dividend)'), 0xffff_ffff_0000_0007n, 2n, 0n))).toEqual([3n, 1n]);
    expect(() => runOn(sim, at('div r8 (widened dividend)'), 5n, 0n, 0n)).toThrow(expect.objectContaining({ code: 'CPU_FAULT' }));
    expect(() => runOn(sim, at('idiv r8 (widened dividend)'), 1n << 63n, (1n << 64n) - 1n, 0n)).toThrow(expect.objectContaining({ code: 'CPU_FAULT' }));
  });
});

describe.skipIf(!nativeSupported())('simulated CPU agrees with the real CPU on every encoder form', () => {
  let sim: Installed;
  let native: Installed;
  beforeAll(() => {
    sim = install(new SimulatedArena(), FORMS);
    native = install(new NativeArena({ textSize: 1 << 20, dataSize: 1 << 16 }), FORMS);
  }, 120_000);
  afterAll(() => {
    sim?.arena.dispose();
    native?.arena.dispose();
  });

  it(`${FORMS.length} forms on random and edge inputs: registers, memory and defined flags`, () => {
    let compared = 0;
    let traps = 0;
    fc.assert(
      fc.property(word64, word64, word64, (a, b, c) => {
        FORMS.forEach((form, i) => {
          const flags = typeof form.flags === 'function' ? form.flags(a, b, c) : form.flags;
          if (form.traps?.(a, b, c)) {
            expect(() => runOn(sim, i, a, b, c), form.name).toThrow(expect.objectContaining({ code: 'CPU_FAULT' }));
            traps++;
            return;
          }
          const want = outcome(runOn(native, i, a, b, c), flags);
          const got = outcome(runOn(sim, i, a, b, c), flags);
          expect(got, `${form.name} a=0x${a.toString(16)} b=0x${b.toString(16)} c=0x${c.toString(16)}`).toBe(want);
          compared++;
        });
      }),
      { numRuns: 40 },
    );
    expect(compared).toBeGreaterThan(FORMS.length * 30);
    expect(traps).toBeGreaterThan(0);
  }, 300_000);
});
