import { I40eError } from '../errors.js';
import { describe } from '../validate.js';
import type { UdpFlow } from './packet.js';

/** Most flows a device replays (packet k of a ring carries flow k mod flows.length). */
export const MAX_FLOWS = 4096;

/**
 * `count` distinct UDP flows: 10.0.0.(i+1):(1024+i) -> 10.0.1.1:(1000 + i).
 * @throws I40eError EINVAL unless `count` is an integer from 1 to 4096.
 */
export function defaultFlows(count = 8): UdpFlow[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_FLOWS)
    throw new I40eError('EINVAL', `defaultFlows: count must be an integer from 1 to ${MAX_FLOWS}, got ${describe(count)}`);
  return Array.from({ length: count }, (_, i) => ({
    srcMac: [0x02, 0x00, 0x00, 0x00, 0x01, i & 0xff],
    dstMac: [0x02, 0x00, 0x00, 0x00, 0x02, 0x01],
    srcIp: (0x0a000000 + i + 1) >>> 0,
    dstIp: 0x0a000101,
    srcPort: 1024 + i,
    dstPort: 1000 + i,
  }));
}
