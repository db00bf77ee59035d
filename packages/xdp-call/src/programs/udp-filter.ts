import { type TextArena, defineStruct } from '@bpf-dispatcher/text-poke';
import { alu, byte, inc, jcc, lea, mov, movzx, ptr, qword, ret, shift, word } from '@bpf-dispatcher/x86';
import { XdpAction } from '../actions.js';
import { XdpError } from '../errors.js';
import { XDP_BUFF } from '../layout.js';
import { assertArena, optionsObject } from '../validate.js';
import { type XdpProg, buildXdpProg } from '../xdp-prog.js';

/**
 * xdp_udp_filter's config and counters in data memory: `port` is a `__be16` (network
 * byte order, as the packet holds it), then the two counters. 64 bytes.
 */
export const UdpFilterStruct = defineStruct('udp_filter', { port: 'u16', dropped: 'u64', passed: 'u64' }, { size: 64 });

/** Layout of xdp_udp_filter's config and counters (from {@link UdpFilterStruct}). */
export const UDP_FILTER = Object.freeze({ ...UdpFilterStruct.offsets, size: UdpFilterStruct.size });

/** The UDP port filter with its counters. */
export interface UdpFilterProg extends XdpProg {
  counters(): { readonly dropped: bigint; readonly passed: bigint };
}

/**
 * `xdp_udp_filter`: drop IPv4/UDP packets to one destination port, pass everything else.
 * Every header access is bounds-checked against `data_end`, as the verifier demands.
 *
 * ```c
 * struct ethhdr *eth = data;             if (eth + 1 > end) goto pass;
 * if (eth->h_proto != htons(ETH_P_IP))   goto pass;
 * struct iphdr *ip = eth + 1;            if (ip + 1 > end) goto pass;
 * if (ip->version != 4 || ip->ihl < 5)   goto pass;
 * if (ip->protocol != IPPROTO_UDP)       goto pass;
 * struct udphdr *udp = (void *)ip + ip->ihl * 4;  if (udp + 1 > end) goto pass;
 * if (udp->dest == htons(port)) { dropped++; return XDP_DROP; }
 * pass: passed++; return XDP_PASS;
 * ```
 * @throws XdpError EINVAL for a port outside 0..65535.
 */
export function xdpUdpFilter(arena: TextArena, options: { port: number }): UdpFilterProg {
  assertArena(arena, 'xdpUdpFilter');
  const port = optionsObject(options, 'xdpUdpFilter').port as number;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new XdpError('EINVAL', `xdpUdpFilter: port must be 0..65535, got ${String(port)}`);
  const data = arena.allocData(UDP_FILTER.size, UdpFilterStruct.align);
  const fields = UdpFilterStruct.view(arena, data);
  // the port in network byte order, as the packet holds it (the accessor stores little-endian)
  fields.set('port', ((port & 0xff) << 8) | (port >> 8));
  return buildXdpProg(arena, 'xdp_udp_filter', undefined, (b) => {
    const pass = b.newLabel();
    mov(b, 'rax', qword('rdi', XDP_BUFF.data));
    mov(b, 'rcx', qword('rdi', XDP_BUFF.dataEnd));
    lea(b, 'rdx', ptr('rax', 14 + 20));
    alu(b, 'cmp', 'rdx', 'rcx');
    jcc(b, 'a', pass);
    alu(b, 'cmp', word('rax', 12), 0x0008); // h_proto == htons(0x0800)
    jcc(b, 'ne', pass);
    movzx(b, 'edx', byte('rax', 14)); // version/ihl
    mov(b, 'r8d', 'edx');
    shift(b, 'shr', 'r8d', 4);
    alu(b, 'cmp', 'r8d', 4);
    jcc(b, 'ne', pass);
    alu(b, 'and', 'edx', 15);
    alu(b, 'cmp', 'edx', 5);
    jcc(b, 'b', pass);
    alu(b, 'cmp', byte('rax', 14 + 9), 17); // protocol == UDP
    jcc(b, 'ne', pass);
    shift(b, 'shl', 'edx', 2);
    lea(b, 'rax', ptr('rax', 14));
    alu(b, 'add', 'rax', 'rdx'); // udp header
    lea(b, 'rdx', ptr('rax', 8));
    alu(b, 'cmp', 'rdx', 'rcx');
    jcc(b, 'a', pass);
    movzx(b, 'edx', word('rax', 2)); // dest port, network order
    mov(b, 'rax', data.address);
    movzx(b, 'r8d', word('rax', UDP_FILTER.port));
    alu(b, 'cmp', 'edx', 'r8d');
    jcc(b, 'ne', pass);
    inc(b, qword('rax', UDP_FILTER.dropped));
    mov(b, 'eax', XdpAction.DROP);
    ret(b);
    b.bind(pass);
    mov(b, 'rax', data.address);
    inc(b, qword('rax', UDP_FILTER.passed));
    mov(b, 'eax', XdpAction.PASS);
    ret(b);
  }, [data], (_base, live) => ({
    counters: () => {
      live('counters');
      return { dropped: fields.get('dropped'), passed: fields.get('passed') };
    },
  }));
}
