import type { TextArena } from '@bpf-dispatcher/text-poke';
import { alu, dword, inc, jcc, lea, mov, ptr, qword, ret, shift } from '@bpf-dispatcher/x86';
import { XdpAction, type XdpActionValue } from '../actions.js';
import { XdpError } from '../errors.js';
import { XDP_BUFF, XDP_RXQ } from '../layout.js';
import { assertArena, optionsObject, u64 } from '../validate.js';
import { type XdpProg, buildXdpProg } from '../xdp-prog.js';

/** Receive queues with their own counters; higher queue indexes share the last record. */
export const RXQ_INFO_MAX_RXQS = 64;

/** Layout of xdp_rxq_info's config and counters in data memory. */
export const RXQ_INFO = Object.freeze({
  action: 0,
  ifindex: 4,
  processed: 8,
  issue: 16,
  /** `{ processed, issue }` records for queues 0 .. MAX_RXQS (the last one for overflow). */
  perQueue: 64,
  recordSize: 16,
  size: 64 + 16 * (RXQ_INFO_MAX_RXQS + 1),
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
  const data = arena.allocData(RXQ_INFO.size);
  const config = new Uint8Array(8);
  const c = new DataView(config.buffer);
  c.setUint32(RXQ_INFO.action, opts.action as number, true);
  c.setUint32(RXQ_INFO.ifindex, ifindex as number, true);
  arena.write(data.address + BigInt(RXQ_INFO.action), config);
  return buildXdpProg(arena, 'xdp_rxq_info', 160, (b) => {
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
      const bytes = arena.read(data.address, RXQ_INFO.size);
      const perQueue = Array.from({ length: RXQ_INFO_MAX_RXQS + 1 }, (_, q) => ({
        processed: u64(bytes, RXQ_INFO.perQueue + q * RXQ_INFO.recordSize),
        issue: u64(bytes, RXQ_INFO.perQueue + q * RXQ_INFO.recordSize + 8),
      }));
      return { processed: u64(bytes, RXQ_INFO.processed), issue: u64(bytes, RXQ_INFO.issue), perQueue };
    },
    resetCounters: () => {
      live('resetCounters');
      arena.write(data.address + BigInt(RXQ_INFO.processed), new Uint8Array(RXQ_INFO.size - RXQ_INFO.processed));
    },
    setAction: (action: XdpActionValue) => {
      live('setAction');
      if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `setAction: ${String(action)} is not an XDP action`);
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, action, true);
      arena.write(data.address + BigInt(RXQ_INFO.action), bytes);
    },
  }));
}
