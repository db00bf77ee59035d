/**
 * Native memory layouts of the i40e shim, shared by JS and the JIT'd poll loops.
 */

/** An rx descriptor (16 bytes): the buffer, the frame length, the status (bit 0: DD). */
export const DESC = Object.freeze({ addr: 0, length: 8, status: 10, size: 16, DD: 1 });

/** Bytes per packet buffer (copy mode) and per umem frame (zero-copy): headroom + frame. */
export const BUFFER_STRIDE = 512;
/** log2(BUFFER_STRIDE). */
export const BUFFER_SHIFT = 9;
/** Bytes per template / tx / stack frame slot: the largest frame the shim generates. */
export const FRAME_SLOT = 128;
/** log2(FRAME_SLOT). */
export const FRAME_SHIFT = 7;

/** Per-ring counters (u64 each), at RING.counters. */
export const COUNTERS = Object.freeze({
  packets: 0,
  bytes: 8,
  /** actions[verdict], verdicts 0..4 (ABORTED, DROP, PASS, TX, REDIRECT). */
  actions: 16,
  /** Verdicts outside 0..4. */
  errors: 56,
  stackEnqueued: 64,
  stackDropped: 72,
  txPackets: 80,
  txDropped: 88,
  /** Packets seen while no program was attached (they go to the stack). */
  noProg: 96,
  polls: 104,
  /** Packets whose handler did not sign them with the id of the program the loop ran (verifyHandlers). */
  misrouted: 112,
  size: 128,
});

/** The rx ring structure the poll loop works on. */
export const RING = Object.freeze({
  descs: 0,
  /** u32: descriptors - 1 (a power of two). */
  mask: 8,
  /** u32: next descriptor to clean. */
  nextToClean: 12,
  /** u64: `struct bpf_prog *` or 0 (READ_ONCE per packet). */
  xdpProg: 16,
  /** u64: this ring's `struct xdp_buff` scratch. */
  xdpBuff: 24,
  /** u64: FRAME_SLOT-byte template frames (copy mode: per descriptor; zero-copy: per umem frame). */
  templates: 32,
  /** u64: base of the buffers (copy) or the umem (zero-copy). */
  buffers: 40,
  /** Stack queue: u64 base of {addr u64, len u64} entries with FRAME_SLOT buffers after them; u32 mask, head, tail. */
  stack: 48,
  stackMask: 56,
  stackHead: 60,
  stackTail: 64,
  /** Tx ring: u64 base of FRAME_SLOT buffers with lengths in a parallel u64 array; u32 mask, head, tail. */
  tx: 72,
  txLengths: 80,
  txMask: 88,
  txHead: 92,
  txTail: 96,
  /** Zero-copy fill ring: u64 base of frame addresses; u32 mask, producer, consumer. */
  fill: 104,
  fillMask: 112,
  fillProd: 116,
  fillCons: 120,
  counters: 128,
  size: 256,
});
