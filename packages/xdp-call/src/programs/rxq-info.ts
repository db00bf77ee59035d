import type { BpfObject } from '@bpf-dispatcher/bpf-object';
import { type BpfMap, structCodec, u32 } from '@bpf-dispatcher/runtime';
import { type TextArena, defineStruct } from '@bpf-dispatcher/text-poke';
import { XdpAction, type XdpActionValue } from '../actions.js';
import { XdpError } from '../errors.js';
import { objectXdpProg } from '../object-prog.js';
import { assertArena, optionsObject } from '../validate.js';
import type { XdpProg } from '../xdp-prog.js';
import { openBundledObject } from './bundled.js';

/** Receive queues with their own counters; higher queue indexes share the last record. */
export const RXQ_INFO_MAX_RXQS = 64;

/** xdp_rxq_info's `struct config`, the value of its `config_map` (12 bytes). */
export const RxqInfoConfigStruct = defineStruct('config', { action: 'u32', ifindex: 'u32', options: 'u32' }, { size: 12, align: 4 });

/** xdp_rxq_info's `struct datarec` (`{ processed, issue }`), the value of its per-CPU maps: 16 bytes. */
export const RxqInfoRecordStruct = defineStruct('datarec', { processed: 'u64', issue: 'u64' });

/** xdp_rxq_info's options: read the Ethernet header (`READ_MEM`), swap the MAC addresses (`SWAP_MAC`). */
export const RXQ_INFO_OPTIONS = Object.freeze({ READ_MEM: 0x1, SWAP_MAC: 0x2 });

/** Counters of an xdp_rxq_info instance (summed over CPUs). */
export interface RxqInfoCounters {
  readonly processed: bigint;
  /** Packets whose ingress ifindex was not the configured one. */
  readonly issue: bigint;
  /** Per receive queue, indexes 0 .. MAX_RXQS (the last counts queues beyond). */
  readonly perQueue: readonly { readonly processed: bigint; readonly issue: bigint }[];
}

/** The xdp_rxq_info program with its maps. */
export interface RxqInfoProg extends XdpProg {
  /** The counters, summed over CPUs (per-CPU maps read the way `bpftool map dump` totals them). */
  counters(): RxqInfoCounters;
  /** Zero every counter on every CPU. */
  resetCounters(): void;
  /** Change the verdict it returns (`config_map`, read by the program on every packet). */
  setAction(action: XdpActionValue): void;
  /** The loaded object (its maps: `config_map`, `stats_global_map`, `rx_queue_index_map`). */
  readonly object: BpfObject;
}

/** Options of {@link xdpRxqInfo}. */
export interface RxqInfoOptions {
  /** The verdict it returns. */
  readonly action: XdpActionValue;
  /** The ingress ifindex it expects; packets from another netdev count as `issue` and get XDP_ABORTED. */
  readonly ifindex: number;
  /** {@link RXQ_INFO_OPTIONS} bits (default 0). */
  readonly options?: number;
}

const record = structCodec(RxqInfoRecordStruct);
const config = structCodec(RxqInfoConfigStruct);

/**
 * `xdp_rxq_info`, what the reference benchmark ran (`xdp_rxq_info --action XDP_DROP`): the
 * eBPF program compiled from `bpf/xdp_rxq_info.bpf.c`, loaded into `arena` with its three
 * maps in native memory. Per packet: the global `processed` count; an ingress ifindex other
 * than the configured one counts as `issue` and gives XDP_ABORTED; the per-queue record of
 * `min(rx_queue_index, 64)`; with READ_MEM or SWAP_MAC the Ethernet header is checked (and
 * the MAC addresses swapped for XDP_TX or SWAP_MAC); then the configured verdict.
 * @throws XdpError EINVAL for a bad action, ifindex or options; the loader's errors.
 */
export function xdpRxqInfo(arena: TextArena, options: RxqInfoOptions): RxqInfoProg {
  assertArena(arena, 'xdpRxqInfo');
  const opts = optionsObject(options, 'xdpRxqInfo');
  const action = opts.action as XdpActionValue;
  if (!Object.values(XdpAction).includes(action)) throw new XdpError('EINVAL', `xdpRxqInfo: action ${String(opts.action)} is not an XDP action`);
  const ifindex = opts.ifindex;
  if (!Number.isInteger(ifindex) || (ifindex as number) < 0 || (ifindex as number) > 0x7fffffff) throw new XdpError('EINVAL', `xdpRxqInfo: bad ifindex ${String(ifindex)}`);
  const flags = opts.options ?? 0;
  if (!Number.isInteger(flags) || (flags as number) < 0 || (flags as number) > 3) throw new XdpError('EINVAL', `xdpRxqInfo: options must be a combination of RXQ_INFO_OPTIONS, got ${String(flags)}`);
  const object = openBundledObject('xdp_rxq_info');
  let configMap: BpfMap;
  let global: BpfMap;
  let queues: BpfMap;
  try {
    object.load(arena);
    configMap = object.map('config_map').map;
    global = object.map('stats_global_map').map;
    queues = object.map('rx_queue_index_map').map;
    configMap.typed(u32, config).set(0, { action, ifindex: ifindex as number, options: flags as number });
  } catch (error) {
    object.close();
    throw error;
  }
  const records = (map: BpfMap) => map.typed(u32, record);
  const sum = (map: BpfMap, key: number) => {
    const r = records(map).get(key) as { processed: bigint; issue: bigint };
    return { processed: BigInt(r.processed), issue: BigInt(r.issue) };
  };
  try {
    return objectXdpProg(object.program('xdp_rxq_info'), { onDispose: () => object.close() }, (_base, live) => ({
    object,
    counters: (): RxqInfoCounters => {
      live('counters');
      const g = sum(global, 0);
      return { ...g, perQueue: Array.from({ length: RXQ_INFO_MAX_RXQS + 1 }, (_, q) => sum(queues, q)) };
    },
    resetCounters: () => {
      live('resetCounters');
      const zero = new Uint8Array(RxqInfoRecordStruct.size);
      global.update(0, zero);
      for (let q = 0; q <= RXQ_INFO_MAX_RXQS; q++) queues.update(q, zero);
    },
    setAction: (next: XdpActionValue) => {
      live('setAction');
      if (!Object.values(XdpAction).includes(next)) throw new XdpError('EINVAL', `setAction: ${String(next)} is not an XDP action`);
      const typed = configMap.typed(u32, config);
      typed.set(0, { ...(typed.get(0) as Record<string, number>), action: next } as never);
    },
    }));
  } catch (error) {
    object.close();
    throw error;
  }
}
