/**
 * Program types: registers at entry, context layout and access rules, and which helpers
 * exist (the kernel's per-type `bpf_verifier_ops`: `is_valid_access`, `get_func_proto`).
 */
import { EbpfError } from '../errors.js';
import type { HelperSpec } from './helpers.js';
import type { ProgramType, XdpMdField } from './types.js';

/** The normalised program type. */
export type ProgType = { readonly kind: 'memory'; readonly size: number } | { readonly kind: 'xdp'; readonly devmap: boolean };

/** Check and normalise a caller's program type. @throws EbpfError EINVAL for anything else. */
export function normalizeProgType(t: ProgramType): ProgType {
  if (t === 'xdp') return { kind: 'xdp', devmap: false };
  if (typeof t === 'object' && t !== null) {
    if (t.kind === 'xdp') return { kind: 'xdp', devmap: t.devmap === true };
    if (t.kind === 'memory') {
      if (!Number.isInteger(t.size) || t.size < 0 || t.size > 0x7fff_ffff) {
        throw new EbpfError('EINVAL', `verify: memory program type size ${String(t.size)} is not an integer in 0..2^31-1`);
      }
      return { kind: 'memory', size: t.size };
    }
  }
  throw new EbpfError('EINVAL', `verify: unknown program type ${JSON.stringify(t)}`);
}

/** What a valid context load gives. */
export interface CtxAccess {
  readonly field: XdpMdField;
  readonly result: 'pkt' | 'pkt_end' | 'pkt_meta' | 'scalar';
}

/** `struct xdp_md` fields by offset (all `__u32`). */
const XDP_MD: readonly (readonly [XdpMdField, CtxAccess['result']])[] = [
  ['data', 'pkt'],
  ['data_end', 'pkt_end'],
  ['data_meta', 'pkt_meta'],
  ['ingress_ifindex', 'scalar'],
  ['rx_queue_index', 'scalar'],
  ['egress_ifindex', 'scalar'],
];

/**
 * Is a context access valid (the kernel's `xdp_is_valid_access`)? XDP: 4-byte aligned
 * reads of the six `xdp_md` fields only (`egress_ifindex` only for devmap programs); no
 * writes. The memory program type has no context.
 */
export function ctxAccess(t: ProgType, off: number, size: number, write: boolean): CtxAccess | null {
  if (t.kind !== 'xdp' || write || size !== 4 || off < 0 || off % 4 !== 0) return null;
  const f = XDP_MD[off / 4];
  if (f === undefined || (f[0] === 'egress_ifindex' && !t.devmap)) return null;
  return { field: f[0], result: f[1] };
}

/** Whether the program type may write packet data (XDP may, as in the kernel). */
export function pktWritable(t: ProgType): boolean {
  return t.kind === 'xdp';
}

/** Whether a helper exists for this program type. */
export function helperAllowed(t: ProgType, h: HelperSpec): boolean {
  return h.progTypes === undefined || h.progTypes.includes(t.kind);
}
