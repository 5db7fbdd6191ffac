import type { Redis } from './redis-client.js';
import type { Presence } from './types.js';

/** How long a beat is kept: far longer than any instance is judged by (INSTANCE_DEAD_AFTER_MS). */
const KEEP_MS = 3_600_000;

/**
 * Presence in one sorted set (instance id → the time of its last beat), beside the database's
 * `instances` rows. A Redis restarted without its data forgets the beats until each instance's
 * next one; meanwhile the database's rows still speak for them.
 */
export class RedisPresence implements Presence {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async beat(instanceId: string, now: number): Promise<void> {
    await this.redis.multi().zadd(this.key, now, instanceId).zremrangebyscore(this.key, '-inf', now - KEEP_MS).pexpire(this.key, KEEP_MS).exec();
  }

  async seenSince(since: number): Promise<Map<string, number>> {
    const flat = await this.redis.zrangebyscore(this.key, since, '+inf', 'WITHSCORES');
    const seen = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) seen.set(flat[i]!, Number(flat[i + 1]));
    return seen;
  }

  async leave(instanceId: string): Promise<void> {
    await this.redis.zrem(this.key, instanceId);
  }
}
