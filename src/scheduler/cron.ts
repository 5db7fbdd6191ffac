import cron from 'node-cron';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../log.js';

/** Refuse a schedule that is not a cron expression, naming the variable for the configured one. */
export function validateCron(expression: string, name = 'proactive'): void {
  if (cron.validate(expression)) return;
  const what = name === 'proactive' ? 'PROACTIVE_CRON' : `the "${name}" schedule`;
  throw new ConfigError(`Invalid configuration:\n  ${what}: "${expression}" is not a cron expression (five fields, or six with seconds first, e.g. "*/15 * * * *").`);
}

export interface CronHooks {
  /** A run was due while the previous one was still going, and was skipped. */
  overlap?(): void;
}

/**
 * The only importer of node-cron. Runs `job` on a five- or six-field (seconds) schedule with
 * node-cron's overlap prevention on, so a slow tick is never run twice at once; node-cron's own
 * messages go to our logger.
 */
export function startCron(expression: string, job: () => Promise<unknown>, log: Logger, name = 'proactive', hooks: CronHooks = {}): { stop(): Promise<void> } {
  validateCron(expression, name);
  const task = cron.schedule(
    expression,
    async () => {
      try {
        await job();
      } catch (err) {
        log.error({ err, job: name }, 'scheduled job failed');
      }
    },
    {
      name,
      noOverlap: true,
      logger: {
        info: (m) => log.debug({ job: name }, m),
        warn: (m) => log.debug({ job: name }, m),
        error: (m, err) => log.error({ err: err ?? m, job: name }, 'cron error'),
        debug: (m) => log.trace?.({ job: name }, String(m)),
      },
    },
  );
  task.on('execution:overlap', () => {
    log.debug({ job: name }, 'previous run still going; this one is skipped');
    hooks.overlap?.();
  });
  return {
    stop: async () => {
      await task.stop();
      await task.destroy();
    },
  };
}
