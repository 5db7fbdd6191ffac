/**
 * Redis started together with charbridge may come up second: coordination waits for it
 * (STARTUP_WAIT_MS) instead of failing the start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordination, type Coordination } from '../../src/coord/index.js';
import { freePort } from '../helpers/ports.js';
import { recordingWait } from '../helpers/startup-wait.js';
import { redisServerBin, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { testLogger } from '../helpers/harness.js';

const bin = redisServerBin();
describe.skipIf(!bin)('starting while Redis is not up yet', () => {
  let server: RedisServer;
  const opened: Coordination[] = [];
  beforeAll(async () => {
    server = await startRedis(bin!);
  });
  afterAll(async () => {
    for (const c of opened) await c.close();
    await server?.stop();
  });

  it('waits for Redis to start, then coordinates through it', async () => {
    const down = server.crash!(1500);
    await new Promise((r) => setTimeout(r, 300));
    const wait = recordingWait(30_000);
    const coord = await createCoordination({ redisUrl: server.url, redisPrefix: 'startup-wait:', chatLockTtlMs: 30_000 }, testLogger(), wait);
    opened.push(coord);
    await down;
    expect(coord.kind).toBe('redis');
    expect(wait.warnings).toHaveLength(1);
    expect(wait.warnings[0]).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ \(REDIS_URL\) does not answer yet; start-up waits up to 30 s/);
    expect(await coord.ping()).toBe(true);
    expect(await coord.limits.consume('user:telegram:1', 1)).toEqual({ ok: true });
    expect((await coord.limits.consume('user:telegram:1', 1)).ok).toBe(false);
  }, 30_000);

  it('gives up after STARTUP_WAIT_MS on a Redis that never comes, naming the variable', async () => {
    const wait = recordingWait(1000);
    const err = (await createCoordination({ redisUrl: `redis://:secret@127.0.0.1:${await freePort()}`, redisPrefix: 'x:', chatLockTtlMs: 30_000 }, testLogger(), wait).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^REDIS_URL: cannot connect to redis:\/\/\*\*\*@127\.0\.0\.1:\d+ \(still no answer after 1 s \(STARTUP_WAIT_MS\): .*ECONNREFUSED/);
    expect(err.message).not.toContain('secret');
    expect(wait.warnings).toHaveLength(1);
  });
});
