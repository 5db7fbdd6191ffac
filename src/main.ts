import { applyHeapGrowth, holdYoungGeneration, releaseYoungGeneration } from './heap-policy.js';
import type { Runtime } from './runtime.js';

/**
 * `npm start`: read the environment (and `.env`), start everything configured, and shut down
 * gracefully on SIGINT/SIGTERM. Configuration errors print the variable and the fix, no stack.
 *
 * The rest of the program is imported only once the young generation is held (see
 * heap-policy.ts): a static import would load every module before this file's first line runs.
 */
async function main(): Promise<void> {
  holdYoungGeneration();
  await import('dotenv/config');
  const [{ loadConfig }, { ConfigError }, { startRuntime }, { createPlatformAdapters }, { resolveLogFormat }, { unknownVariables, envFileKeys }] = await Promise.all([
    import('./config.js'),
    import('./core/errors.js'),
    import('./runtime.js'),
    import('./platforms.js'),
    import('./log.js'),
    import('./unknown-variables.js'),
  ]);
  let runtime: Runtime | undefined;
  let youngCapMb = 0;
  // Installed before start-up: a signal while it runs (a deploy stopping an instance still
  // starting) waits for it, then stops gracefully, rather than killing turns already accepted.
  let stopAfterStart: string | undefined;
  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) process.exit(130);
    if (!runtime) {
      stopAfterStart = signal;
      process.stderr.write(`${signal} received while starting: stopping as soon as start-up is done (send it again to stop at once)\n`);
      return;
    }
    shutDown(runtime, signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    const config = loadConfig();
    applyHeapGrowth(config.runtime.heapGrowthPercent);
    youngCapMb = config.runtime.youngGenerationMb;
    // A person at a terminal gets the banner (and, on the first start, the new admin key).
    const banner = resolveLogFormat(config.runtime.logFormat) === 'pretty' ? (text: string) => void process.stdout.write(text) : undefined;
    runtime = await startRuntime(config, { adapters: createPlatformAdapters, unknownVariables: unknownVariables(process.env, envFileKeys()), ...(banner ? { banner } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  } finally {
    releaseYoungGeneration(youngCapMb);
  }
  if (stopAfterStart) shutDown(runtime, stopAfterStart);
}

function shutDown(runtime: Runtime, signal: string): void {
  void runtime.shutdown(signal).then(
    () => process.exit(0),
    (err: unknown) => {
      runtime.log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`charbridge failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
