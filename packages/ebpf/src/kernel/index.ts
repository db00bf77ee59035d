/**
 * The running kernel as an oracle: `bpf(2)` bound through koffi (loaded on first use).
 */
export { BPF_MAP_TYPE, BPF_PROG_TYPE, type KernelMapType, type KernelProgType } from './bpf-attr.js';
export { type KernelBpfAvailability, kernelBpfAvailable } from './kernel-available.js';
export { KernelError } from './kernel-error.js';
export { KernelFd } from './kernel-fd.js';
export { type KernelJitSize, kernelJitSize } from './kernel-jit-size.js';
export { KernelMap, type KernelMapOptions, kernelMapCreate, possibleCpuCount } from './kernel-map.js';
export { type KernelProgInfo, kernelProgInfo } from './kernel-prog-info.js';
export { KernelProg, type KernelProgLoadOptions, kernelProgLoad } from './kernel-prog.js';
export {
  type KernelMemoryMode,
  type KernelRunOptions,
  type KernelRunResult,
  KernelRunner,
  kernelRun64,
  wrapProgram,
} from './kernel-run.js';
export { type KernelTestRunOptions, type KernelTestRunResult, kernelTestRun } from './kernel-test-run.js';
export {
  BPF_ATTACH_TYPE,
  KernelLink,
  type KernelLinkInfo,
  type KernelLinkOptions,
  XDP_FLAGS,
  kernelLinkCreate,
} from './kernel-link.js';
