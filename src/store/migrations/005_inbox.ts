import type { Kysely } from 'kysely';

/**
 * A durable inbox: a claimed platform event keeps its normalized message until its turn is done,
 * so a process that dies mid-turn leaves enough behind for the next start to answer it. Messages
 * remember the event that produced them, so re-running that event never stores the user's line twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('processed_events').addColumn('payload', 'text').execute();
  await db.schema.alterTable('messages').addColumn('source_event', 'text').execute();
  await db.schema.createIndex('messages_source_event').unique().on('messages').column('source_event').execute();
}

export async function down(): Promise<void> {}
