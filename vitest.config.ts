import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    // One PostgreSQL and one Redis for the run (found or started); see test/helpers/services.ts.
    globalSetup: ['test/helpers/services-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores on CI: fakes listen on port 0, so files can run side by side safely.
    pool: 'forks',
  },
});
