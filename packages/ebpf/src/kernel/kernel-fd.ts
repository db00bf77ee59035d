import { EbpfError } from '../errors.js';
import { bpfNative } from './native.js';

/** Closes the fds of objects that were garbage-collected without `close()` (a safety net, not the API). */
const leaked = new FinalizationRegistry<number>((fd) => {
  try {
    bpfNative().close(fd);
  } catch {
    // nothing can be reported from a finalizer
  }
});

/**
 * An object owning one kernel file descriptor (a loaded program or a map). `close()` (or
 * `using`, through `Symbol.dispose`) releases it; the kernel frees the object when its last
 * reference goes. A `FinalizationRegistry` closes fds of objects dropped without `close()`.
 */
export abstract class KernelFd {
  #fd: number;

  protected constructor(fd: number) {
    this.#fd = fd;
    leaked.register(this, fd, this);
  }

  /** The file descriptor. @throws EbpfError EINVAL after `close()`. */
  get fd(): number {
    if (this.#fd < 0) throw new EbpfError('EINVAL', `${this.constructor.name}: used after close()`);
    return this.#fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Close the fd (idempotent). Never throws. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    leaked.unregister(this);
    try {
      bpfNative().close(fd);
    } catch {
      // the binding worked when the fd was opened; nothing useful to report here
    }
  }

  /** Same as `close()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.close();
  }
}
