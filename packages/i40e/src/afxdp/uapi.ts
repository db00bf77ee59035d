/**
 * Numbers and layouts of the kernel's AF_XDP UAPI (`include/uapi/linux/if_xdp.h`), plus
 * the few socket and mmap constants used with them (x86-64 Linux, little endian).
 */

/** `AF_XDP` / `PF_XDP`. */
export const AF_XDP = 44;
/** `SOL_XDP`, the socket option level. */
export const SOL_XDP = 283;
/** `SOCK_RAW`, the only socket type AF_XDP has. */
export const SOCK_RAW = 3;
/** `SOCK_CLOEXEC`, so that child processes do not inherit the socket. */
export const SOCK_CLOEXEC = 0o2000000;

/** Socket options at level `SOL_XDP`. */
export const XDP_SOCKOPT = Object.freeze({
  MMAP_OFFSETS: 1,
  RX_RING: 2,
  TX_RING: 3,
  UMEM_REG: 4,
  UMEM_FILL_RING: 5,
  UMEM_COMPLETION_RING: 6,
  STATISTICS: 7,
  OPTIONS: 8,
} as const);

/** `sxdp_flags` of `struct sockaddr_xdp`. */
export const XDP_BIND = Object.freeze({ SHARED_UMEM: 1 << 0, COPY: 1 << 1, ZEROCOPY: 1 << 2, USE_NEED_WAKEUP: 1 << 3 } as const);

/** `XDP_RING_NEED_WAKEUP`: the bit in a ring's `flags` word by which the kernel asks for a wakeup. */
export const XDP_RING_NEED_WAKEUP = 1;
/** `XDP_OPTIONS_ZEROCOPY`: the bit of `struct xdp_options` saying the socket runs zero-copy. */
export const XDP_OPTIONS_ZEROCOPY = 1;

/** mmap page offsets of the four rings. */
export const XDP_PGOFF = Object.freeze({
  rx: 0n,
  tx: 0x8000_0000n,
  fill: 0x1_0000_0000n,
  completion: 0x1_8000_0000n,
} as const);

/** `struct sockaddr_xdp`. */
export const SOCKADDR_XDP = Object.freeze({ family: 0, flags: 2, ifindex: 4, queueId: 8, sharedUmemFd: 12, size: 16 } as const);

/** `struct xdp_umem_reg` (Linux ≥ 6.8 adds `tx_metadata_len` in what was padding; 0 here). */
export const XDP_UMEM_REG = Object.freeze({
  addr: 0,
  len: 8,
  chunkSize: 16,
  headroom: 20,
  flags: 24,
  txMetadataLen: 28,
  size: 32,
} as const);

/** `struct xdp_ring_offset` (32 bytes) inside `struct xdp_mmap_offsets`: rx, tx, fill, completion in that order. */
export const XDP_RING_OFFSET = Object.freeze({ producer: 0, consumer: 8, desc: 16, flags: 24, size: 32 } as const);
/** `struct xdp_mmap_offsets`. */
export const XDP_MMAP_OFFSETS = Object.freeze({ rx: 0, tx: 32, fill: 64, completion: 96, size: 128 } as const);

/** `struct xdp_statistics`, six u64 counters in this order. */
export const XDP_STATISTICS_FIELDS = Object.freeze([
  'rxDropped',
  'rxInvalidDescs',
  'txInvalidDescs',
  'rxRingFull',
  'rxFillRingEmptyDescs',
  'txRingEmptyDescs',
] as const);

/** `struct xdp_desc` (an rx/tx ring entry): u64 addr, u32 len, u32 options. Fill and completion entries are one u64 address. */
export const XDP_DESC = Object.freeze({ addr: 0, len: 8, options: 12, size: 16 } as const);

/** mmap and poll constants. */
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_32BIT = 0x40;
export const MAP_POPULATE = 0x8000;
export const MSG_DONTWAIT = 0x40;
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
