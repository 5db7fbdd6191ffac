import type { Engine } from '../engine/index.js';
import type { Logger } from '../log.js';
import { ProactiveScheduler, type ProactiveOptions } from './proactive.js';
import type { ProactiveTarget } from './delivery.js';
import { startCron } from './cron.js';

export { ProactiveScheduler, NOTHING_TO_SAY, PROACTIVE_INSTRUCTION, type TickReport, type SendResult, type ProactiveOptions } from './proactive.js';
export { DeliveryRouter, type ProactiveTarget } from './delivery.js';
export { effectivePolicy, decide, nextDueAt, inQuietHours, localTime, isTimeZone, type ProactivePolicy, type ProactiveDefaults } from './policy.js';
export { proactiveCommand } from './command.js';
export { startCron } from './cron.js';

/** The scheduler wired to a cron expression; `stop()` ends the schedule (in-flight ticks finish). */
export function startProactive(engine: Engine, target: ProactiveTarget, cron: string, opts: ProactiveOptions, log: Logger) {
  const scheduler = new ProactiveScheduler(engine, target, opts);
  const task = startCron(cron, () => scheduler.tick(), log);
  return { scheduler, stop: () => task.stop() };
}
