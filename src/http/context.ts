import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ProactiveScheduler } from '../scheduler/index.js';
import type { Services } from '../services/index.js';

/**
 * What every route module receives: the configuration, a logger and the services. One set of
 * services per app, so v1 and the other API dialects share credits, idempotency and sessions;
 * routes never reach the store or the engine themselves.
 */
export interface HttpContext extends Services {
  config: Config;
  log: Logger;
  /** The proactive scheduler, for the per-conversation policy routes; absent in tests that don't need it. */
  scheduler?: ProactiveScheduler | undefined;
}
