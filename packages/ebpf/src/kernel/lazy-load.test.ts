import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

it('importing the package does not load koffi; the first use of the kernel oracle does', async () => {
  const require = createRequire(import.meta.url);
  const koffiLoaded = (): boolean => Object.keys(require.cache).some((path) => /[\\/]koffi[\\/]/.test(path));
  expect(koffiLoaded()).toBe(false);
  const ebpf = await import('../index.js');
  expect(typeof ebpf.kernelProgLoad).toBe('function');
  expect(koffiLoaded()).toBe(false);
  const availability = ebpf.kernelBpfAvailable();
  if (process.platform === 'linux' && process.arch === 'x64') expect(koffiLoaded()).toBe(true);
  else expect(availability.ok).toBe(false);
});
