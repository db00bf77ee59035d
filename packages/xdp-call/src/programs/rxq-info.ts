import { type TextArena, defineStruct } from '@bpf-dispatcher/text-poke';
import { alu, dword, inc, jcc, lea, mov, ptr, qword, ret, shift } from '@bpf-dispatcher/x86';
import { XdpAction, type XdpActionValue } from '../actions.js';
import { XdpError } from '../errors.js';
import { XDP_BUFF, XDP_RXQ } from '../layout.js';
import { assertArena, optionsObject } from '../validate.js';
import { type XdpProg, buildXdpProg } from '../xdp-prog.js';

/** Receive queues with their own counters; higher queue indexes share the last record. */
export const RXQ_INFO_MAX_RXQS = 64;

/** xdp_rxq_info's config and global counters (the head of its data block, 64 bytes). */
export const RxqInfoConfigStruct = defineStruct('rxq_info_config', { action: 'u32', ifindex: 'u32', processed: 'u64', issue: 'u64' }, { size: 64 });

/** One per-queue record of xdp_rxq_info (`struct datarec` of the per-CPU map): 16 bytes. */
export const RxqInfoRecordStruct = defineStruct('rxq_info_record', { processed: 'u64', issue: 'u64' });

/** Layout of xdp_rxq_info's config and counters in data memory (from the two structs above). */
export const RXQ_INFO = Object.freeze({
  ...RxqInfoConfigStruct.offsets,
  /** `{ processed, issue }` records for queues 0 .. MAX_RXQS (the last one for overflow). */
  perQueue: RxqInfoConfigStruct.size,
  recordSize: RxqInfoRecordStruct.size,
  size: RxqInfoConfigStruct.size + RxqInfoRecordStruct.size * (RXQ_INFO_MAX_RXQS + 1),
});

/** Counters of an xdp_rxq_info instance. */
export interface RxqInfoCounters {
  readonly processed: bigint;
  /** Packets whose ingress ifindex was not the configured one. */
  readonly issue: bigint;
  /** Per receive queue, indexes 0 .. MAX_RXQS (the last counts queues beyond). */
  readonly perQueue: readonly { readonly processed: bigint; readonly issue: bigint }[];
}

/** The xdp_rxq_info program with its counters and config. */
export interface RxqInfoProg extends XdpProg {
  counters(): RxqInfoCounters;
  resetCounters(): void;
  /** Change the verdict it returns. */
  setAction(action: XdpActionValue): void;
}

/**
 * `xdp_rxq_info`, what the reference benchmark ran (`xdp_rxq_info --action XDP_DROP`):
 *
 * ```c
 * rec = &global; rec->processed++;
 * if (ctx->ingress_ifindex != config.ifindex) { rec->issue++; return XDP_ABORTED; }
 * key = ctx->rx_queue_index; if (key >= MAX_RXQS) key = MAX_RXQS;
 * per_queue[key].processed++; if (key == MAX_RXQS) per_queue[key].issue++;
 * return config.action;
 * ```
 *
 * `ingress_ifindex` and `rx_queue_index` are read through `ctx->rxq`, as the kernel's
 * rewrite of those `xdp_md` fields does. Counters are plain increments (one poller per
 * instance at a time, like the per-CPU maps of the original).
 * @throws XdpError EINVAL for a bad action or ifindex.
 */
export function xdpRxqInfo(arena: TextArena, options: { action: XdpActionValue; ifindex: number }): RxqInfoProg {
  assertArena(arena, 'xdpRxqInfo');
  const opts = optionsObject(options, 'xdpRxqInfo');
  if (!Object.values(XdpAction).includes(opts.action as XdpActionValue)) throw new XdpError('EINVAL', `xdpRxqInfo: action ${String(opts.action)} is not an XDP action`);
  const ifindex = opts.ifindex;
  if (!Number.isInteger(ifindex) || (ifindex as number) < 0 || (ifindex as number) > 0x7fffffff) throw new XdpError('EINVAL', `xdpRxqInfo: bad ifindex ${String(ifindex)}`);
  const data = arena.allocData(RXQ_INFO.size, RxqInfoConfigStruct.align);
  const config = RxqInfoConfigStruct.view(arena, data);
  config.set('action', opts.action as number);
  config.set('ifindex', ifindex as number);
  const record = (q: number) => RxqInfoRecordStruct.view(arena, data, RXQ_INFO.perQueue + q * RXQ_INFO.recordSize);
  return buildXdpProg(arena, 'xdp_rxq_info', undefined, (b) => {
    const mismatch = b.newLabel();
    const inRange = b.newLabel();
    const done = b.newLabel();
    mov(b, 'rax', data.address);
    inc(b, qword('rax', RXQ_INFO.processed));
    mov(b, 'rcx', qword('rdi', XDP_BUFF.rxq));
    mov(b, 'edx', dword('rcx', XDP_RXQ.ifindex));
    alu(b, 'cmp', 'edx', dword('rax', RXQ_INFO.ifindex));
    jcc(b, 'ne', mismatch);
    mov(b, 'edx', dword('rcx', XDP_RXQ.queueIndex));
    alu(b, 'cmp', 'edx', RXQ_INFO_MAX_RXQS);
    jcc(b, 'b', inRange, 'short');
    mov(b, 'edx', RXQ_INFO_MAX_RXQS);
    shift(b, 'shl', 'rdx', 4);
    lea(b, 'rcx', ptr('rax', RXQ_INFO.perQueue));
    alu(b, 'add', 'rcx', 'rdx');
    inc(b, qword('rcx', 0));
    inc(b, qword('rcx', 8));
    mov(b, 'eax', dword('rax', RXQ_INFO.action));
    ret(b);
    b.bind(inRange);
    shift(b, 'shl', 'rdx', 4);
    lea(b, 'rcx', ptr('rax', RXQ_INFO.perQueue));
    alu(b, 'add', 'rcx', 'rdx');
    inc(b, qword('rcx', 0));
    b.bind(done);
    mov(b, 'eax', dword('rax', RXQ_INFO.action));
    ret(b);
    b.bind(mismatch);
    inc(b, qword('rax', RXQ_INFO.issue));
    mov(b, 'eax', XdpAction.ABORTED);
    ret(b);
  }, [data], (_base, live) => ({
    counters: (): RxqInfoCounters => {
      live('counters');
      const perQueue = Array.from({ length: RXQ_INFO_MAX_RXQS + 1 }, (_, q) => {
        const r = record(q);
        return { processed: r.get('processed'), issue: r.get('issue') };
      });
      return { processed: config.get('processed'), issue: config.get('issue'), perQueue };
    },
    resetCounters: () => {
      live('resetCounters');
      config.set('processed', 0n);
      config.set('issue', 0n);
      for (let q = 0; q <= RXQ_INFO_MAX_RXQS; q++) record(q).clear();
    },
    setAction: (action: XdpActionValue) => {
      live('setAction');
      if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `setAction: ${String(action)} is not an XDP action`);
      config.set('action', action);
    },
  }));
}
