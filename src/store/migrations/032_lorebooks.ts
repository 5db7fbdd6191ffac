import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Standalone lorebooks (tenant-owned like characters) and what they are attached to: a
 * character (every conversation with it) or one conversation. `book_json` is the normalized
 * lorebook model, so any supported import format exports again without loss.
 */
export async function up(db: Kysely<any>, _s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('lorebooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('book_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('lorebooks_owner').on('lorebooks').columns(['owner_id', 'name']).execute();
  await db.schema
    .createTable('lorebook_links')
    .addColumn('lorebook_id', 'text', (c) => c.notNull())
    /** 'character' or 'conversation'. */
    .addColumn('target_kind', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('lorebook_links_pk', ['lorebook_id', 'target_kind', 'target_id'])
    .execute();
  await db.schema.createIndex('lorebook_links_target').on('lorebook_links').columns(['target_kind', 'target_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('lorebook_links').execute();
  await db.schema.dropTable('lorebooks').execute();
}
