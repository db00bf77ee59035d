/**
 * What the veth benchmark's main thread and its generator thread share: the worker's
 * start data, the commands and replies (`postMessage`), and a small shared memory block
 * the main thread reads while it spins in the poll loop (it cannot take messages then).
 * Every command is bounded by frame counts.
 */

/** `workerData` of the generator thread. */
export interface GeneratorWorkerData {
  /** The test namespace to join (`joinTestNetns`). */
  readonly netns: string;
  /** Where the live frames are transmitted from (`peer0`, in the namespace). */
  readonly ifindex: number;
  /** The frame, repeated. */
  readonly frame: Uint8Array;
  /** The CPU the thread pins itself to (null: not pinned). */
  readonly cpu: number | null;
  /** {@link SHARED_BYTES} bytes: {@link CTRL} words, then {@link STAMP} words. */
  readonly shared: SharedArrayBuffer;
}

/** Size of the shared block. */
export const SHARED_BYTES = 64;

/** Int32 words at the start of the shared block. */
export const CTRL = Object.freeze({
  /** {@link STATE}. */
  state: 0,
  /** Non-zero once a command failed (the reply carries the message). */
  error: 1,
  /** Bursts: the number of bursts sent so far (the main thread waits on it). */
  ready: 2,
  /** Bursts: the number of bursts the main thread has consumed (the worker waits on it). */
  ack: 3,
  /** Ping-pong: the main thread writes 2i+1, the generator thread answers 2i+2. */
  ball: 4,
} as const);

/** Values of `CTRL.state`. */
export const STATE = Object.freeze({ idle: 0, sending: 1, done: 2 } as const);

/** BigInt64 words after the Int32 words (byte offset {@link STAMP_OFFSET}). */
export const STAMP = Object.freeze({
  /** `process.hrtime.bigint()` before the first frame of a `send`. */
  start: 0,
  /** The same after its last frame. */
  end: 1,
  /** Frames handed to the kernel so far in this command. */
  sent: 2,
} as const);

/** Byte offset of the {@link STAMP} words. */
export const STAMP_OFFSET = 32;

/** The generator's XDP program: `tx` sends every frame out of peer0 (to xsk0), `drop` drops it on peer0. */
export type GeneratorProgram = 'tx' | 'drop';

/** Commands to the generator thread. */
export type GeneratorCommand =
  /**
   * `calls` calls of `repeat` live frames each; the kernel's batch `batchSize` (0: its
   * default). `program` `tx`: XDP_TX on peer0, every frame goes to xsk0; `drop`: XDP_DROP,
   * the frames are built and dropped on peer0 (the generator's own cost).
   */
  | {
      readonly op: 'send';
      readonly id: number;
      readonly calls: number;
      readonly repeat: number;
      readonly batchSize: number;
      readonly program: GeneratorProgram;
    }
  /** `count` bursts of `repeat` frames, each sent only after the main thread acknowledged the one before. */
  | { readonly op: 'bursts'; readonly id: number; readonly count: number; readonly repeat: number; readonly batchSize: number }
  /** `count` round trips of a cache line with the main thread (both spin on `CTRL.ball`), to time the CPUs' distance. */
  | { readonly op: 'pingpong'; readonly id: number; readonly count: number }
  | { readonly op: 'stop'; readonly id: number };

/** Replies of the generator thread. */
export type GeneratorReply =
  | { readonly op: 'ready'; readonly id: 0; readonly cpu: number | null }
  | {
      readonly op: 'sent';
      readonly id: number;
      readonly frames: number;
      /** The kernel's mean nanoseconds per frame of each call (`BPF_PROG_TEST_RUN`'s `duration`). */
      readonly kernelNs: readonly number[];
      /** The thread's CPU time over the command, clock ticks (`/proc/thread-self/stat`). */
      readonly cpuTicks: { readonly user: number; readonly system: number };
      /** ... and in nanoseconds: running (softirqs included), and runnable but waiting for the CPU (`/proc/thread-self/schedstat`). */
      readonly schedNs: { readonly run: number; readonly wait: number };
    }
  | { readonly op: 'bursts'; readonly id: number; readonly frames: number }
  | { readonly op: 'pingpong'; readonly id: number }
  | { readonly op: 'stopped'; readonly id: number }
  | { readonly op: 'error'; readonly id: number; readonly message: string };
