import { RateLimitedError } from '../core/errors.js';
import type { Store, Update } from '../store/index.js';
import { visibleConversation, type Caller } from './access.js';

export interface FeedQuery {
  /** Only this session (must be the caller's). */
  sessionId?: string | undefined;
  /** Continue after this cursor. */
  afterId?: number | undefined;
  /** Only entries created after this ISO time. */
  since?: string | undefined;
  limit: number;
  /** Long-poll: wait up to this long for an entry when there is none. */
  waitMs: number;
}

/**
 * The updates feed as API callers read it: their own entries (the admin's: everyone's), in
 * cursor order, optionally waiting for the next one. The store's notifier wakes a waiting read
 * as soon as a matching entry is appended.
 */
export class UpdateFeed {
  /** Long-polls each tenant key holds open now. */
  private readonly polling = new Map<string, number>();

  constructor(
    private readonly store: Store,
    /** Long-polls one tenant key may hold open at once (MAX_LONG_POLLS_PER_KEY); the admin is not limited. */
    private readonly maxLongPolls = 10,
  ) {}

  /** Read the feed; a long-poll (`waitMs` > 0) beyond the key's share of open ones is a 429. */
  async read(caller: Caller, q: FeedQuery, signal: AbortSignal): Promise<{ updates: Update[]; cursor: number }> {
    if (q.waitMs <= 0 || caller.isAdmin) return this.readNow(caller, q, signal);
    const open = this.polling.get(caller.keyId) ?? 0;
    // Each one holds a connection and a subscription for up to 30 s: a key may not hoard them.
    if (open >= this.maxLongPolls) throw new RateLimitedError(1000, `At most ${this.maxLongPolls} long-polls of one key may wait at once`);
    this.polling.set(caller.keyId, open + 1);
    try {
      return await this.readNow(caller, q, signal);
    } finally {
      const left = (this.polling.get(caller.keyId) ?? 1) - 1;
      if (left > 0) this.polling.set(caller.keyId, left);
      else this.polling.delete(caller.keyId);
    }
  }

  private async readNow(caller: Caller, q: FeedQuery, signal: AbortSignal): Promise<{ updates: Update[]; cursor: number }> {
    const conversationId = q.sessionId === undefined ? undefined : (await visibleConversation(this.store, caller, q.sessionId)).id;
    const apiKeyId = caller.isAdmin ? null : caller.keyId;
    const query = { apiKeyId, conversationId, since: q.since, limit: q.limit };
    const mine = (u: Update) => (apiKeyId === null || u.apiKeyId === apiKeyId) && (conversationId === undefined || u.conversationId === conversationId);
    const until = Date.now() + q.waitMs;
    for (let afterId = q.afterId; ; ) {
      const left = until - Date.now();
      // Subscribe before reading, so an entry appended during the read still wakes us.
      const stop = new AbortController();
      const woke = left > 0 ? this.store.updates.waitFor(mine, left, AbortSignal.any([stop.signal, signal])) : Promise.resolve(false);
      const page = await this.store.updates.list({ ...query, afterId });
      if (page.updates.length > 0 || left <= 0 || signal.aborted) {
        stop.abort();
        return page;
      }
      afterId = page.cursor;
      // Timed out (or the client left): answer empty, with the cursor so far.
      if (!(await woke)) return page;
    }
  }

  /** Release every waiting read now (shutdown), so the server can close. */
  wakeAll(): void {
    this.store.updates.wakeAll();
  }
}
