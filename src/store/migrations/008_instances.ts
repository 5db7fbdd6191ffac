import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Which processes are alive, so work a dead one claimed is taken over at once and work a live
 * one is doing is never stolen: every running instance heartbeats its row, and a claimed event
 * remembers the instance that owns it.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', s.epochMs, (c) => c.notNull())
    .addColumn('seen_at', s.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.alterTable('processed_events').addColumn('owner', 'text').execute();
  await db.schema.createIndex('processed_events_state').on('processed_events').columns(['state', 'claimed_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('instances').execute();
}
