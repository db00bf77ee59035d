import type { TextArena } from '@bpf-dispatcher/text-poke';
import { alu, dword, inc, jcc, mov, qword, ret, shift } from '@bpf-dispatcher/x86';
import { XdpAction, type XdpActionValue } from '../actions.js';
import { XdpError } from '../errors.js';
import { XDP_BUFF, XDP_RXQ } from '../layout.js';
import { assertArena, assertName, optionsObject } from '../validate.js';
import { type XdpProg, buildXdpProg } from '../xdp-prog.js';

/** Bytes of metadata xdp_record writes in front of `data`: its program id (u32). */
export const RECORD_META_SIZE = 4;
/** Per-ifindex packet counters of xdp_record; ifindexes from 15 up share the last one. */
export const RECORD_IFINDEX_SLOTS = 16;

/** xdp_record with its counters. */
export interface RecordProg extends XdpProg {
  /** Packets handled, by ingress ifindex (index = ifindex, the last slot for 15 and above). */
  perIfindex(): bigint[];
}

/**
 * `xdp_record`: a program that signs every packet it handles, for checking who handled
 * what under churn.
 *
 * ```c
 * *(u32 *)(ctx->data - 4) = MY_ID;          // metadata in front of the packet
 * counts[min(ctx->ingress_ifindex, 15)]++;
 * return VERDICT;
 * ```
 * The i40e shim's verifying poll loop (`verifyHandlers`) compares the signature with the
 * id of the program it meant to run.
 * @throws XdpError EINVAL for a bad verdict.
 */
export function xdpRecord(arena: TextArena, options: { verdict?: XdpActionValue; name?: string } = {}): RecordProg {
  assertArena(arena, 'xdpRecord');
  const opts = optionsObject(options, 'xdpRecord');
  const verdict = opts.verdict ?? XdpAction.DROP;
  if (!Object.values(XdpAction).includes(verdict)) throw new XdpError('EINVAL', `xdpRecord: ${String(verdict)} is not an XDP action`);
  const name = opts.name ?? 'xdp_record';
  assertName(name, 'xdpRecord');
  const counts = arena.allocData(8 * RECORD_IFINDEX_SLOTS);
  return buildXdpProg(arena, name, undefined, (b, { id }) => {
    const inRange = b.newLabel();
    mov(b, 'rax', qword('rdi', XDP_BUFF.data));
    mov(b, dword('rax', -RECORD_META_SIZE), id);
    mov(b, 'rcx', qword('rdi', XDP_BUFF.rxq));
    mov(b, 'ecx', dword('rcx', XDP_RXQ.ifindex));
    alu(b, 'cmp', 'ecx', RECORD_IFINDEX_SLOTS - 1);
    jcc(b, 'be', inRange, 'short');
    mov(b, 'ecx', RECORD_IFINDEX_SLOTS - 1);
    b.bind(inRange);
    shift(b, 'shl', 'ecx', 3);
    mov(b, 'rdx', counts.address);
    alu(b, 'add', 'rdx', 'rcx');
    inc(b, qword('rdx', 0));
    mov(b, 'eax', verdict);
    ret(b);
  }, [counts], (_base, live) => ({
    perIfindex: () => {
      live('perIfindex');
      const memory = arena.memory(counts);
      return Array.from({ length: RECORD_IFINDEX_SLOTS }, (_, i) => memory.getU64(8 * i));
    },
  }));
}
