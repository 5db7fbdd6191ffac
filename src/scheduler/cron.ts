import cron from 'node-cron';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../log.js';

/**
 * The only importer of node-cron. Runs `job` on a five- or six-field (seconds) schedule with
 * node-cron's overlap prevention on, so a slow tick is never run twice at once.
 */
export function startCron(expression: string, job: () => Promise<unknown>, log: Logger, name = 'proactive'): { stop(): Promise<void> } {
  if (!cron.validate(expression)) {
    throw new ConfigError(`Invalid configuration:\n  PROACTIVE_CRON: "${expression}" is not a cron expression (five fields, or six with seconds first, e.g. "*/15 * * * *").`);
  }
  const task = cron.schedule(
    expression,
    async () => {
      try {
        await job();
      } catch (err) {
        log.error({ err, job: name }, 'scheduled job failed');
      }
    },
    { name, noOverlap: true },
  );
  return {
    stop: async () => {
      await task.stop();
      await task.destroy();
    },
  };
}
