import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores on CI: fakes listen on port 0, so files can run side by side safely.
    pool: 'forks',
  },
});
