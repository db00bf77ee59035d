/**
 * A FIFO async lock: `run(fn)` executes `fn` after every earlier call has settled (the
 * kernel's `struct mutex` as the dispatcher's `d->mutex` uses it).
 *
 * One implementation for every owner object of the stack: the {@link Dispatcher} (its
 * slots and image), the xdp_call (its attachments) and a driver's device (its netdevs'
 * programs) each keep one private instance; no lock is a public field, and no object
 * queues work on another's lock.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Calls queued or running. */
  get pending(): number {
    return this.waiting;
  }

  /**
   * Run `fn` once every earlier call has settled; resolves or rejects as `fn` does (a
   * failure does not block later calls).
   */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.waiting++;
    const result = this.tail.then(fn).finally(() => {
      this.waiting--;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
