import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql instance, as in production: Vite would resolve `graphql` for our sources to its
    // ESM build (`module` field) while Apollo Server, loaded by Node, gets the CommonJS build; with
    // two GraphQLError classes `instanceof` fails and formatError hid every validation error.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start emulators on port 0 and Redis keys are namespaced per test, so files may run in parallel.
    pool: 'forks',
    reporters: ['default'],
  },
});
