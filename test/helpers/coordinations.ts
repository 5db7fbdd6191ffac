import { createCoordination, type Coordination } from '../../src/coord/index.js';
import { connectRedis, type Redis } from '../../src/coord/redis-client.js';
import { startHarness, testLogger, type Harness, type HarnessOptions } from './harness.js';
import { redisPrefix } from './services.js';

/**
 * Two instances' coordination on one Redis prefix, as two processes of one deployment see it
 * (their chat places, and a chat's held send slots, free `chatLockTtlMs` after an instance dies);
 * `close()` (in `afterEach`) closes every pair made and clears their keys.
 */
export function coordinationPairs(chatLockTtlMs = 3000, goneHoldMs?: number): {
  two(): Promise<[Coordination, Coordination]>;
  three(): Promise<[Coordination, Coordination, Coordination]>;
  loseData(): Promise<void>;
  close(): Promise<void>;
} {
  const open: Coordination[] = [];
  const prefixes: Array<{ clear(): Promise<number> }> = [];
  /** `n` instances on one new key namespace. */
  const some = async (n: number) => {
    const r = redisPrefix();
    prefixes.push(r);
    const made: Coordination[] = [];
    for (let i = 0; i < n; i++) made.push(await createCoordination({ redisUrl: r.url, redisPrefix: r.prefix, chatLockTtlMs, ...(goneHoldMs ? { goneHoldMs } : {}) }, testLogger()));
    open.push(...made);
    return made;
  };
  return {
    two: async () => (await some(2)) as [Coordination, Coordination],
    three: async () => (await some(3)) as [Coordination, Coordination, Coordination],
    /** Every pair's keys gone, as when Redis restarts without its data. */
    async loseData() {
      await Promise.all(prefixes.map((p) => p.clear()));
    },
    async close() {
      await Promise.all(open.splice(0).map((c) => c.close()));
      await Promise.all(prefixes.splice(0).map((p) => p.clear()));
    },
  };
}

/**
 * Redis connections of the kind the service makes (`connectRedis`), each on a key namespace of its
 * own; `close()` (in `afterEach`) disconnects them and clears their keys.
 */
export function redisConnections(): { open(): Promise<{ redis: Redis; prefix: string; url: string }>; close(): Promise<void> } {
  const clients: Redis[] = [];
  const prefixes: Array<{ clear(): Promise<number> }> = [];
  return {
    async open() {
      const r = redisPrefix();
      prefixes.push(r);
      const redis = connectRedis(r.url, testLogger(), 'test');
      clients.push(redis);
      await redis.connect();
      return { redis, prefix: r.prefix, url: r.url };
    },
    async close() {
      for (const c of clients.splice(0)) c.disconnect();
      await Promise.all(prefixes.splice(0).map((p) => p.clear()));
    },
  };
}

/**
 * Engine harnesses beside Redis connections (`redisConnections`), for a test file whose tests each
 * make both; `close()` (in `afterEach`) closes the harnesses, then the connections. `options` may
 * build the harness from the connection (what it records in Redis).
 */
export function redisHarnesses(): {
  open(options?: (c: { redis: Redis; prefix: string }) => HarnessOptions): Promise<{ h: Harness; redis: Redis; prefix: string }>;
  close(): Promise<void>;
} {
  const harnesses: Harness[] = [];
  const connections = redisConnections();
  return {
    async open(options) {
      const c = await connections.open();
      const h = await startHarness(options?.(c) ?? {});
      harnesses.push(h);
      return { h, redis: c.redis, prefix: c.prefix };
    },
    async close() {
      while (harnesses.length) await harnesses.pop()!.close();
      await connections.close();
    },
  };
}
