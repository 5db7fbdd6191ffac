import type { DB } from './db.js';

/**
 * Processed platform events, for exactly-once replies. An event is claimed before any work
 * and marked done after; a claim left `processing` by a crashed process can be taken over
 * once its lease expires, so a crash neither loses the message nor answers it twice.
 */
export class EventRepo {
  constructor(private db: DB) {}

  /** True when this caller now owns the event; false for a duplicate (done, or claimed and still leased). */
  async claim(platform: string, eventId: string, now: number, leaseMs: number, payload: string | null = null): Promise<boolean> {
    const r = await this.db
      .insertInto('processed_events')
      .values({ platform, event_id: eventId, state: 'processing', claimed_at: now, payload })
      .onConflict((oc) => oc.columns(['platform', 'event_id']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    // Take over an abandoned claim: compare-and-set on the old claim time.
    const u = await this.db
      .updateTable('processed_events')
      .set({ claimed_at: now })
      .where('platform', '=', platform)
      .where('event_id', '=', eventId)
      .where('state', '=', 'processing')
      .where('claimed_at', '<', now - leaseMs)
      .executeTakeFirst();
    return Number(u.numUpdatedRows) > 0;
  }

  async complete(platform: string, eventId: string): Promise<void> {
    await this.db
      .updateTable('processed_events')
      .set({ state: 'done', payload: null })
      .where('platform', '=', platform)
      .where('event_id', '=', eventId)
      .execute();
  }

  /**
   * Events a dead process claimed but never finished (lease expired, message kept), oldest
   * first: what the next start answers.
   */
  async abandoned(now: number, leaseMs: number, limit: number): Promise<Array<{ platform: string; eventId: string; payload: string }>> {
    const rows = await this.db
      .selectFrom('processed_events')
      .select(['platform', 'event_id', 'payload'])
      .where('state', '=', 'processing')
      .where('payload', 'is not', null)
      .where('claimed_at', '<', now - leaseMs)
      .orderBy('claimed_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ platform: r.platform, eventId: r.event_id, payload: r.payload! }));
  }

  /** Forget events older than the longest platform redelivery window. */
  async prune(olderThan: number): Promise<number> {
    const r = await this.db.deleteFrom('processed_events').where('claimed_at', '<', olderThan).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
