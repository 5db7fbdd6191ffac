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

/** Socket errors of a server not up yet, and Redis loading its data after a restart. */
const STARTING = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);

/** Whether `err` says Redis is not up yet (waiting may help), not that it refused us (a wrong password). */
export function isRedisStarting(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return (typeof e.code === 'string' && STARTING.has(e.code)) || (typeof e.message === 'string' && e.message.startsWith('LOADING'));
}

/**
 * Resolves when `client` is ready; rejects with the next error it reports (the client goes on
 * reconnecting on its own, so asking again waits for its next try). `connect()`'s own rejection
 * says only "Connection is closed"; the 'error' event says why.
 */
export function whenReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const off = () => {
      client.off('ready', onReady);
      client.off('error', onError);
    };
    const onReady = () => {
      off();
      resolve();
    };
    const onError = (err: Error) => {
      off();
      reject(err);
    };
    client.on('ready', onReady);
    client.on('error', onError);
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}
