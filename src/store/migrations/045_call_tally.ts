import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Calls a platform limits per app over a minute or more (Slack's method tiers), one row per call,
 * so a single instance that restarts still knows what it spent before: counted only in memory,
 * every restart began a fresh minute that the platform had not, and a crash loop drew 429s.
 */
export async function up(db: Kysely<any>, kit: SchemaKit): Promise<void> {
  await db.schema
    .createTable('call_tally')
    .$call(kit.idColumn())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('at', kit.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('call_tally_name_at').on('call_tally').columns(['name', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('call_tally').ifExists().execute();
}
