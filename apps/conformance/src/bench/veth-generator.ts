/**
 * The main thread's handle on the generator thread (veth-generator-worker.ts): start it
 * in the test namespace, start commands, watch their progress through shared memory while
 * the poll loop spins, and collect the replies.
 */
import { Worker } from 'node:worker_threads';
import {
  CTRL,
  type GeneratorCommand,
  type GeneratorProgram,
  type GeneratorReply,
  SHARED_BYTES,
  STAMP,
  STAMP_OFFSET,
  STATE,
} from './veth-protocol.js';

/** How long a burst may take before the generator thread is taken for dead. */
const GENERATOR_STALL_MS = 60_000;

type Reply<K extends GeneratorReply['op']> = Extract<GeneratorReply, { op: K }>;

/** A running `send`: its shared progress, and its reply once done. */
export interface Sending {
  /** True once the last frame was handed to the kernel (or the command failed). */
  done(): boolean;
  /** Frames handed to the kernel so far. */
  sent(): number;
  /** `process.hrtime` nanoseconds before the first frame (0n until it started). */
  startNs(): bigint;
  /** ... and after the last. */
  endNs(): bigint;
  /** The reply. @throws Error with the generator's message if the command failed. */
  result(): Promise<Reply<'sent'>>;
}

/** The generator thread. */
export class Generator {
  readonly #worker: Worker;
  readonly #ctrl: Int32Array;
  readonly #stamp: BigInt64Array;
  readonly #pending = new Map<number, { resolve: (r: GeneratorReply) => void; reject: (e: Error) => void }>();
  #next = 1;
  #failure: Error | undefined;
  /** The CPU it pinned itself to (null: not pinned). */
  readonly cpu: number | null;

