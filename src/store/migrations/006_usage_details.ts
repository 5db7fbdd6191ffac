import { sql, type Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

const BACKFILL_BATCH = 500;

/**
 * Usage by model, platform and outcome, for the usage report (GET /api/v1/usage). A failed model
 * turn is a row too (`error_code` set, no tokens, no credits), so errors are counted where turns
 * are. `created_ms` (epoch ms, bigint) makes range and per-day queries plain integer arithmetic
 * on both SQLite and PostgreSQL; existing rows get it from `created_at` and their platform from
 * their conversation. Their model was never recorded and stays null.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema.alterTable('usage').addColumn('model', 'text').execute();
  await db.schema.alterTable('usage').addColumn('platform', 'text').execute();
  await db.schema.alterTable('usage').addColumn('error_code', 'text').execute();
  await db.schema.alterTable('usage').addColumn('created_ms', s.epochMs).execute();

  await db
    .updateTable('usage')
    .set({ platform: sql`(select c.platform from conversations c where c.id = usage.conversation_id)` })
    .execute();
  // ISO text → epoch ms has no portable SQL spelling, so the few old rows are converted here.
  for (;;) {
    const rows = await db.selectFrom('usage').select(['id', 'created_at']).where('created_ms', 'is', null).limit(BACKFILL_BATCH).execute();
    if (!rows.length) break;
    await db.transaction().execute(async (tx) => {
      for (const r of rows) {
        const ms = Date.parse(String(r.created_at));
        await tx.updateTable('usage').set({ created_ms: Number.isFinite(ms) ? ms : 0 }).where('id', '=', r.id).execute();
      }
    });
  }

  await db.schema.createIndex('usage_created_ms').on('usage').column('created_ms').execute();
  await db.schema.createIndex('usage_key_created_ms').on('usage').columns(['api_key_id', 'created_ms']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('usage_key_created_ms').execute();
  await db.schema.dropIndex('usage_created_ms').execute();
  for (const c of ['created_ms', 'error_code', 'platform', 'model']) await db.schema.alterTable('usage').dropColumn(c).execute();
}
