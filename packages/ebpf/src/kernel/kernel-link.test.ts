import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../insn.js';
import { BPF_ATTACH_TYPE, KernelError, KernelLink, XDP_FLAGS, kernelBpfAvailable, kernelLinkCreate, kernelProgInfo, kernelProgLoad } from './index.js';

const mov = (dst: number, imm: number): Insn => ({ code: 0xb7, dst, src: 0, off: 0, imm });
const exit: Insn = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
const CLONE_NEWNET = 0x4000_0000;

/**
 * Run `body` in a fresh network namespace of this thread (`unshare(CLONE_NEWNET)`: only
 * `lo`, ifindex 1, down), then return to the namespace the thread was in (`setns`), even
 * when `body` throws. Undefined when namespaces cannot be created here (not root), with the reason.
 */
function netnsRunner(): { run: <T>(body: () => T) => T } | { reason: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { reason: 'needs x86-64 Linux' };
  let unshare: (flags: number) => number;
  let setns: (fd: number, type: number) => number;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(s: string): (...a: unknown[]) => unknown } };
    const lib = koffi.load('libc.so.6');
    const u = lib.func('int unshare(int flags)');
    const s = lib.func('int setns(int fd, int nstype)');
    unshare = (flags) => u(flags) as number;
    setns = (fd, type) => s(fd, type) as number;
  } catch (error) {
    return { reason: `koffi/libc: ${String(error)}` };
  }
  const run = <T>(body: () => T): T => {
    const home = openSync('/proc/thread-self/ns/net', 'r');
    try {
      if (unshare(CLONE_NEWNET) !== 0) throw new Error('unshare(CLONE_NEWNET) failed');
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: body() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (setns(home, CLONE_NEWNET) !== 0) throw new Error('setns back to the original network namespace failed');
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    } finally {
      closeSync(home);
    }
  };
  // probe once
  try {
    run(() => undefined);
  } catch (error) {
    return { reason: String(error) };
  }
  return { run };
}

const available = kernelBpfAvailable();
const netns = available.ok ? netnsRunner() : { reason: available.reason };
if ('reason' in netns) console.warn(`BPF link tests skipped: ${netns.reason}`);

describe('kernelLinkCreate: options', () => {
  it('refuses bad arguments before calling the kernel', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => kernelLinkCreate({} as never, { targetIfindex: 1 }))).toBe('EINVAL');
    expect(BPF_ATTACH_TYPE.xdp).toBe(37);
    expect(XDP_FLAGS).toEqual({ UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16 });
    if (!available.ok) return;
    using prog = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp', expectedAttachType: 37 });
    for (const bad of [null, { targetIfindex: 0 }, { targetIfindex: -1 }, { targetIfindex: 1.5 }, { targetIfindex: 1, flags: Number.NaN }, { targetIfindex: 1, attachType: -2 }]) {
      expect(code(() => kernelLinkCreate(prog, bad as never)), JSON.stringify(bad)).toBe('EINVAL');
    }
    const closed = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp' });
    closed.close();
    expect(code(() => kernelLinkCreate(closed, { targetIfindex: 1 }))).toBe('EINVAL');
  });
});

describe.skipIf('reason' in netns)('kernelLinkCreate: XDP on lo of a private network namespace', () => {
  const inNetns = <T>(body: () => T): T => (netns as { run: <U>(b: () => U) => U }).run(body);

  it('attaches (generic mode on lo), reports the link, refuses a second program, detaches on close', () => {
    inNetns(() => {
      using pass = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp', expectedAttachType: 37, name: 'link_pass' });
      using other = kernelProgLoad([mov(0, 1), exit], { progType: 'xdp', expectedAttachType: 37, name: 'link_drop' });
      const link = kernelLinkCreate(pass, { targetIfindex: 1 });
      expect(link).toBeInstanceOf(KernelLink);
      expect([link.targetIfindex, link.attachType, link.flags]).toEqual([1, 37, 0]);
      const info = link.info();
      expect(info).toEqual({ type: 6, id: info.id, progId: kernelProgInfo(pass).id, ifindex: 1 });
      expect(info.id).toBeGreaterThan(0);
      // one program per netdev and mode: the second link is refused while the first lives
      expect(() => kernelLinkCreate(other, { targetIfindex: 1 })).toThrow(expect.objectContaining({ code: 'KERNEL', errnoName: 'EBUSY' }));
      link.close();
      link.close(); // idempotent
      expect(link.closed).toBe(true);
      expect(() => link.info()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      using again = kernelLinkCreate(other, { targetIfindex: 1, flags: XDP_FLAGS.SKB_MODE });
      expect(again.info().progId).toBe(kernelProgInfo(other).id);
    });
  });

  it('passes the kernel refusals on as KernelErrors: native mode on lo, an unknown netdev', () => {
    inNetns(() => {
      using pass = kernelProgLoad([mov(0, 2), exit], { progType: 'xdp', expectedAttachType: 37 });
      const refusal = (options: Parameters<typeof kernelLinkCreate>[1]) => {
        try {
          kernelLinkCreate(pass, options).close();
        } catch (error) {
          expect(error).toBeInstanceOf(KernelError);
          const { errno, errnoName } = error as KernelError;
          return errno === 95 ? 'EOPNOTSUPP' : errnoName; // 95 is both EOPNOTSUPP and ENOTSUP on Linux
        }
        return 'attached';
      };
      expect(refusal({ targetIfindex: 1, flags: XDP_FLAGS.DRV_MODE })).toBe('EOPNOTSUPP');
      expect(refusal({ targetIfindex: 4242 })).toBe('EINVAL'); // bpf_xdp_link_attach: no such netdev
      expect(refusal({ targetIfindex: 1, flags: 1 << 20 })).toBe('EINVAL');
    });
  });
});