  private constructor(worker: Worker, shared: SharedArrayBuffer, cpu: number | null) {
    this.#worker = worker;
    this.#ctrl = new Int32Array(shared, 0, 8);
    this.#stamp = new BigInt64Array(shared, STAMP_OFFSET, 4);
    this.cpu = cpu;
    worker.on('message', (r: GeneratorReply) => this.#settle(r));
    worker.on('error', (e) => this.#fail(e));
    worker.on('exit', (code) => this.#fail(new Error(`the generator thread exited (code ${code})`)));
  }

  /**
   * Start the thread: it joins `netns`, pins itself to `cpu` and loads its XDP_TX program.
   * @throws Error with the thread's reason when it could not.
   */
  static async start(options: { netns: string; ifindex: number; frame: Uint8Array; cpu: number | null }): Promise<Generator> {
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    const worker = new Worker(new URL('./veth-generator-worker.js', import.meta.url), {
      workerData: { netns: options.netns, ifindex: options.ifindex, frame: options.frame, cpu: options.cpu, shared },
    });
    const first = await new Promise<GeneratorReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (first.op !== 'ready') {
      await worker.terminate();
      throw new Error(`the generator thread could not start: ${first.op === 'error' ? first.message : first.op}`);
    }
    return new Generator(worker, shared, first.cpu);
  }

  #settle(r: GeneratorReply): void {
    const waiter = this.#pending.get(r.id);
    if (waiter === undefined) return;
    this.#pending.delete(r.id);
    if (r.op === 'error') waiter.reject(new Error(`generator: ${r.message}`));
    else waiter.resolve(r);
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const w of this.#pending.values()) w.reject(e);
    this.#pending.clear();
  }

  #post(command: GeneratorCommand): Promise<GeneratorReply> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const reply = new Promise<GeneratorReply>((resolve, reject) => this.#pending.set(command.id, { resolve, reject }));
    this.#worker.postMessage(command);
    return reply;
  }

  /** Start sending `calls` × `repeat` frames with `program` (default `tx`: to xsk0). */
  send(calls: number, repeat: number, batchSize: number, program: GeneratorProgram = 'tx'): Sending {
    Atomics.store(this.#ctrl, CTRL.state, STATE.idle);
    Atomics.store(this.#ctrl, CTRL.error, 0);
    Atomics.store(this.#stamp, STAMP.start, 0n);
    Atomics.store(this.#stamp, STAMP.sent, 0n);
    const reply = this.#post({ op: 'send', id: this.#next++, calls, repeat, batchSize, program }) as Promise<Reply<'sent'>>;
    reply.catch(() => {}); // observed through result()
    return {
      done: () => Atomics.load(this.#ctrl, CTRL.state) === STATE.done,
      sent: () => Number(Atomics.load(this.#stamp, STAMP.sent)),
      startNs: () => Atomics.load(this.#stamp, STAMP.start),
      endNs: () => Atomics.load(this.#stamp, STAMP.end),
      result: () => reply,
    };
  }

  /**
   * `count` bursts of `repeat` frames: before each, the generator waits until `consume(i)`
   * (called here, on this thread, once burst i was fully handed to the kernel) returned.
   * @throws Error if the generator failed.
   */
  async bursts(count: number, repeat: number, batchSize: number, consume: (burst: number) => void): Promise<void> {
    Atomics.store(this.#ctrl, CTRL.ready, 0);
    Atomics.store(this.#ctrl, CTRL.ack, 0);
    Atomics.store(this.#ctrl, CTRL.error, 0);
    const reply = this.#post({ op: 'bursts', id: this.#next++, count, repeat, batchSize });
    reply.catch(() => {});
    try {
      for (let i = 0; i < count; i++) {
        // the worker is inside its system call: wait (blocking, bounded by its frame count) for the burst
        const since = performance.now();
        while (Atomics.load(this.#ctrl, CTRL.ready) <= i) {
          if (Atomics.load(this.#ctrl, CTRL.error) !== 0 || this.#failure !== undefined) {
            await reply; // rejects with the generator's message
            return;
          }
          // a failure detector, not a bound of the measurement: the thread is gone
          if (performance.now() - since > GENERATOR_STALL_MS)
            throw new Error(`generator: burst ${i + 1} did not come within ${GENERATOR_STALL_MS / 1000} s`);
          Atomics.wait(this.#ctrl, CTRL.ready, i, 100);
        }
        consume(i);
        Atomics.store(this.#ctrl, CTRL.ack, i + 1);
        Atomics.notify(this.#ctrl, CTRL.ack);
      }
    } finally {
      // never leave the worker waiting for an acknowledgement
      Atomics.store(this.#ctrl, CTRL.ack, count);
      Atomics.notify(this.#ctrl, CTRL.ack);
    }
    await reply;
  }

  /**
   * The time one cache line takes to go to the generator's CPU and back, nanoseconds: both
   * threads spin on a shared word, `count` round trips (the first, which waits for the
   * thread to take the command, is not timed). What moving a ring's cache lines between the
   * two CPUs costs, as the host placed them at this moment.
   * @throws Error if the generator thread does not answer within a minute.
   */
  async pingPong(count: number): Promise<number> {
    Atomics.store(this.#ctrl, CTRL.ball, 0);
    const reply = this.#post({ op: 'pingpong', id: this.#next++, count: count + 1 });
    reply.catch(() => {});
    const since = performance.now();
    Atomics.store(this.#ctrl, CTRL.ball, 1);
    while (Atomics.load(this.#ctrl, CTRL.ball) !== 2) {
      if (performance.now() - since > GENERATOR_STALL_MS)
        throw new Error(`generator: no answer to the ping-pong within ${GENERATOR_STALL_MS / 1000} s`);
    }
    const start = process.hrtime.bigint();
    for (let i = 1; i <= count; i++) {
      Atomics.store(this.#ctrl, CTRL.ball, 2 * i + 1);
      while (Atomics.load(this.#ctrl, CTRL.ball) !== 2 * i + 2) {}
    }
    const ns = Number(process.hrtime.bigint() - start) / count;
    await reply;
    return ns;
  }

  /** Stop the thread (it leaves the namespace and closes its program). Never throws. */
  async stop(): Promise<void> {
    try {
      if (this.#failure === undefined) await this.#post({ op: 'stop', id: this.#next++ });
    } catch {
      // the thread is gone already
    }
    await this.#worker.terminate();
  }
}
