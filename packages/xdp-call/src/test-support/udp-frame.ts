/**
 * A fixed test frame for the built-in programs' tests. The traffic generator (builder,
 * parser, checksums) lives in `@bpf-dispatcher/i40e`, the package that replays traffic;
 * xdp-call's tests only need one well-formed frame, kept here as bytes.
 */

/** The MAC addresses of {@link udpFrame}. */
export const FRAME_MACS = Object.freeze({ dst: [0x02, 0, 0, 0, 0, 0x02], src: [0x02, 0, 0, 0, 0, 0x01] });

/** 64 bytes: 02:..:01 -> 02:..:02, IPv4 10.0.0.1 -> 10.0.0.2, UDP 1234 -> 9, checksums valid. */
const FRAME_HEX = '02000000000202000000000108004500003200004000401126b90a0000010a00000204d20009001e785b000102030405060708090a0b0c0d0e0f101112131415';

/**
 * A copy of the test frame, with the UDP destination port set to `dstPort` when given
 * (the UDP checksum is then no longer valid; the built-in programs do not check it).
 */
export function udpFrame(dstPort?: number): Uint8Array {
  const frame = Uint8Array.from(Buffer.from(FRAME_HEX, 'hex'));
  if (dstPort !== undefined) new DataView(frame.buffer).setUint16(36, dstPort);
  return frame;
}
