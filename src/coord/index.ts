import type { Logger } from '../log.js';
import type { StartupWait } from '../core/startup-wait.js';
import { ConfigError } from '../core/errors.js';
import type { CoordinationSettings } from './config.js';
import { localCoordination } from './local.js';
import type { Coordination } from './types.js';

export type { Bus, ChatOrder, ChatTicket, Coordination, Leadership, Presence } from './types.js';
export { coordConfigSchema, type CoordConfig, type CoordinationSettings } from './config.js';
export { localCoordination } from './local.js';

/**
 * Redis when `REDIS_URL` is set (any number of instances), this process otherwise. The Redis
 * side (ioredis, BullMQ) is imported only then: a single instance never loads it. With `wait`,
 * a Redis that refuses connections or is still loading is waited for (see `waitForServer`).
 */
export async function createCoordination(config: CoordinationSettings, log: Logger, wait?: StartupWait): Promise<Coordination> {
  if (!config.redisUrl) return localCoordination(log);
  const [{ redisCoordination }, { redactRedisUrl }] = await Promise.all([import('./redis.js'), import('./redis-client.js')]);
  try {
    return await redisCoordination({ ...config, redisUrl: config.redisUrl }, log, wait);
  } catch (err) {
    throw new ConfigError(`REDIS_URL: cannot connect to ${redactRedisUrl(config.redisUrl)} (${(err as Error).message}). Start Redis there, fix the URL, or unset REDIS_URL to run a single instance.`);
  }
}
