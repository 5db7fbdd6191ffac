import { setTimeout as sleep } from 'node:timers/promises';
import type { IdentifyGate } from '../core/adapter.js';
import type { Logger } from '../log.js';
import type { Redis } from './redis-client.js';

/**
 * Session starts of one bot taken in turns by every instance: a bucket's turn is a Redis key set
 * with `SET NX PX windowMs` — whoever sets it goes, everyone else waits out its PTTL and asks
 * again. The window is counted by Redis's clock alone, so instances' clocks never have to agree,
 * and a turn whose instance dies simply expires. Discord's IDENTIFY: one per 5 s per bucket
 * (`shard_id % max_concurrency`) for the whole bot, whichever process sends it.
 */
export class RedisIdentifyGate implements IdentifyGate {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly windowMs: number,
    private readonly log: Logger,
  ) {}

  async wait(bucket: number, signal?: AbortSignal): Promise<void> {
    const key = `${this.key}:${bucket}`;
    for (;;) {
      signal?.throwIfAborted();
      let leftMs: number;
      try {
        if ((await this.redis.set(key, String(process.pid), 'PX', this.windowMs, 'NX')) === 'OK') return;
        leftMs = await this.redis.pttl(key);
      } catch (err) {
        // The SDK retries the connection (and so this turn) when the gate fails.
        this.log.warn({ err, bucket }, 'could not take a turn to identify; the gateway connection will retry');
        throw err;
      }
      // -2: expired between the two calls; -1 cannot happen (always set with PX) but must not spin.
      await sleep(leftMs > 0 ? leftMs + 5 : 5, undefined, signal ? { signal } : {});
    }
  }
}
