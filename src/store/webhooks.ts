import { sql } from 'kysely';
import type { DB } from './db.js';

export interface WebhookDelivery {
  id: number;
  eventId: string;
  apiKeyId: string;
  event: string;
  /** The exact JSON body to POST (signed as-is). */
  payload: string;
  attempts: number;
  createdAt: number;
}

/** Disable a key's webhook after this many deliveries in a row failed (every attempt). */
export const WEBHOOK_DISABLE_AFTER = 5;

/**
 * The webhook outbox and the per-key failure counter. A delivery is `pending` until a receiver
 * answers 2xx (`delivered`), all attempts fail (`failed`), or the key's webhook is off (`dropped`).
 */
export class WebhookRepo {
  constructor(private db: DB) {}

  /** Queue an event once; a repeated event id is ignored (retries of the same event share it). */
  async enqueue(d: { eventId: string; apiKeyId: string; event: string; payload: string }, now: number): Promise<boolean> {
    const r = await this.db
      .insertInto('webhook_outbox')
      .values({ event_id: d.eventId, api_key_id: d.apiKeyId, event: d.event, payload: d.payload, state: 'pending', attempts: 0, next_attempt_at: now, last_error: null, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async due(now: number, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.db
      .selectFrom('webhook_outbox')
      .selectAll()
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, eventId: r.event_id, apiKeyId: r.api_key_id, event: r.event, payload: r.payload, attempts: r.attempts, createdAt: r.created_at }));
  }

  /** When the next pending delivery is due (for the sender's timer), or null. */
  async nextDueAt(): Promise<number | null> {
    const r = await this.db
      .selectFrom('webhook_outbox')
      .select((eb) => eb.fn.min('next_attempt_at').as('t'))
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  }

  async retryLater(id: number, attempts: number, at: number, error: string, now: number): Promise<void> {
    await this.db.updateTable('webhook_outbox').set({ attempts, next_attempt_at: at, last_error: error, updated_at: now }).where('id', '=', id).execute();
  }

  async finish(id: number, state: 'delivered' | 'failed' | 'dropped', attempts: number, error: string | null, now: number): Promise<void> {
    await this.db.updateTable('webhook_outbox').set({ state, attempts, last_error: error, updated_at: now }).where('id', '=', id).execute();
  }

  /** A delivery succeeded: the run of failures is over. */
  async resetFailures(apiKeyId: string): Promise<void> {
    await this.db.updateTable('api_keys').set({ webhook_failures: 0 }).where('id', '=', apiKeyId).execute();
  }

  /** A delivery failed for good; returns true when this failure disabled the key's webhook. */
  async countFailure(apiKeyId: string): Promise<boolean> {
    // RETURNING reads this update's own result, so of many concurrent failures exactly one sees
    // the count reach the threshold.
    const r = await this.db
      .updateTable('api_keys')
      .set({
        webhook_failures: sql<number>`webhook_failures + 1`,
        webhook_disabled: sql<number>`CASE WHEN webhook_failures + 1 >= ${WEBHOOK_DISABLE_AFTER} THEN 1 ELSE webhook_disabled END`,
      })
      .where('id', '=', apiKeyId)
      .returning(['webhook_failures', 'webhook_disabled'])
      .executeTakeFirst();
    return r?.webhook_disabled === 1 && r.webhook_failures === WEBHOOK_DISABLE_AFTER;
  }

  async forEvent(eventId: string) {
    return this.db.selectFrom('webhook_outbox').selectAll().where('event_id', '=', eventId).executeTakeFirst();
  }
}
