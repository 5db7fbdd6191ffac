import 'dotenv/config';
import { loadConfig } from './config.js';
import { ConfigError } from './core/errors.js';
import { startRuntime, type Runtime } from './runtime.js';
import { createPlatformAdapters } from './platforms.js';
import { resolveLogFormat } from './log.js';
import { applyHeapGrowth } from './heap-policy.js';

/**
 * `npm start`: read the environment (and `.env`), start everything configured, and shut down
 * gracefully on SIGINT/SIGTERM. Configuration errors print the variable and the fix, no stack.
 */
async function main(): Promise<void> {
  let runtime: Runtime;
  try {
    const config = loadConfig();
    applyHeapGrowth(config.runtime.heapGrowthPercent);
    // A person at a terminal gets the banner (and, on the first start, the new admin key).
    const banner = resolveLogFormat(config.runtime.logFormat) === 'pretty' ? (text: string) => void process.stdout.write(text) : undefined;
    runtime = await startRuntime(config, { adapters: createPlatformAdapters, ...(banner ? { banner } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) process.exit(130);
    void runtime.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        runtime.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`charbridge failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
