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
      // Generous: CI machines have 2 cores and run several packages' tests side by side.
      testTimeout: options.testTimeout ?? 180_000,
      hookTimeout: 180_000,
      reporters: process.env.CI ? ['default'] : ['default'],
    },
  });
}
