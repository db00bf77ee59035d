import { describe, expect, it } from 'vitest';
import { defaultFlows } from './flows.js';
import { buildUdpFrame, internetChecksum, parseUdpFrame, type UdpFlow } from './packet.js';

const FLOW: UdpFlow = {
  srcMac: [0x02, 0, 0, 0, 0, 0x01],
  dstMac: [0x02, 0, 0, 0, 0, 0x02],
  srcIp: 0x0a000001,
  dstIp: 0x0a000002,
  srcPort: 1234,
  dstPort: 9,
};

describe('traffic', () => {
  it('computes the Internet checksum (RFC 1071 example header)', () => {
    const header = Uint8Array.from(Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex'));
    expect(internetChecksum(header).toString(16)).toBe('b861');
  });

  it('builds 64-byte Ethernet/IPv4/UDP frames with correct checksums', () => {
    for (const dstPort of [0, 9, 53, 65535]) {
      const frame = buildUdpFrame({ ...FLOW, dstPort }, 64, dstPort);
      expect(frame.length).toBe(64);
      expect(parseUdpFrame(frame)).toMatchObject({ dstPort, srcPort: 1234, ipChecksumOk: true, udpChecksumOk: true });
    }
    // the bytes are pinned: xdp-call's tests keep this frame as a fixture
    expect(Buffer.from(buildUdpFrame(FLOW)).toString('hex')).toBe(
      '02000000000202000000000108004500003200004000401126b90a0000010a00000204d20009001e785b000102030405060708090a0b0c0d0e0f101112131415',
    );
    const corrupt = buildUdpFrame(FLOW);
    corrupt[50] = (corrupt[50] ?? 0) ^ 1;
    expect(parseUdpFrame(corrupt).udpChecksumOk).toBe(false);
    expect(() => buildUdpFrame({ ...FLOW, srcPort: 70000 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => buildUdpFrame(FLOW, 20)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('bad arguments are typed EINVAL errors', () => {
    const cases: [string, () => unknown][] = [
      ['buildUdpFrame(null)', () => buildUdpFrame(null as never)],
      ['buildUdpFrame ipId', () => buildUdpFrame(FLOW, 64, 1n as never)],
      ['parseUdpFrame(null)', () => parseUdpFrame(null as never)],
      ['internetChecksum(null)', () => internetChecksum(null as never)],
      ['internetChecksum initial', () => internetChecksum(new Uint8Array(2), 'x' as never)],
      ['defaultFlows(0)', () => defaultFlows(0)],
    ];
    for (const [name, run] of cases) expect(run, name).toThrow(expect.objectContaining({ name: 'I40eError', code: 'EINVAL' }));
  });
});
