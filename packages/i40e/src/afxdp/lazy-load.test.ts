import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

it('importing the package and its AF_XDP module does not load koffi (the first socket does)', async () => {
  const require = createRequire(import.meta.url);
  const koffiLoaded = (): boolean => Object.keys(require.cache).some((path) => /[\\/]koffi[\\/]/.test(path));
  expect(koffiLoaded()).toBe(false);
  const i40e = await import('../index.js');
  const afxdp = await import('./index.js');
  expect(typeof i40e.I40eDevice).toBe('function');
  expect(typeof afxdp.openXsk).toBe('function');
  expect(typeof afxdp.attachXskRedirect).toBe('function');
  expect(koffiLoaded()).toBe(false);
});
