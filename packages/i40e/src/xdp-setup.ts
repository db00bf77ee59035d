import type { ChangeOutcome } from '@bpf-dispatcher/dispatcher';
import { type XdpProg, isXdpProg, xdpCallUpdate } from '@bpf-dispatcher/xdp-call';
import { Netdev } from './device.js';
import { I40eError } from './errors.js';

/**
 * `i40e_xdp_setup(vsi, prog)`: swap the program on every rx ring of `netdev` (one atomic
 * store each, so the poll loop's READ_ONCE sees the old or the new program), then
 * `xdp_call_update(i40e_xdp_call, old, prog)`. The same program on several netdevs shares
 * one dispatcher slot (users > 1). Calls on one device are serialised.
 *
 * If the update fails the rings get their old program back and the error is rethrown:
 * nothing changes. On a device created with `dispatcher: false` only the rings change.
 * @throws I40eError UNKNOWN_NETDEV for a netdev of no (live) device; EINVAL for a value
 *   that is not an XdpProg of the device's arena; NOT_ATTACHED to detach when nothing is
 *   attached; DISPOSED. DispatcherError from the update.
 */
export function i40eXdpSetup(netdev: Netdev, prog: XdpProg | null): Promise<ChangeOutcome | null> {
  try {
    if (!(netdev instanceof Netdev)) throw new I40eError('UNKNOWN_NETDEV', 'i40eXdpSetup: not a netdev of an i40e device');
    const device = netdev.device;
    device.check();
    if (prog !== null && (!isXdpProg(prog) || prog.arena !== device.arena)) {
      throw new I40eError('EINVAL', `i40eXdpSetup: prog must be an XdpProg of the device's arena or null, got ${prog === undefined ? 'undefined' : typeof prog}`);
    }
    const run = device.setupQueue.then(async () => {
      device.check();
      const old = netdev.prog;
      if (prog === null && old === null) throw new I40eError('NOT_ATTACHED', `i40eXdpSetup(${netdev.name}, null): no program is attached`);
      if (old === prog) return null;
      for (const ring of netdev.rings) ring.setProgStruct(prog?.struct ?? 0n);
      if (!device.useDispatcher) {
        netdev.prog = prog;
        return null;
      }
      try {
        const outcome = await xdpCallUpdate(device.xdpCall, old, prog);
        netdev.prog = prog;
        return outcome;
      } catch (error) {
        for (const ring of netdev.rings) ring.setProgStruct(old?.struct ?? 0n);
        throw error;
      }
    });
    device.setupQueue = run.catch(() => undefined);
    return run;
  } catch (error) {
    return Promise.reject(error);
  }
}
