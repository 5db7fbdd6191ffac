import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Webhook deliveries are claimed before they are sent: `state` goes `pending` → `sending` with
 * the claiming process (`claim_owner`) and how long its claim lasts (`claim_until`), so two
 * processes on one database never POST the same delivery, and one that died mid-send leaves a
 * claim that expires and is retried under the same event id.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema.alterTable('webhook_outbox').addColumn('claim_owner', 'text').execute();
  await db.schema.alterTable('webhook_outbox').addColumn('claim_until', s.epochMs).execute();
  await db.schema.createIndex('webhook_outbox_key_state').on('webhook_outbox').columns(['api_key_id', 'state']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_outbox_key_state').execute();
  await db.schema.alterTable('webhook_outbox').dropColumn('claim_until').execute();
  await db.schema.alterTable('webhook_outbox').dropColumn('claim_owner').execute();
}
