import type { TextArena } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, alu, dword, jcc, lea, mov, ptr, qword, ret, word } from '@bpf-dispatcher/x86';
import { XdpAction, type XdpActionValue } from '../actions.js';
import { XdpError } from '../errors.js';
import { XDP_BUFF } from '../layout.js';
import { assertArena, assertCodeBuffer } from '../validate.js';
import { type XdpProg, buildXdpProg } from '../xdp-prog.js';

/** Emit `return action`. */
export function emitReturn(buf: CodeBuffer, action: XdpActionValue): void {
  assertCodeBuffer(buf, 'emitReturn');
  if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `emitReturn: ${String(action)} is not an XDP action`);
  mov(buf, 'eax', action);
  ret(buf);
}

/**
 * A program that returns a fixed verdict: `return XDP_<action>;`.
 * @throws XdpError EINVAL for a bad arena, action or name; DISPOSED for a disposed arena.
 */
export function xdpConstant(arena: TextArena, action: XdpActionValue, name = `xdp_const_${action}`): XdpProg {
  assertArena(arena, 'xdpConstant');
  if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `xdpConstant: ${String(action)} is not an XDP action`);
  return buildXdpProg(arena, name, undefined, (b) => emitReturn(b, action), [], () => ({}));
}

/** `xdp_drop`: `int prog(struct xdp_md *ctx) { return XDP_DROP; }` */
export const xdpDrop = (arena: TextArena): XdpProg => xdpConstant(arena, XdpAction.DROP, 'xdp_drop');

/** `xdp_pass`: `int prog(struct xdp_md *ctx) { return XDP_PASS; }` */
export const xdpPass = (arena: TextArena): XdpProg => xdpConstant(arena, XdpAction.PASS, 'xdp_pass');

/**
 * `xdp_tx`: bounce the frame back out of the port it came in on, with the Ethernet
 * addresses swapped.
 *
 * ```c
 * void *data = ctx->data, *end = ctx->data_end;
 * if (data + 14 > end) return XDP_ABORTED;
 * swap(eth->h_dest, eth->h_source);      // 6 bytes each
 * return XDP_TX;
 * ```
 */
export function xdpTx(arena: TextArena): XdpProg {
  return buildXdpProg(arena, 'xdp_tx', undefined, (b) => {
    const short = b.newLabel();
    mov(b, 'rax', qword('rdi', XDP_BUFF.data));
    lea(b, 'rdx', ptr('rax', 14));
    alu(b, 'cmp', 'rdx', qword('rdi', XDP_BUFF.dataEnd));
    jcc(b, 'a', short);
    mov(b, 'r8d', dword('rax', 0));
    mov(b, 'r9w', word('rax', 4));
    mov(b, 'r10d', dword('rax', 6));
    mov(b, 'r11w', word('rax', 10));
    mov(b, dword('rax', 0), 'r10d');
    mov(b, word('rax', 4), 'r11w');
    mov(b, dword('rax', 6), 'r8d');
    mov(b, word('rax', 10), 'r9w');
    emitReturn(b, XdpAction.TX);
    b.bind(short);
    emitReturn(b, XdpAction.ABORTED);
  }, [], () => ({}));
}

