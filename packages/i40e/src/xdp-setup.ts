import type { ChangeOutcome } from '@bpf-dispatcher/dispatcher';
import { isXdpProg, retainXdpProg, type XdpProg } from '@bpf-dispatcher/xdp-call';
import { I40eDevice, isNetdev, Netdev } from './device.js';
import { I40eError } from './errors.js';
import { RxRing } from './ring.js';
import { describe } from './validate.js';

/**
 * `i40e_xdp_setup(vsi, prog)`: swap the program on every rx ring of `netdev` (one atomic
 * store each, so the poll loop's READ_ONCE sees the old or the new program), then
 * `xdp_call_update(i40e_xdp_call, old, prog)`. The same program on several netdevs shares
 * one dispatcher slot (users > 1): the slot owns that count, the netdev owns its prog
 * pointer and one reference on the program (its `dispose()` refuses with EBUSY until it is
 * detached). Calls on one device run one at a time under the device's own lock.
 *
 * The device's xdp_call belongs to the device (claimed with `claimXdpCall`): what a netdev
 * attached is detached only through this function, so a netdev's program and the
 * dispatcher's users always agree — `xdpCallUpdate(device.xdpCall, prog, …)` for a netdev's
 * program fails with XdpError EPERM (other programs may still be added and removed
 * directly, e.g. extra dispatcher entries for a benchmark).
 *
 * If the update fails the rings get their old program back and the error is rethrown:
 * nothing changes. On a device created with `dispatcher: false` only the rings change.
 * @throws I40eError UNKNOWN_NETDEV for a value that is not a netdev made by an I40eDevice;
 *   EINVAL for a value that is not a live XdpProg (made by xdp-call, not disposed) of the
 *   device's arena; NOT_ATTACHED to detach when nothing is attached; DISPOSED.
 *   DispatcherError from the update.
 */
export function i40eXdpSetup(netdev: Netdev, prog: XdpProg | null): Promise<ChangeOutcome | null> {
  try {
    if (!isNetdev(netdev)) throw new I40eError('UNKNOWN_NETDEV', 'i40eXdpSetup: not a netdev of an i40e device');
    const device = netdev.device;
    device.check('i40eXdpSetup');
    if (prog !== null && (!isXdpProg(prog) || prog.arena !== device.arena)) {
      throw new I40eError(
        'EINVAL',
        `i40eXdpSetup: prog must be a live XdpProg of the device's arena or null, got ${prog === undefined ? 'undefined' : describe(prog)}`,
      );
    }
    return I40eDevice.serialise(device, async () => {
      device.check('i40eXdpSetup');
      const old = netdev.xdpProg;
      if (prog === null && old === null) throw new I40eError('NOT_ATTACHED', `i40eXdpSetup(${netdev.name}, null): no program is attached`);
      if (old === prog) return null;
      if (prog !== null && !isXdpProg(prog)) throw new I40eError('EINVAL', `i40eXdpSetup: ${(prog as XdpProg).name} was disposed`);
      const release = prog === null ? null : retainXdpProg(prog);
      for (const ring of netdev.rings) RxRing.setProgStruct(ring, prog?.struct ?? 0n);
      if (!device.useDispatcher) {
        Netdev.setProg(netdev, prog, release);
        return null;
      }
      try {
        const outcome = await I40eDevice.claimOf(device).update(old, prog);
        Netdev.setProg(netdev, prog, release);
        return outcome;
      } catch (error) {
        release?.();
        if (!device.arena.disposed) for (const ring of netdev.rings) RxRing.setProgStruct(ring, old?.struct ?? 0n);
        throw error;
      }
    });
  } catch (error) {
    return Promise.reject(error);
  }
}
