import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Which chat line a platform message waits in, and when it first arrived (its claim's time
 * changes when another instance takes it over): a chat's line kept in Redis is gone after a
 * Redis restart without its data, and the claims still unfinished in the database are what says
 * which of the chat's messages came first and still owe their replies.
 */
export async function up(db: Kysely<any>, kit: SchemaKit): Promise<void> {
  await db.schema.alterTable('processed_events').addColumn('chat_key', 'text').execute();
  await db.schema.alterTable('processed_events').addColumn('arrived_at', kit.epochMs).execute();
  await db.schema.createIndex('processed_events_chat').on('processed_events').columns(['chat_key', 'state', 'arrived_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('processed_events_chat').ifExists().execute();
  await db.schema.alterTable('processed_events').dropColumn('arrived_at').execute();
  await db.schema.alterTable('processed_events').dropColumn('chat_key').execute();
}
