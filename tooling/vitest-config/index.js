// Shared Vitest configuration: tests live beside the code as src/**/*.test.ts and
// run in forked processes (native arenas mmap memory and must not share a worker).
import { defineConfig } from 'vitest/config';

/**
 * Build a package's Vitest config.
 * @param {{ testTimeout?: number }} [options]
 */
export function packageConfig(options = {}) {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts'],
      pool: 'forks',
      testTimeout: options.testTimeout ?? 30_000,
      hookTimeout: 30_000,
      reporters: process.env.CI ? ['default'] : ['default'],
    },
  });
}
