import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const KOFFI = require.resolve('koffi');

/**
 * Call native code on a worker thread (plain koffi, so the worker needs no TypeScript):
 * resolves with rax once the call returns.
 */
export function callOnWorker(entry: bigint, args: bigint[]): { done: Promise<bigint>; worker: Worker } {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const koffi = require(workerData.koffi);
    // koffi sets up its per-thread call state when a library is loaded on the thread;
    // calling through a bare address first crashes (koffi 3.3).
    koffi.load('libc.so.6');
    const proto = koffi.proto('uint64_t worker_fn(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)');
    const a = [...workerData.args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6);
    parentPort.postMessage('started');
    const result = koffi.call(workerData.entry, proto, ...a);
    parentPort.postMessage(BigInt(result));
  `;
  const worker = new Worker(source, { eval: true, workerData: { koffi: KOFFI, entry, args } });
  const done = new Promise<bigint>((resolve, reject) => {
    worker.on('message', (message) => {
      if (typeof message === 'bigint') resolve(message);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
  return { done, worker };
}
