/**
 * Test support: run native code on a worker thread (a second "CPU"), through text-poke's
 * `callNative` loaded in the worker from the built package.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const TEXT_POKE = pathToFileURL(require.resolve('@bpf-dispatcher/text-poke')).href;

/** A native call running on a worker. */
export interface NativeWorker {
  /** Resolves with rax once the call returns; rejects if the worker fails or `timeoutMs` passes first. */
  readonly done: Promise<bigint>;
  readonly worker: Worker;
}

/**
 * Call `entry(args...)` (System V, up to six arguments) on a new worker thread. The
 * timeout is a safety net only: native code cannot be interrupted, so a call that never
 * returns keeps its thread (the test fails instead of hanging).
 */
export function callOnWorker(entry: bigint, args: readonly bigint[], timeoutMs = 120_000): NativeWorker {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.textPoke).then(({ callNative }) => {
      parentPort.postMessage('started');
      parentPort.postMessage(callNative(workerData.entry, ...workerData.args));
    });
  `;
  const worker = new Worker(source, { eval: true, workerData: { textPoke: TEXT_POKE, entry, args } });
  const done = new Promise<bigint>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`native worker still running after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    worker.on('message', (message) => {
      if (typeof message === 'bigint') {
        clearTimeout(timer);
        resolve(message);
      }
    });
    worker.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`native worker exited with ${code}`));
    });
  });
  return { done, worker };
}
