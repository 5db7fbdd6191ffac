import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Two indexes no query uses any more, each written on every turn:
 * - `usage_key` (api_key_id, created_at): usage is read by key and `created_ms` since 006, through
 *   `usage_key_created_ms`.
 * - `processed_events_claimed` (claimed_at): the only query on `claimed_at` (housekeeping) also
 *   filters on state, which `processed_events_state` (state, claimed_at) serves.
 */
export async function up(db: Kysely<any>, _s: SchemaKit): Promise<void> {
  await db.schema.dropIndex('usage_key').ifExists().execute();
  await db.schema.dropIndex('processed_events_claimed').ifExists().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('usage_key').ifNotExists().on('usage').columns(['api_key_id', 'created_at']).execute();
  await db.schema.createIndex('processed_events_claimed').ifNotExists().on('processed_events').column('claimed_at').execute();
}
