import type { Kysely } from 'kysely';

/**
 * Housekeeping deletes webhook deliveries that ended a while ago (`WebhookRepo.prune`: a final
 * state and `updated_at` past the window). `webhook_outbox (state, updated_at)` makes that hourly
 * delete read only the rows past the window. An index on `updated_at` alone would not do on
 * SQLite: without statistics its planner prefers the equality on `state` and reads every finished
 * row through `webhook_outbox_due (state, next_attempt_at)`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('webhook_outbox_state_updated').on('webhook_outbox').columns(['state', 'updated_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_outbox_state_updated').ifExists().execute();
}
