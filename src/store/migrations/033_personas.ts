import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Personas (how a user describes themselves, per platform user across their chats, or per API
 * key and user id) and the last turn's lorebook activation per conversation, for `/status` and
 * `?debug=lorebook`.
 */
export async function up(db: Kysely<any>, _s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('personas')
    .addColumn('user_key', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .addColumn('description', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('lore_activity')
    .addColumn('conversation_id', 'text', (c) => c.primaryKey())
    .addColumn('report_json', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('lore_activity').execute();
  await db.schema.dropTable('personas').execute();
}
