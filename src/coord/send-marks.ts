import type { SendMarks } from '../core/adapter.js';
import { within } from '../core/timeout.js';
import type { Redis } from './redis-client.js';
import type { DatedSendMarks } from './types.js';

/** How long a note's copy is kept: longer than any claim waits to be taken over. */
const COPY_MS = 600_000;
/** How long reading the copy may take; past that (Redis restarting) the database's note alone answers. */
const COPY_READ_MS = 1000;

/**
 * An adapter's notes about sends in progress (Slack: which stream a reply opened, which messages
 * it posted), written to the database and, in a millisecond, to Redis. While PostgreSQL restarts,
 * the database's write waits for it; a process killed meanwhile left the note in Redis, and the
 * instance that takes the reply over still finds the stream it must finish rather than posting the
 * reply beside it. The newer of the two is the note (a write that reached only one of them is the
 * later one); a Redis that lost its data leaves the database's.
 */
export class MirroredSendMarks implements SendMarks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly durable: DatedSendMarks,
    private readonly now: () => number = Date.now,
  ) {}

  async put(key: string, value: string): Promise<void> {
    const at = this.now();
    const copy = this.redis.set(this.copyKey(key), JSON.stringify({ at, value }), 'PX', COPY_MS).catch(() => undefined);
    await Promise.all([copy, this.durable.put(key, value, at)]);
  }

  async get(key: string): Promise<string | undefined> {
    const [copy, noted] = await Promise.all([this.copy(key), this.durable.noted(key)]);
    if (copy && (!noted || copy.at > noted.at)) return copy.value;
    return noted?.value;
  }

  /**
   * The database's notes under `prefix`: a copy cannot be listed without scanning Redis, and a
   * note whose database write failed was reported to its writer (which writes it again).
   */
  list(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return this.durable.list(prefix);
  }

  async forget(key: string): Promise<void> {
    await Promise.all([this.redis.del(this.copyKey(key)).catch(() => undefined), this.durable.forget(key)]);
  }

  private copyKey(key: string): string {
    return `${this.prefix}mark:${key}`;
  }

  private async copy(key: string): Promise<{ at: number; value: string } | undefined> {
    try {
      const raw = await within(this.redis.get(this.copyKey(key)), COPY_READ_MS, () => null);
      return raw ? (JSON.parse(raw) as { at: number; value: string }) : undefined;
    } catch {
      return undefined;
    }
  }
}
