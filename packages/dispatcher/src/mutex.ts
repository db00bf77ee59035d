/** A FIFO async mutex: `run(fn)` executes `fn` after every earlier call has settled. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Calls queued or running. */
  get pending(): number {
    return this.waiting;
  }

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.waiting++;
    const result = this.tail.then(fn).finally(() => {
      this.waiting--;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
