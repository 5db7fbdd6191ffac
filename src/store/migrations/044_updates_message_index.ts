import type { Kysely } from 'kysely';

/**
 * A message goes on an updates feed at most once: an append looks for the message first (see
 * `UpdateRepo.append`), and this index keeps that lookup to one probe however long the feed is.
 * A turn finished again by another instance after a crash (its stored reply reused) would
 * otherwise put the same reply on the feed twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('updates_message_id').on('updates').column('message_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('updates_message_id').ifExists().execute();
}
