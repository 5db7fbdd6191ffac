import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createDatabase, dropDatabase, testDatabaseName } from './pg-server.js';
import { testRedisClient } from './redis-server.js';

/** What the globalSetup found or started for this run (see services-setup.ts). */
export interface TestServices {
  /** The vitest main process: test databases carry it in their name. */
  runPid: number;
  postgres: { adminUrl: string; template: string } | null;
  redis: { url: string } | null;
  /** Why a server is missing, or null when both are there. */
  missing: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: TestServices;
  }
}

export function testServices(): TestServices {
  return inject('services');
}

/** Whether this run has PostgreSQL; use as `describe.skipIf(!hasPostgres())`. */
export const hasPostgres = (): boolean => testServices().postgres !== null;
/** Whether this run has Redis; use as `describe.skipIf(!hasRedis())`. */
export const hasRedis = (): boolean => testServices().redis !== null;

export interface TestDatabase {
  /** A `postgres://` URL for `openStore`, of a database already migrated to the latest schema. */
  url: string;
  name: string;
  /** Drop the database (open connections to it are ended). */
  drop(): Promise<void>;
}

/**
 * A private, migrated PostgreSQL database copied from the run's template (about 0.2 s). Call it
 * once per test file (beforeAll) and drop it in afterAll; leftovers of a killed run are dropped
 * by the next run's setup.
 */
export async function pgDatabase(): Promise<TestDatabase> {
  const s = testServices();
  if (!s.postgres) throw new Error(`No PostgreSQL for this run: ${s.missing ?? 'unknown reason'}`);
  const { adminUrl, template } = s.postgres;
  const name = testDatabaseName(s.runPid);
  const url = await createDatabase(adminUrl, name, template);
  return { url, name, drop: () => dropDatabase(adminUrl, name) };
}

/** The run's Redis server. */
export function redisUrl(): string {
  const s = testServices();
  if (!s.redis) throw new Error(`No Redis for this run: ${s.missing ?? 'unknown reason'}`);
  return s.redis.url;
}

export interface TestRedisPrefix {
  url: string;
  /** A key prefix no other test uses, e.g. for ioredis `keyPrefix` or rate-limiter `keyPrefix`. */
  prefix: string;
  /** Delete every key under the prefix. */
  clear(): Promise<number>;
}

/** A key namespace of its own on the run's Redis server (the server may be shared). */
export function redisPrefix(): TestRedisPrefix {
  const url = redisUrl();
  const prefix = `cbt:${testServices().runPid}:${randomBytes(5).toString('hex')}:`;
  return { url, prefix, clear: () => clearRedisPrefix(url, prefix) };
}

async function clearRedisPrefix(url: string, prefix: string): Promise<number> {
  const r = testRedisClient(url);
  await r.connect();
  try {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) n += await r.unlink(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    r.disconnect();
  }
}
