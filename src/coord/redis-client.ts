import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export type { Redis } from 'ioredis';

/**
 * A connection to the deployment's Redis (the one importer of `ioredis`). Commands wait while it
 * reconnects instead of failing at once — through a restart of a few seconds (10 attempts, about
 * 11 s) — but not forever: a request that needs Redis gets an error then rather than hanging.
 */
export function connectRedis(url: string, log: Logger, name: string, opts: { maxRetriesPerRequest?: number | null } = {}): Redis {
  const client = new Redis(url, {
    lazyConnect: !('maxRetriesPerRequest' in opts),
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 10 : opts.maxRetriesPerRequest,
    connectionName: `charbridge-${name}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let reported = false;
  client.on('error', (err: Error) => {
    // Reconnects repeat the same error; say it once until the connection is back.
    if (reported) return;
    reported = true;
    log.error({ err: { message: err.message }, connection: name }, 'redis connection failed; retrying');
  });
  client.on('ready', () => {
    if (reported) log.info({ connection: name }, 'redis connection is back');
    reported = false;
  });
  return client;
}

/** The URL without its password, for logs and error messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*:)?[^@/]*@/, '//***@');
}
