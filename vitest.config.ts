import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start emulators on port 0 and Redis keys are namespaced per test, so files may run in parallel.
    pool: 'forks',
    reporters: ['default'],
  },
});
