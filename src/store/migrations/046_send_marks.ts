import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Notes an adapter keeps about a send still in progress that the platform cannot be asked about
 * after a crash (a Slack native stream carries no metadata until it stops), so the next attempt
 * at the same reply finishes what the dead one opened instead of showing the reply beside it.
 */
export async function up(db: Kysely<any>, kit: SchemaKit): Promise<void> {
  await db.schema
    .createTable('send_marks')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('at', kit.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('send_marks_at').on('send_marks').column('at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('send_marks').ifExists().execute();
}
