import { I40eError } from '../errors.js';

/** One UDP flow of generated traffic. */
export interface UdpFlow {
  /** 6-byte MAC addresses. */
  readonly srcMac: readonly number[];
  readonly dstMac: readonly number[];
  /** IPv4 addresses as 32-bit numbers (e.g. 0x0a000001 = 10.0.0.1). */
  readonly srcIp: number;
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

/** Bytes of the Ethernet, IPv4 and UDP headers. */
export const UDP_HEADERS = 14 + 20 + 8;

/** The Internet checksum (RFC 1071) of `bytes`, plus an optional partial sum. @throws I40eError EINVAL for bad arguments. */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  if (!(bytes instanceof Uint8Array)) throw new I40eError('EINVAL', 'internetChecksum: bytes must be a Uint8Array');
  if (!Number.isInteger(initial) || initial < 0 || initial > 0xffff_ffff)
    throw new I40eError('EINVAL', `internetChecksum: initial must be an integer from 0 to 2^32-1, got ${String(initial)}`);
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function checkFlow(flow: UdpFlow): void {
  if (typeof flow !== 'object' || flow === null) throw new I40eError('EINVAL', 'buildUdpFrame: flow must be an object');
  const mac = (m: readonly number[]) => Array.isArray(m) && m.length === 6 && m.every((b) => Number.isInteger(b) && b >= 0 && b <= 255);
  const u32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
  const u16 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffff;
  if (!mac(flow?.srcMac) || !mac(flow.dstMac) || !u32(flow.srcIp) || !u32(flow.dstIp) || !u16(flow.srcPort) || !u16(flow.dstPort)) {
    throw new I40eError('EINVAL', 'buildUdpFrame: flow needs 6-byte MACs, 32-bit IPv4 addresses and 16-bit ports');
  }
}

/**
 * A valid Ethernet/IPv4/UDP frame of `length` bytes (default 64, the reference
 * benchmark's size, FCS excluded): IPv4 header checksum and UDP checksum (with the
 * pseudo-header) both correct; the payload is a counter pattern.
 * @throws I40eError EINVAL for a bad flow, a length outside 42..1514 or an ipId that is not an integer.
 */
export function buildUdpFrame(flow: UdpFlow, length = 64, ipId = 0): Uint8Array {
  checkFlow(flow);
  if (!Number.isInteger(length) || length < UDP_HEADERS || length > 1514)
    throw new I40eError('EINVAL', `buildUdpFrame: length must be ${UDP_HEADERS}..1514, got ${String(length)}`);
  if (!Number.isSafeInteger(ipId)) throw new I40eError('EINVAL', `buildUdpFrame: ipId must be an integer, got ${String(ipId)}`);
  const frame = new Uint8Array(length);
  const v = new DataView(frame.buffer);
  frame.set(flow.dstMac, 0);
  frame.set(flow.srcMac, 6);
  v.setUint16(12, 0x0800);
  const ipLength = length - 14;
  const udpLength = ipLength - 20;
  v.setUint8(14, 0x45);
  v.setUint8(15, 0);
  v.setUint16(16, ipLength);
  v.setUint16(18, ipId & 0xffff);
  v.setUint16(20, 0x4000); // don't fragment
  v.setUint8(22, 64); // ttl
  v.setUint8(23, 17); // UDP
  v.setUint32(26, flow.srcIp);
  v.setUint32(30, flow.dstIp);
  v.setUint16(24, internetChecksum(frame.subarray(14, 34)));
  v.setUint16(34, flow.srcPort);
  v.setUint16(36, flow.dstPort);
  v.setUint16(38, udpLength);
  for (let i = UDP_HEADERS; i < length; i++) frame[i] = (i - UDP_HEADERS) & 0xff;
  const pseudo = new Uint8Array(12);
  const p = new DataView(pseudo.buffer);
  p.setUint32(0, flow.srcIp);
  p.setUint32(4, flow.dstIp);
  p.setUint16(8, 17);
  p.setUint16(10, udpLength);
  const partial = ~internetChecksum(pseudo) & 0xffff;
  const udpSum = internetChecksum(frame.subarray(34), partial);
  v.setUint16(40, udpSum === 0 ? 0xffff : udpSum);
  return frame;
}

/** Parsed headers of a frame (for tests and verification). */
export interface ParsedUdpFrame {
  readonly dstMac: number[];
  readonly srcMac: number[];
  readonly dstPort: number;
  readonly srcPort: number;
  readonly ipChecksumOk: boolean;
  readonly udpChecksumOk: boolean;
}

/** Parse and verify a frame built by {@link buildUdpFrame}. @throws I40eError EINVAL if it is not IPv4/UDP. */
export function parseUdpFrame(frame: Uint8Array): ParsedUdpFrame {
  if (!(frame instanceof Uint8Array)) throw new I40eError('EINVAL', 'parseUdpFrame: frame must be a Uint8Array');
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  if (frame.length < UDP_HEADERS || v.getUint16(12) !== 0x0800 || v.getUint8(23) !== 17)
    throw new I40eError('EINVAL', 'parseUdpFrame: not an IPv4/UDP frame');
  const ipLength = v.getUint16(16);
  const udpLength = v.getUint16(38);
  const pseudo = new Uint8Array(12);
  const p = new DataView(pseudo.buffer);
  pseudo.set(frame.subarray(26, 34), 0);
  p.setUint16(8, 17);
  p.setUint16(10, udpLength);
  const partial = ~internetChecksum(pseudo) & 0xffff;
  return {
    dstMac: [...frame.subarray(0, 6)],
    srcMac: [...frame.subarray(6, 12)],
    srcPort: v.getUint16(34),
    dstPort: v.getUint16(36),
    ipChecksumOk: internetChecksum(frame.subarray(14, 34)) === 0 && ipLength === frame.length - 14,
    udpChecksumOk: internetChecksum(frame.subarray(34, 34 + udpLength), partial) === 0,
  };
}
