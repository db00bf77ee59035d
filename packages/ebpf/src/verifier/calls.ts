/**
 * Calls and returns: helper calls checked against the helper table, BPF-to-BPF calls
 * that push a frame, and `exit` (the kernel's `check_helper_call`, `check_func_call`,
 * `prepare_func_exit`, `check_return_code`). Every call clobbers r1-r5.
 */
import type { Insn } from '../insn.js';
import { MAX_CALL_FRAMES } from './cfg.js';
import type { Env } from './env.js';
import { helperName } from './helpers.js';
import { helperMemAccess, stackConstant } from './memory-access.js';
import { helperAllowed } from './program-types.js';
import { type Frame, NOT_INIT, type Reg, UNKNOWN_REG, mapAllRegs, newFrame, ptrReg, scalarReg } from './reg-state.js';
import { UNKNOWN32, isConst } from './scalar.js';
import type { MapDescriptor } from './types.js';
import { reject } from './types.js';

/** Kernel ids of the helpers that write into the map they are given. */
const MAP_UPDATE_ELEM = 2;
const MAP_DELETE_ELEM = 3;

/** `call imm` with pseudo source 0: a helper. */
export function doHelperCall(env: Env, insn: Insn): void {
  const pc = env.pc;
  const id = insn.imm;
  const spec = env.helpers.get(id);
  if (spec === undefined || !helperAllowed(env.progType, spec)) reject(pc, `unknown func ${helperName(id)}#${id}`);
  env.helperIds.add(id);
  let map: { fd: number; desc: MapDescriptor } | undefined;
  let key: bigint | undefined;
  spec.args.forEach((kind, i) => {
    const regNo = i + 1;
    const r = env.read(regNo);
    switch (kind) {
      case 'anything':
        return;
      case 'map_ptr': {
        if (r.type !== 'map_ptr') reject(pc, `R${regNo} type=${r.type} expected=map_ptr`);
        const desc = env.maps.get(r.ref);
        if (desc === undefined) reject(pc, `fd ${r.ref} is not pointing to valid bpf_map`);
        // A read-only map (BPF_F_RDONLY_PROG) is not changed by its helpers either (the kernel's record_func_map).
        if (desc.readonly === true && (id === MAP_UPDATE_ELEM || id === MAP_DELETE_ELEM)) reject(pc, 'write into map forbidden');
        map = { fd: r.ref, desc };
        const seen = env.callSiteMaps.get(pc);
        env.callSiteMaps.set(pc, seen === undefined || seen === r.ref ? r.ref : -1);
        return;
      }
      case 'map_key':
      case 'map_value': {
        if (map === undefined) reject(pc, `invalid map_ptr to access map->${kind === 'map_key' ? 'key' : 'value'}`);
        helperMemAccess(env, regNo, r, kind === 'map_key' ? map.desc.keySize : map.desc.valueSize);
        if (kind === 'map_key') {
          key = r.type === 'fp' && isConst(r.v) ? stackConstant(env.st.frames[r.ref] as Frame, r.off + Number(r.v.umin), map.desc.keySize) : undefined;
          const seen = env.callSiteKeys.get(pc);
          env.callSiteKeys.set(pc, key === undefined || (seen !== undefined && seen !== key) ? null : key);
        }
        return;
      }
      default: // ctx
        if (r.type !== 'ctx') reject(pc, `R${regNo} type=${r.type} expected=ctx`);
        if (r.off !== 0 || r.v.umax !== 0n) reject(pc, `dereference of modified ctx ptr R${regNo} off=${r.off} disallowed`);
    }
  });
  const regs = env.frame.regs;
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  switch (spec.ret) {
    case 'map_value_or_null': {
      if (map === undefined) reject(pc, `helper ${spec.name} returns a map value but takes no map`);
      // An array lookup with a constant key below max_entries cannot fail (the kernel elides its NULL check too).
      const found = key !== undefined && map.desc.arrayMaxEntries !== undefined && key < BigInt(map.desc.arrayMaxEntries);
      regs[0] = ptrReg(found ? 'map_value' : 'map_value_or_null', { id: ++env.idGen, ref: map.fd, size: map.desc.valueSize });
      break;
    }
    case 'u32':
      regs[0] = scalarReg(UNKNOWN32);
      break;
    default:
      regs[0] = UNKNOWN_REG;
  }
  if (spec.changesPktData === true) {
    mapAllRegs(env.st, (r) => (r.type === 'pkt' || r.type === 'pkt_meta' || r.type === 'pkt_end' ? UNKNOWN_REG : r));
  }
}

/** `call imm` with pseudo source 1: push a frame for the callee; returns its first instruction. */
export function doLocalCall(env: Env, insn: Insn): number {
  const pc = env.pc;
  const target = pc + insn.imm + 1;
  const frames = env.st.frames;
  if (frames.length >= MAX_CALL_FRAMES) reject(pc, `the call stack of ${frames.length + 1} frames is too deep !`);
  const caller = env.frame;
  const callee = newFrame(pc, env.cfg.subprogOf[target] as number);
  for (let r = 1; r <= 5; r++) callee.regs[r] = caller.regs[r] as Reg;
  callee.regs[10] = ptrReg('fp', { ref: frames.length });
  frames.push(callee);
  if (frames.length > env.maxFrames) env.maxFrames = frames.length;
  return target;
}

/**
 * `exit`: return to the caller (returns its next instruction) or end the path (returns -1).
 * @throws VerifierError if r0 is not initialised, returns a pointer into the callee's
 * stack, or, at the end of the program, is not a scalar.
 */
export function doExit(env: Env): number {
  const r0 = env.read(0);
  const frames = env.st.frames;
  if (frames.length > 1) {
    const depth = frames.length - 1;
    if (r0.type === 'fp' && r0.ref === depth) reject(env.pc, 'cannot return stack pointer to the caller');
    const callee = frames.pop() as Frame;
    const caller = env.frame;
    caller.regs[0] = r0;
    for (let r = 1; r <= 5; r++) caller.regs[r] = NOT_INIT;
    // Pointers into the popped frame (stored through a pointer the caller passed) are dead.
    mapAllRegs(env.st, (r) => (r.type === 'fp' && r.ref >= depth ? UNKNOWN_REG : r));
    return callee.callsite + 1;
  }
  if (r0.type !== 'scalar') {
    if (env.progType.kind === 'xdp') reject(env.pc, `At program exit the register R0 is not a known value (${r0.type})`);
    reject(env.pc, 'R0 leaks addr as return value');
  }
  return -1;
}
