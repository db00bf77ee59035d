/**
 * The kernel's side of the veth benchmark, on the same `xsk0` with the same generator:
 * - `kernel-native`: `xdp_rxq_info.bpf.o` (the object our cases run) loaded into the kernel
 *   with bpf() and attached to `xsk0` in driver mode (`BPF_LINK_CREATE`, XDP_FLAGS_DRV_MODE),
 *   config `{ DROP, ifindex of xsk0, options 0 }`; processed = its `stats_global_map`
 *   (per-CPU, summed);
 * - `veth-xdp-drop`: `r0 = XDP_DROP; exit` attached the same way — the generator, veth and
 *   the least XDP program: the floor every case stands on;
 * - `generator-only`: nothing attached; the generator's own program drops every frame on
 *   `peer0` (never transmitted) — the generator's own cost.
 * Each is attached for its turn only (a netdev has one driver-mode program: our devices'
 * redirect program takes the slot in theirs).
 */
import { type KernelObject, loadObjectIntoKernel } from '@bpf-dispatcher/bpf-object';
import { BPF_ATTACH_TYPE, type KernelLink, type KernelProg, kernelLinkCreate, kernelProgLoad, XDP_FLAGS } from '@bpf-dispatcher/ebpf';
import { structCodec } from '@bpf-dispatcher/runtime';
import { openBundledObject, RxqInfoConfigStruct, XdpAction } from '@bpf-dispatcher/xdp-call';
import type { GeneratorProgram } from './veth-protocol.js';

/** The kernel cases. */
export const KERNEL_CASES = Object.freeze(['kernel-native', 'veth-xdp-drop', 'generator-only'] as const);
/** One of {@link KERNEL_CASES}. */
export type KernelCaseName = (typeof KERNEL_CASES)[number];

/** A kernel program ready to be attached to `xsk0` for a case's turn. */
export interface KernelCase {
  readonly name: KernelCaseName;
  /** The generator's program for this case. */
  readonly program: GeneratorProgram;
  /** Attach it (driver mode). @throws KernelError if the kernel refuses. */
  attach(): void;
  /** Detach it (close the link). Idempotent. */
  detach(): void;
  /** Packets its program counted so far (null: it counts nothing; the link statistics do). */
  counted(): { processed: bigint; issue: bigint } | null;
  dispose(): void;
}

function linked(name: KernelCaseName, prog: KernelProg, ifindex: number, counted: KernelCase['counted'], close: () => void): KernelCase {
  let link: KernelLink | undefined;
  const detach = () => {
    link?.close();
    link = undefined;
  };
  return {
    name,
    program: 'tx',
    attach: () => {
      detach();
      link = kernelLinkCreate(prog, { targetIfindex: ifindex, flags: XDP_FLAGS.DRV_MODE });
    },
    detach,
    counted,
    dispose: () => {
      detach();
      close();
    },
  };
}

/** `kernel-native` on `ifindex` (the calling thread must be in the test namespace). */
export function kernelNativeCase(ifindex: number): KernelCase {
  const object = openBundledObject('xdp_rxq_info');
  let kernel: KernelObject | undefined;
  try {
    kernel = loadObjectIntoKernel(object);
    const config = structCodec(RxqInfoConfigStruct).encode({ action: XdpAction.DROP, ifindex, options: 0 });
    kernel.map('config_map').update(Uint8Array.of(0, 0, 0, 0), config);
    const stats = kernel.map('stats_global_map');
    const k = kernel;
    return linked(
      'kernel-native',
      kernel.program('xdp_rxq_info'),
      ifindex,
      () => {
        // struct datarec { u64 processed; u64 issue; } per CPU, summed as bpftool does
        const value = stats.lookup(Uint8Array.of(0, 0, 0, 0));
        let processed = 0n;
        let issue = 0n;
        if (value !== undefined)
          for (let at = 0; at + 16 <= value.length; at += 16) {
            const v = new DataView(value.buffer, value.byteOffset + at, 16);
            processed += v.getBigUint64(0, true);
            issue += v.getBigUint64(8, true);
          }
        return { processed, issue };
      },
      () => {
        k.close();
        void object.close();
      },
    );
  } catch (error) {
    kernel?.close();
    void object.close();
    throw error;
  }
}

/** `veth-xdp-drop` on `ifindex`: XDP_DROP, nothing else. */
export function vethXdpDropCase(ifindex: number): KernelCase {
  const prog = kernelProgLoad(
    [
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: XdpAction.DROP },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
    { progType: 'xdp', name: 'xdp_drop', expectedAttachType: BPF_ATTACH_TYPE.xdp },
  );
  return linked(
    'veth-xdp-drop',
    prog,
    ifindex,
    () => null,
    () => prog.close(),
  );
}

/** `generator-only`: nothing on xsk0; the generator drops its frames itself. */
export function generatorOnlyCase(): KernelCase {
  return { name: 'generator-only', program: 'drop', attach: () => {}, detach: () => {}, counted: () => null, dispose: () => {} };
}
