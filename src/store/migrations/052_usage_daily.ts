import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Usage added up per UTC day, written for a day only once it is over (see `usage-rollup.ts`),
 * so a report reads a row per day and group instead of every turn of the range. `usage_days`
 * lists the days whose sums are complete; a day not listed is read from `usage` itself.
 * Unrecorded dimensions are '' (a unique key treats NULLs as distinct on both engines).
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('usage_daily')
    .addColumn('day', s.int64, (c) => c.notNull())
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('character_id', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('turns', s.int64, (c) => c.notNull())
    .addColumn('errors', s.int64, (c) => c.notNull())
    .addColumn('prompt_tokens', s.int64, (c) => c.notNull())
    .addColumn('completion_tokens', s.int64, (c) => c.notNull())
    .addColumn('credits', s.int64, (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_daily_pk', ['day', 'api_key_id', 'character_id', 'model', 'platform'])
    .execute();
  await db.schema.createIndex('usage_daily_key').on('usage_daily').columns(['api_key_id', 'day']).execute();
  await db.schema
    .createTable('usage_days')
    .addColumn('day', s.int64, (c) => c.primaryKey())
    .addColumn('rolled_ms', s.int64, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('usage_days').ifExists().execute();
  await db.schema.dropTable('usage_daily').ifExists().execute();
}
