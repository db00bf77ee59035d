/**
 * AF_XDP for the i40e shim: a real socket ({@link openXsk}: UMEM in the native arena, the
 * four rings mapped for native code) and the kernel program that feeds it
 * ({@link attachXskRedirect}). Nothing here loads koffi until a socket is opened.
 */

export {
  attachXskRedirect,
  XSK_REDIRECT_MAX_QUEUES,
  XSK_REDIRECT_OBJECT,
  type XskRedirect,
  type XskRedirectOptions,
  xskRedirectObjectPath,
} from './redirect.js';
export { XSK_RING_KINDS, type XskRing, type XskRingKind } from './rings.js';
export {
  openXsk,
  openXskWhenFree,
  Xsk,
  type XskKick,
  type XskOptions,
  type XskRings,
  type XskStats,
  type XskWaitOptions,
} from './socket.js';
export { XDP_DESC, XDP_RING_NEED_WAKEUP } from './uapi.js';
export type { XskUmem } from './umem.js';
export { XskError } from './xsk-error.js';
