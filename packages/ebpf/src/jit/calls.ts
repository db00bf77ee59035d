/**
 * Calls and exit: a helper call is a direct `call rel32` to the helper's address (the
 * kernel's `__bpf_call_base + imm`), with R1..R5 already in rdi, rsi, rdx, rcx, r8 and the
 * result in rax; a BPF-to-BPF call is `call rel32` to the callee subprogram's entry, which
 * sets up its own frame; `exit` jumps to the subprogram's epilogue (or falls into it).
 */
import { alu, call, dword, imul, jcc, jmp, mov, shift } from '@bpf-dispatcher/x86';
import type { Insn } from '../insn.js';
import { BPF_PSEUDO_CALL } from '../insn.js';
import type { JitContext, JitMapInfo } from './context.js';
import { JitError } from './errors.js';

/** Emit `call` at slot `i`. @throws JitError for a helper id with no address in the options. */
export function emitCall(ctx: JitContext, x: Insn, i: number): void {
  if (x.src === BPF_PSEUDO_CALL.LOCAL) {
    const k = ctx.analysis.subprogs.findIndex((sp) => sp.start === i + 1 + x.imm);
    call(ctx.buf, ctx.entries[k] as NonNullable<(typeof ctx.entries)[number]>);
    return;
  }
  if (x.imm === HELPER.get_smp_processor_id && ctx.env.cpu !== undefined) {
    mov(ctx.buf, 'eax', 'r12d'); // the CPU index the prologue loaded (checked against the CPU count there)
    return;
  }
  const fd = ctx.env.callSiteMaps.get(i);
  const map = fd === undefined || fd < 0 ? undefined : ctx.env.maps.get(fd);
  if (map !== undefined) {
    if (x.imm === HELPER.map_lookup_elem && map.inlineLookup !== undefined && ctx.env.cpu !== undefined) {
      emitInlineLookup(ctx, map.inlineLookup, ctx.env.callSiteKeys.get(i), ctx.frameKeys.get(i));
      return;
    }
    const own = x.imm === HELPER.map_lookup_elem ? map.ops?.lookup : x.imm === HELPER.map_update_elem ? map.ops?.update : x.imm === HELPER.map_delete_elem ? map.ops?.delete : undefined;
    if (own !== undefined) {
      ctx.helperCall(x.imm, own, i);
      return;
    }
  }
  const target = ctx.helpers.get(x.imm);
  if (target === undefined) throw new JitError(i, `helper ${x.imm} has no address (pass it in options.helpers)`);
  ctx.helperCall(x.imm, target, i);
}

/** Kernel ids of the helpers the JIT treats specially. */
const HELPER = Object.freeze({ map_lookup_elem: 1, map_update_elem: 2, map_delete_elem: 3, get_smp_processor_id: 8 });

/**
 * `r0 = bpf_map_lookup_elem(map, key)` on an array known at this call site, inlined (the
 * kernel's `array_map_gen_lookup`): the u32 index at [R2] checked against `max_entries`,
 * then the value's address (per-CPU arrays: of the CPU in r12), or NULL. With a `key` the
 * verifier proved constant on every path the address is computed from it (no load, no
 * check).
 */
function emitInlineLookup(ctx: JitContext, a: NonNullable<JitMapInfo['inlineLookup']>, key: bigint | undefined, frameDisp: number | undefined): void {
  const b = ctx.buf;
  if (key !== undefined) {
    const index = BigInt.asUintN(32, key);
    if (index >= BigInt(a.maxEntries)) {
      alu(b, 'xor', 'eax', 'eax');
      return;
    }
    const address = BigInt.asIntN(64, a.values + index * BigInt(a.elemSize));
    if (a.cpuStride === 0) {
      mov(b, 'rax', address);
      return;
    }
    imul(b, 'rax', 'r12', a.cpuStride);
    if (address >= -0x8000_0000n && address <= 0x7fff_ffffn) alu(b, 'add', 'rax', Number(address), 'imm32');
    else {
      mov(b, 'r11', address);
      alu(b, 'add', 'rax', 'r11');
    }
    return;
  }
  const nul = b.newLabel();
  const done = b.newLabel();
  mov(b, 'eax', frameDisp === undefined ? dword('rsi', 0) : dword('rbp', frameDisp)); // the key, from the frame when R2 = r10 + disp
  alu(b, 'cmp', 'eax', a.maxEntries | 0, 'imm32');
  jcc(b, 'ae', nul, 'short');
  if ((a.elemSize & (a.elemSize - 1)) === 0) {
    if (a.elemSize > 1) shift(b, 'shl', 'rax', Math.log2(a.elemSize));
  } else imul(b, 'rax', 'rax', a.elemSize);
  if (a.cpuStride !== 0) {
    imul(b, 'r11', 'r12', a.cpuStride);
    alu(b, 'add', 'rax', 'r11');
  }
  const values = BigInt.asIntN(64, a.values);
  if (values >= -0x8000_0000n && values <= 0x7fff_ffffn) alu(b, 'add', 'rax', Number(values), 'imm32');
  else {
    mov(b, 'r11', values);
    alu(b, 'add', 'rax', 'r11');
  }
  jmp(b, done, 'short');
  b.bind(nul);
  alu(b, 'xor', 'eax', 'eax');
  b.bind(done);
}

/** Emit `exit` at slot `i`: nothing if it is the subprogram's last instruction (the epilogue follows), else a jump to the epilogue. */
export function emitExit(ctx: JitContext, i: number): void {
  const sp = ctx.subprog;
  const epilogue = ctx.epilogue;
  if (sp === undefined || epilogue === undefined) throw new JitError(i, 'exit outside a subprogram');
  if (i === sp.end - 1) return;
  ctx.jumpTo(null, epilogue, sp.end);
}
