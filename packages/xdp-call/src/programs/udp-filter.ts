import type { BpfObject } from '@bpf-dispatcher/bpf-object';
import type { TextArena } from '@bpf-dispatcher/text-poke';
import { XdpError } from '../errors.js';
import { objectXdpProg } from '../object-prog.js';
import { assertArena, optionsObject } from '../validate.js';
import type { XdpProg } from '../xdp-prog.js';
import { openBundledObject } from './bundled.js';

/** The UDP port filter with its counters. */
export interface UdpFilterProg extends XdpProg {
  counters(): { readonly dropped: bigint; readonly passed: bigint };
  /** The loaded object (`.rodata` `filter_port`, `.bss` `dropped` and `passed`). */
  readonly object: BpfObject;
}

const u64 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);

/**
 * `xdp_udp_filter`, compiled from `bpf/xdp_udp_filter.bpf.c`: drop IPv4/UDP packets to one
 * destination port, pass everything else, with every header access bounds-checked against
 * `data_end`. The port is the object's `.rodata` `filter_port`, set before load; the
 * counters are its `.bss` globals `dropped` and `passed`.
 * @throws XdpError EINVAL for a port outside 0..65535; the loader's errors.
 */
export function xdpUdpFilter(arena: TextArena, options: { port: number }): UdpFilterProg {
  assertArena(arena, 'xdpUdpFilter');
  const port = optionsObject(options, 'xdpUdpFilter').port as number;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new XdpError('EINVAL', `xdpUdpFilter: port must be 0..65535, got ${String(port)}`);
  const object = openBundledObject('xdp_udp_filter');
  try {
    object.map('.rodata').setVariable('filter_port', port);
    object.load(arena);
    const bss = object.map('.bss');
    return objectXdpProg(object.program('xdp_udp_filter'), { onDispose: () => object.close() }, (_base, live) => ({
      object,
      counters: () => {
        live('counters');
        return { dropped: u64(bss.getVariable('dropped')), passed: u64(bss.getVariable('passed')) };
      },
    }));
  } catch (error) {
    object.close();
    throw error;
  }
}
