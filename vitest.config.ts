import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    // One PostgreSQL and one Redis for the run (found or started); see test/helpers/services.ts.
    globalSetup: ['test/helpers/services-setup.ts'],
    // Discord's gateway socket takes the proxy's agent only if it is installed before discord.js
    // first loads; workers share modules (below), and some tests import discord.js themselves.
    setupFiles: ['adapters/discord/gateway-socket.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Files run side by side safely: fakes listen on port 0, each file gets its own PostgreSQL
    // database and Redis key prefix. Vitest's default is one worker fewer than the cores, which on
    // a two-core CI machine means one file at a time; most of a file's time is waiting on sockets
    // and timers, so two at once took the suite from 268 s to 155 s there.
    pool: 'forks',
    // Each file used to get a fresh module graph: importing discord.js, Bolt, telegraf, Kysely and
    // the rest again per file was 181 s of a 251 s run on two cores. Sharing it within a worker took
    // the run to 109 s. It is safe because nothing here keeps state in a module: tests build their
    // parts and pass them in, restore fake timers, and mock no module.
    isolate: false,
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
