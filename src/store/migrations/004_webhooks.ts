import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Webhook deliveries wait in an outbox until a receiver accepts them, so a restart loses none.
 * `event_id` is the X-Webhook-Id: the same on every retry, unique so an event is queued once.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('webhook_outbox')
    .$call(s.idColumn('id'))
    .addColumn('event_id', 'text', (c) => c.notNull().unique())
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', s.epochMs, (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', s.epochMs, (c) => c.notNull())
    .addColumn('updated_at', s.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhook_outbox_due').on('webhook_outbox').columns(['state', 'next_attempt_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_outbox').execute();
}
