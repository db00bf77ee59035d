/**
 * The soak's traffic thread: runs the native i40e driver loop in chunks until told to
 * stop. No JS per packet: one native call per chunk of packets.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { callNative } from '@bpf-dispatcher/text-poke';

/** What the soak passes to the worker. */
export interface SoakWorkerData {
  readonly entry: bigint;
  readonly args: readonly bigint[];
  /** Int32[0] != 0: stop after the current chunk. */
  readonly stop: SharedArrayBuffer;
  /** BigInt64[0]: packets processed so far. */
  readonly progress: SharedArrayBuffer;
}

const data = workerData as SoakWorkerData;
const stop = new Int32Array(data.stop);
const progress = new BigInt64Array(data.progress);
let processed = 0n;
let chunks = 0;
while (Atomics.load(stop, 0) === 0) {
  processed += callNative(data.entry, ...data.args);
  chunks++;
  Atomics.store(progress, 0, processed);
}
parentPort?.postMessage({ processed, chunks });
