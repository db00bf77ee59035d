/**
 * The compiled BPF objects this package ships (`bpf/*.bpf.o`, built from the C sources
 * beside them with `pnpm build:bpf`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BpfObject, openObject } from '@bpf-dispatcher/bpf-object';
import { XdpError } from '../errors.js';

/** The objects in `bpf/`: the programs behind the built-in XDP programs, and the helper exerciser. */
export const BUNDLED_OBJECTS = Object.freeze(['xdp_basic', 'xdp_rxq_info', 'xdp_udp_filter', 'xdp_helpers'] as const);

/** The name of a bundled object. */
export type BundledObjectName = (typeof BUNDLED_OBJECTS)[number];

const cache = new Map<string, Uint8Array>();

/**
 * The path of a bundled object file (`<package>/bpf/<name>.bpf.o`), e.g. to load the same
 * object into the kernel.
 * @throws XdpError EINVAL for an unknown name.
 */
export function bundledObjectPath(name: BundledObjectName): string {
  if (!(BUNDLED_OBJECTS as readonly string[]).includes(name)) throw new XdpError('EINVAL', `bundledObjectPath: unknown object ${String(name)} (${BUNDLED_OBJECTS.join(', ')})`);
  return fileURLToPath(new URL(`../../bpf/${name}.bpf.o`, import.meta.url));
}

/**
 * Open a bundled object (parsed, not loaded; the file is read once per process).
 * @throws XdpError EINVAL for an unknown name; BpfObjectError if the file is unreadable or broken.
 */
export function openBundledObject(name: BundledObjectName): BpfObject {
  const path = bundledObjectPath(name);
  let bytes = cache.get(path);
  if (bytes === undefined) {
    bytes = new Uint8Array(readFileSync(path));
    cache.set(path, bytes);
  }
  return openObject(bytes, { name: `${name}.bpf.o` });
}
