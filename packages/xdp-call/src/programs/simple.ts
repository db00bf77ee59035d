import type { TextArena } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, mov, ret } from '@bpf-dispatcher/x86';
import { XdpAction, type XdpActionValue } from '../actions.js';
import { XdpError } from '../errors.js';
import { xdpProgFromObject } from '../object-prog.js';
import { assertArena, assertCodeBuffer, assertName } from '../validate.js';
import type { XdpProg } from '../xdp-prog.js';
import { openBundledObject } from './bundled.js';

/** Emit `return action` in x86-64 (for hand-written programs made with `createXdpProg`). */
export function emitReturn(buf: CodeBuffer, action: XdpActionValue): void {
  assertCodeBuffer(buf, 'emitReturn');
  if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `emitReturn: ${String(action)} is not an XDP action`);
  mov(buf, 'eax', action);
  ret(buf);
}

/**
 * Load one program of `xdp_basic.bpf.o` (C source in `bpf/xdp_basic.bpf.c`) into `arena`
 * as an XdpProg; `configure` may set the object's `.rodata` first. The object is closed
 * once the program is disposed.
 */
function basicProgram(arena: TextArena, program: string, name: string, configure?: (object: ReturnType<typeof openBundledObject>) => void): XdpProg {
  const object = openBundledObject('xdp_basic');
  try {
    for (const p of object.programs) p.setAutoload(p.name === program);
    configure?.(object);
    object.load(arena);
    return xdpProgFromObject(object.program(program), { name, onDispose: () => object.close() });
  } catch (error) {
    object.close();
    throw error;
  }
}

/**
 * A program that returns a fixed verdict, `xdp_verdict` of `xdp_basic.bpf.c` with the
 * verdict set in its `.rodata` before load: `return verdict;`. Each call loads a fresh copy
 * (its own code address, as a distinct program in a dispatcher).
 * @throws XdpError EINVAL for a bad arena, action or name; DISPOSED for a disposed arena.
 */
export function xdpConstant(arena: TextArena, action: XdpActionValue, name = `xdp_const_${action}`): XdpProg {
  assertArena(arena, 'xdpConstant');
  if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `xdpConstant: ${String(action)} is not an XDP action`);
  assertName(name, 'xdpConstant');
  return basicProgram(arena, 'xdp_verdict', name, (object) => object.map('.rodata').setVariable('verdict', action));
}

/** `xdp_drop` of `xdp_basic.bpf.c`: `return XDP_DROP;`. @throws XdpError EINVAL for a bad arena. */
export function xdpDrop(arena: TextArena): XdpProg {
  assertArena(arena, 'xdpDrop');
  return basicProgram(arena, 'xdp_drop', 'xdp_drop');
}

/** `xdp_pass` of `xdp_basic.bpf.c`: `return XDP_PASS;`. @throws XdpError EINVAL for a bad arena. */
export function xdpPass(arena: TextArena): XdpProg {
  assertArena(arena, 'xdpPass');
  return basicProgram(arena, 'xdp_pass', 'xdp_pass');
}

/**
 * `xdp_tx` of `xdp_basic.bpf.c`: bounce the frame back out of the port it came in on, with
 * the Ethernet addresses swapped; frames shorter than an Ethernet header are XDP_ABORTED.
 * @throws XdpError EINVAL for a bad arena.
 */
export function xdpTx(arena: TextArena): XdpProg {
  assertArena(arena, 'xdpTx');
  return basicProgram(arena, 'xdp_tx', 'xdp_tx');
}
