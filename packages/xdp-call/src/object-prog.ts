/**
 * XDP programs from BPF objects: a loaded eBPF program (clang-compiled, verified, JIT'd by
 * `@bpf-dispatcher/bpf-object`) wrapped as an {@link XdpProg}, so that `xdpCallUpdate`,
 * `xdpCallRun` and a driver's rings run it — the kernel's `bpf_prog` behind an XDP
 * program fd.
 */
import type { ObjectProgram } from '@bpf-dispatcher/bpf-object';
import { BpfObjectError } from '@bpf-dispatcher/bpf-object';
import { XdpError } from './errors.js';
import { describe } from './validate.js';
import { type XdpProg, adoptXdpProg } from './xdp-prog.js';

/** Options of {@link xdpProgFromObject}. */
export interface XdpProgFromObjectOptions {
  /** The program's name (default: its symbol). */
  readonly name?: string;
  /** Runs once the program is disposed and its code released (e.g. close the object); `dispose()` waits for a promise it returns. */
  readonly onDispose?: () => void | Promise<void>;
}

/**
 * Wrap a loaded object's XDP program as an {@link XdpProg}: `bpfFunc` is its JIT'd code,
 * and the program holds that code (and, through it, the maps it uses) until it is
 * disposed — closing the object first is allowed.
 * @throws XdpError EINVAL for a program that is not a loaded XDP program of a BPF object.
 */
export function xdpProgFromObject(program: ObjectProgram, options: XdpProgFromObjectOptions = {}): XdpProg {
  return objectXdpProg(program, options, () => ({}));
}

/**
 * @internal {@link xdpProgFromObject} with extra methods: `extras(base, live)` as for
 * `buildXdpProg` (`live(what)` throws DISPOSED once the program or its arena is gone).
 */
export function objectXdpProg<T extends object>(program: ObjectProgram, options: XdpProgFromObjectOptions, extras: (base: XdpProg, live: (what: string) => void) => T): XdpProg & T {
  if (typeof options !== 'object' || options === null) throw new XdpError('EINVAL', 'xdpProgFromObject: options must be an object');
  let code: ObjectProgram['jit'];
  let release: () => Promise<void>;
  try {
    if (program.type !== 'xdp') throw new XdpError('EINVAL', `xdpProgFromObject: ${program.name} (section ${program.section}) is not an XDP program`);
    code = program.jit;
    release = program.hold();
  } catch (error) {
    if (BpfObjectError.isInstance(error) || error instanceof XdpError) {
      throw new XdpError('EINVAL', `xdpProgFromObject: expected a loaded XDP program of a BPF object, got ${describe(program)} (${(error as Error).message})`, { cause: error });
    }
    throw new XdpError('EINVAL', `xdpProgFromObject: expected a loaded XDP program of a BPF object, got ${describe(program)}`, { cause: error });
  }
  const onDispose = options.onDispose;
  return adoptXdpProg(
    code.arena,
    options.name ?? program.name,
    code.bpfFunc,
    async () => {
      await release();
      await onDispose?.();
    },
    extras,
  );
}
