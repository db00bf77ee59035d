import type { UserConfig } from 'vitest/config';

/** Build a package's Vitest config (tests in `src/**\/*.test.ts`, forked pool). */
export function packageConfig(options?: { testTimeout?: number }): UserConfig;
