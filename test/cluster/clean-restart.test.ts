/**
 * Every instance of a cluster stopped cleanly and started again within a minute, Redis emptied
 * meanwhile: their calls of that minute still count at the platform, so the new processes must not
 * take the empty Redis for a new deployment (`othersRecent`, which Slack's tiers ask).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';
import { hasPostgres, hasRedis, pgDatabase, redisPrefix, type TestDatabase, type TestRedisPrefix } from '../helpers/services.js';

const WINDOW_MS = 60_000;
const running: Runtime[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (running.length) await running.pop()!.shutdown('test');
  while (cleanup.length) await cleanup.pop()!();
});

async function instance(db: TestDatabase, redis: TestRedisPrefix): Promise<{ rt: Runtime; othersRecent: (withinMs: number) => Promise<boolean> }> {
  let othersRecent: ((withinMs: number) => Promise<boolean>) | undefined;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, HEARTBEAT_MS: '500' });
  const rt = await startRuntime(config, { log: testLogger(), adapters: (ctx) => ((othersRecent = ctx.othersRecent), []) });
  running.push(rt);
  return { rt, othersRecent: othersRecent! };
}

describe.skipIf(!hasPostgres() || !hasRedis())('a cluster stopped cleanly and started again', () => {
  it('counts the stopped instances as having run within the window, while a first deployment has none', async () => {
    const db = await pgDatabase();
    const redis = redisPrefix();
    cleanup.push(() => db.drop(), () => redis.clear());

    const first = await instance(db, redis);
    expect(await first.othersRecent(WINDOW_MS)).toBe(false); // a new deployment
    const second = await instance(db, redis);
    expect(await second.othersRecent(WINDOW_MS)).toBe(true);

    // Both stop cleanly; Redis restarts without its data; both start again.
    for (const r of [second.rt, first.rt]) {
      await r.shutdown('test');
      running.splice(running.indexOf(r), 1);
    }
    await redis.clear();
    const restarted = await instance(db, redis);
    expect(await restarted.othersRecent(WINDOW_MS)).toBe(true);
  });
});
